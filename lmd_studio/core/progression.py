"""Chord progressions in the key on the key knob, one chord a bar on the studio's bar clock.

Why: a model asked only for a key keeps its harmony too still (Model v2 at LMDM: 0.044 chord changes a bar
against 0.125 in the real clips) but follows a held chord in most bars (0.78). So the studio can move the
harmony itself, as a keyboard player would: the Progression knob picks one of a few common progressions,
written as scale degrees, and the model hears each bar's triad as it hears a held chord — in the key set on
the key knob, changing exactly on the engine's bar lines (model/conditioning.py turns each latent frame's
bar into its chord). Held keyboard notes still win; a key left on "auto" or no tempo leaves it silent.

Degrees are 1..7 of the key's scale: major, or natural minor for a minor key, with the triad stacked in
thirds inside that scale, so "1 5 6 4" is C G Am F in C major and Am Em F Dm in A minor.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from lmd_studio.core.musical_key import NOTE_NAMES, Key

MAJOR_SCALE = (0, 2, 4, 5, 7, 9, 11)
NATURAL_MINOR_SCALE = (0, 2, 3, 5, 7, 8, 10)
_ROMAN = ("I", "II", "III", "IV", "V", "VI", "VII")


@dataclass(frozen=True, slots=True)
class Progression:
    name: str  # what the knob shows
    degrees: tuple[int, ...]  # one scale degree (1..7) per bar, repeated

    def __post_init__(self) -> None:
        if not self.degrees or not all(1 <= d <= 7 for d in self.degrees):
            raise ValueError(f"progression {self.name!r}: degrees must be 1..7, got {self.degrees}")


# Index 0 is "off": the knob's default, so a studio that never touches it plays as before.
PROGRESSIONS: tuple[Progression | None, ...] = (
    None,
    Progression("I–V–vi–IV", (1, 5, 6, 4)),
    Progression("I–vi–IV–V", (1, 6, 4, 5)),
    Progression("vi–IV–I–V", (6, 4, 1, 5)),
    Progression("I–IV–V–IV", (1, 4, 5, 4)),
    Progression("ii–V–I–I", (2, 5, 1, 1)),
    Progression("I–IV–I–V", (1, 4, 1, 5)),
    Progression("12-bar blues", (1, 1, 1, 1, 4, 4, 1, 1, 5, 4, 1, 5)),
)
PROGRESSION_KNOB_MAX = len(PROGRESSIONS) - 1


def progression_from_knob(value: float) -> Progression | None:
    """The progression at a knob position (0 = off; out of range clamps)."""
    return PROGRESSIONS[max(0, min(PROGRESSION_KNOB_MAX, int(round(value))))]


def knob_label(value: float) -> str:
    found = progression_from_knob(value)
    return "off" if found is None else found.name


def degree_triad(key: Key, degree: int) -> tuple[int, int, int]:
    """Pitch classes (root, third, fifth) of the diatonic triad on `degree` (1..7) of `key`."""
    if not 1 <= degree <= 7:
        raise ValueError(f"scale degree must be 1..7, got {degree}")
    scale = NATURAL_MINOR_SCALE if key.minor else MAJOR_SCALE
    steps = [scale[(degree - 1 + 2 * k) % 7] for k in range(3)]
    return tuple((key.tonic + s) % 12 for s in steps)  # type: ignore[return-value]


def chord_for_bar(key: Key, progression: Progression, bar_index: int) -> tuple[int, int, int]:
    """The triad the progression plays in bar `bar_index` (0-based, cycling)."""
    return degree_triad(key, progression.degrees[bar_index % len(progression.degrees)])


def chord_name(triad: tuple[int, int, int], key: Key | None = None) -> str:
    """'C', 'Am', 'B°' from a triad's pitch classes (root first); the root spelt as `key` spells it (G♯m in E
    major, not A♭m), else the studio's default note names."""
    root, third, fifth = triad
    minor_third = (third - root) % 12 == 3
    diminished = minor_third and (fifth - root) % 12 == 6
    root_name = key.note_name(root) if key is not None else NOTE_NAMES[root]
    return root_name + ("°" if diminished else "m" if minor_third else "")


def roman_numerals(key: Key, progression: Progression) -> str:
    """The progression as this key plays it ("i–v–VI–iv" in a minor key): case = chord quality."""
    names = []
    for degree in progression.degrees:
        root, third, fifth = degree_triad(key, degree)
        numeral = _ROMAN[degree - 1]
        minor_third = (third - root) % 12 == 3
        names.append(numeral.lower() + ("°" if (fifth - root) % 12 == 6 else "") if minor_third else numeral)
    return "–".join(names)


def playing_state(value: float, key: Key | None, has_tempo: bool) -> tuple[str, str]:
    """(what the knob shows, its tooltip line) for the studio: the preset, and either the chords it plays in
    this key or why it is silent (`key` None: the key knob is on Auto)."""
    found = progression_from_knob(value)
    if found is None:
        return "off", "Off: the harmony is the model's (or the chord you hold)."
    if key is None:
        return f"{found.name} (set a key)", "Silent: set the Key knob (not Auto) for the progression to play in."
    if not has_tempo:
        return f"{found.name} (set a tempo)", "Silent: set a tempo (Tempo not on Auto); the chords change on its bars."
    chords = " ".join(chord_name(chord_for_bar(key, found, bar), key) for bar in range(len(found.degrees)))
    return found.name, f"In {key.name}: {chords} ({roman_numerals(key, found)}), one chord a bar."


def frame_bars(start_beats: float, n_frames: int, frame_rate_hz: float, bpm: float, beats_per_bar: int,
               first_bar: int = 0) -> np.ndarray:
    """The bar index (int64) of each of `n_frames` frames at a constant tempo: the first frame sits
    `start_beats` after the downbeat of bar `first_bar` (a count of many bars works too: the bars run on)."""
    if not (math.isfinite(bpm) and bpm > 0 and beats_per_bar >= 1 and frame_rate_hz > 0):
        raise ValueError(f"need a positive tempo, rate and meter, got {bpm} bpm, {frame_rate_hz} Hz, "
                         f"{beats_per_bar} beats a bar")
    beats = start_beats + bpm / 60.0 / frame_rate_hz * np.arange(n_frames, dtype=np.float64)
    # a frame a rounding error short of a bar line belongs to the new bar (the line is where the chord changes)
    return first_bar + np.floor(beats / beats_per_bar + 1e-9).astype(np.int64)


def progression_chroma(key: Key, progression: Progression, bars: np.ndarray) -> np.ndarray:
    """[len(bars), 12] float32: each frame's chord as the model hears a held chord (its three pitch classes
    at equal weight, max-normalised), from the bar it is in."""
    out = np.zeros((len(bars), 12), dtype=np.float32)
    for bar in np.unique(bars):
        out[np.ix_(bars == bar, list(chord_for_bar(key, progression, int(bar))))] = 1.0
    return out


def parse_progression(text: str) -> int:
    """A knob position from what a user writes: a preset's number (0 = off), its name ("I–V–vi–IV", with
    plain hyphens too) or "off". Raises ValueError listing the choices."""
    t = (text or "").strip()
    if t.isdigit() and 0 <= int(t) <= PROGRESSION_KNOB_MAX:
        return int(t)
    def plain(name: str) -> str:  # en dashes or hyphens, any spacing, any case
        return name.replace("–", "-").replace(" ", "").lower()

    for i, prog in enumerate(PROGRESSIONS):
        if plain("off" if prog is None else prog.name) == plain(t):
            return i
    choices = ", ".join(f"{i} = {'off' if p is None else p.name}" for i, p in enumerate(PROGRESSIONS))
    raise ValueError(f"'{text}' is not a progression: give one of {choices}")
