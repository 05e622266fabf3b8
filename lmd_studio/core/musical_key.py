"""Musical keys as values: a tonic pitch class and a mode, parsed from what a musician writes ("A minor").

Shared by the command line (`--key`), the evaluation's key detector (dsp/tonality.py) and the model's
pitch-salience input (a key asked for becomes its tonic triad).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

PITCH_CLASSES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
_FLATS = {"Db": 1, "Eb": 3, "Gb": 6, "Ab": 8, "Bb": 10, "Cb": 11, "Fb": 4}


@dataclass(frozen=True, slots=True)
class Key:
    tonic: int  # pitch class 0..11, C = 0
    minor: bool

    def __post_init__(self) -> None:
        if not 0 <= self.tonic < 12:
            raise ValueError(f"tonic must be a pitch class 0..11, got {self.tonic}")

    @property
    def name(self) -> str:
        return f"{PITCH_CLASSES[self.tonic]} {'minor' if self.minor else 'major'}"

    @property
    def relative(self) -> Key:
        return Key((self.tonic + 3) % 12, False) if self.minor else Key((self.tonic + 9) % 12, True)

    def triad_notes(self, octave_base: int = 48, velocity: int = 100) -> tuple[tuple[int, int], ...]:
        """The tonic triad as held MIDI notes (root, third, fifth) from the octave starting at `octave_base`."""
        root = octave_base + self.tonic
        return tuple((n, velocity) for n in (root, root + (3 if self.minor else 4), root + 7))


_KEY_RE = re.compile(r"^\s*([A-Ga-g])([#b♯♭]?)\s*(major|minor|maj|min|m|M)?\s*$")


def parse_key(text: str) -> Key:
    """'A minor', 'C# major', 'Bb', 'F#m' → Key. Raises ValueError with the accepted forms."""
    m = _KEY_RE.match(text or "")
    if not m:
        raise ValueError(f"'{text}' is not a key: write e.g. 'A minor', 'C# major', 'Bb major' or 'F#m'")
    letter, accidental, mode = m.group(1).upper(), m.group(2), m.group(3) or "major"
    accidental = {"♯": "#", "♭": "b"}.get(accidental, accidental)
    name = letter + accidental
    tonic = _FLATS[name] if name in _FLATS else (PITCH_CLASSES.index(name) if name in PITCH_CLASSES
                                                 else (PITCH_CLASSES.index(letter) + 1) % 12)
    return Key(tonic, mode in ("minor", "min", "m"))
