"""Musical keys as values: a tonic pitch class and a mode, parsed from what a musician writes ("A minor").

Shared by the command line (`--key`), the evaluation's key detector (dsp/tonality.py), the studio's key
knob (0..11 = C..B major, 12..23 = C..B minor) and the model's pitch-salience input: a key asked for becomes
its key profile (`Key.chroma_profile`), a chord held on a keyboard stays a chord.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

PITCH_CLASSES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")  # what parse_key reads
# How the studio writes a pitch class (note names, chord roots): the spelling of the common keys' scales.
NOTE_NAMES = ("C", "C♯", "D", "E♭", "E", "F", "F♯", "G", "A♭", "A", "B♭", "B")
# Within a key, its signature decides: sharps in sharp keys, flats in flat keys (so D♭ and B♭ major, C♯
# and G♯ minor, not C♯ or A♯ major, D♭ or A♭ minor).
_SHARP_NAMES = ("C", "C♯", "D", "D♯", "E", "F", "F♯", "G", "G♯", "A", "A♯", "B")
_FLAT_NAMES = ("C", "D♭", "D", "E♭", "E", "F", "G♭", "G", "A♭", "A", "B♭", "B")
_FLATS = {"Db": 1, "Eb": 3, "Gb": 6, "Ab": 8, "Bb": 10, "Cb": 11, "Fb": 4}
KEY_KNOB_MAX = 23  # the key knob: tonic + 12 for minor

# The average pitch salience of a ~11-s window of our corpus in a major / minor key, rotated to the tonic
# and max-normalised (measured on corpus-full2's training split: 3,137 major and 1,369 minor windows of
# score renders, mixes and produced tracks with a known key; /work/runs/scripts/key_profile.py). This is the
# shape the model sees when training shows it a window's key instead of its chords (training/controls.py),
# so the knob sends what the model learnt a key looks like. Entropy ≈ 1.9 nats against ≈ 1.2 for a chord.
MAJOR_PROFILE = (1.00, 0.04, 0.54, 0.04, 0.63, 0.47, 0.05, 0.80, 0.05, 0.43, 0.11, 0.30)
MINOR_PROFILE = (1.00, 0.12, 0.47, 0.72, 0.09, 0.58, 0.07, 0.77, 0.37, 0.13, 0.46, 0.17)


@dataclass(frozen=True, slots=True)
class Key:
    tonic: int  # pitch class 0..11, C = 0
    minor: bool

    def __post_init__(self) -> None:
        if not 0 <= self.tonic < 12:
            raise ValueError(f"tonic must be a pitch class 0..11, got {self.tonic}")

    @property
    def tonic_name(self) -> str:
        return self.note_name(self.tonic)

    def note_name(self, pitch_class: int) -> str:
        """A pitch class spelt the way this key's signature spells it: G♯ in E major, A♭ in E♭ major."""
        relative_major = (self.tonic + 3) % 12 if self.minor else self.tonic
        fifths = (7 * relative_major) % 12  # 1..5 sharps, 7..11 = 5..1 flats, 6 either way
        if fifths == 0:
            return NOTE_NAMES[pitch_class % 12]
        sharps = fifths < 6 or (fifths == 6 and not self.minor)  # six: F♯ major, E♭ minor
        return (_SHARP_NAMES if sharps else _FLAT_NAMES)[pitch_class % 12]

    @property
    def name(self) -> str:
        """'B♭ major', 'C♯ minor' (parse_key reads it back)."""
        return f"{self.tonic_name} {'minor' if self.minor else 'major'}"

    @property
    def relative(self) -> Key:
        return Key((self.tonic + 3) % 12, False) if self.minor else Key((self.tonic + 9) % 12, True)

    @property
    def short_name(self) -> str:
        """'C', 'F♯m': what a knob has room for."""
        return self.tonic_name + ("m" if self.minor else "")

    @property
    def knob_value(self) -> int:
        """The studio's key knob position: 0..11 major, 12..23 minor."""
        return self.tonic + 12 * self.minor

    @classmethod
    def from_knob(cls, value: float) -> Key:
        v = int(round(value)) % (KEY_KNOB_MAX + 1)
        return cls(v % 12, v >= 12)

    def chroma_profile(self) -> tuple[float, ...]:
        """12 pitch-class saliences (C first) of music in this key: the profile rotated to the tonic."""
        profile = MINOR_PROFILE if self.minor else MAJOR_PROFILE
        return tuple(profile[(pc - self.tonic) % 12] for pc in range(12))

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
