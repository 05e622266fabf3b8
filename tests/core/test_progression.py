"""Progressions: the diatonic triads of a key by scale degree, a chord a bar on the bar clock, and what a user
may type for one."""

from __future__ import annotations

import numpy as np
import pytest

from lmd_studio.core.musical_key import Key, parse_key
from lmd_studio.core.progression import (
    PROGRESSIONS,
    chord_for_bar,
    chord_name,
    degree_triad,
    frame_bars,
    knob_label,
    parse_progression,
    progression_chroma,
    progression_from_knob,
    roman_numerals,
)


def _names(key: str, knob: int, bars: int = 4) -> list[str]:
    prog = progression_from_knob(knob)
    assert prog is not None
    return [chord_name(chord_for_bar(parse_key(key), prog, b)) for b in range(bars)]


def test_the_same_degrees_make_the_keys_own_chords() -> None:
    assert _names("C major", 1) == ["C", "G", "Am", "F"]  # I–V–vi–IV
    assert _names("G major", 1) == ["G", "D", "Em", "C"]
    assert _names("A minor", 1) == ["Am", "Em", "F", "Dm"]  # natural minor: i–v–VI–iv
    assert _names("C major", 5) == ["Dm", "G", "C", "C"]  # ii–V–I–I
    assert [chord_name(degree_triad(Key(0, False), d)) for d in range(1, 8)] == \
        ["C", "Dm", "Em", "F", "G", "Am", "B°"]
    assert roman_numerals(Key(9, True), progression_from_knob(1)) == "i–v–VI–iv"
    assert roman_numerals(Key(0, False), progression_from_knob(5)) == "ii–V–I–I"
    blues = progression_from_knob(7)
    assert blues is not None and len(blues.degrees) == 12
    assert [chord_name(chord_for_bar(Key(7, False), blues, b)) for b in (0, 4, 8, 12)] == ["G", "C", "D", "G"]


def test_bars_of_frames_change_exactly_on_the_bar_line() -> None:
    # 120 bpm, 4/4 = 2-s bars; 10 frames a second: bar lines at frames 20, 40…
    bars = frame_bars(0.0, 45, 10.0, 120.0, 4)
    assert list(np.flatnonzero(np.diff(bars)) + 1) == [20, 40] and bars[0] == 0 and bars[-1] == 2
    # started 3.5 beats into bar 6 (the engine's reading), 0.2 beats a frame
    told = frame_bars(3.5, 4, 10.0, 120.0, 4, first_bar=6)
    assert list(told) == [6, 6, 6, 7]  # 3.5, 3.7, 3.9 beats, then 4.1: bar 7
    assert list(frame_bars(3.6, 3, 10.0, 120.0, 4, first_bar=6)) == [6, 6, 7]  # 4.0 is the line itself
    assert list(frame_bars(0.0, 31, 10.0, 90.0, 3)) == [0] * 20 + [1] * 11  # 3/4 at 90 bpm: 2-s bars
    with pytest.raises(ValueError, match="tempo"):
        frame_bars(0.0, 4, 10.0, 0.0, 4)


def test_each_frame_hears_its_bars_triad() -> None:
    prog = progression_from_knob(1)
    assert prog is not None
    chroma = progression_chroma(Key(0, False), prog, np.array([0, 0, 1, 3]))
    assert chroma.shape == (4, 12) and chroma.dtype == np.float32
    assert list(np.flatnonzero(chroma[0])) == [0, 4, 7]  # C
    assert list(np.flatnonzero(chroma[2])) == [2, 7, 11]  # G
    assert list(np.flatnonzero(chroma[3])) == [0, 5, 9]  # F
    assert set(np.unique(chroma)) == {0.0, 1.0}


def test_knob_and_typed_names() -> None:
    assert PROGRESSIONS[0] is None and knob_label(0) == "off" and knob_label(2) == "I–vi–IV–V"
    assert progression_from_knob(99) == PROGRESSIONS[-1] and progression_from_knob(-3) is None
    assert parse_progression("I-V-vi-IV") == 1 and parse_progression("12-bar blues") == 7
    assert parse_progression("0") == 0 and parse_progression("off") == 0 and parse_progression(" ii–V–I–I ") == 5
    with pytest.raises(ValueError, match="I–V–vi–IV"):  # the message lists the choices
        parse_progression("I-II-III")


def test_playing_state_says_the_chords_or_why_not() -> None:
    from lmd_studio.core.progression import playing_state

    assert playing_state(0, Key(0, False), True)[0] == "off"
    assert playing_state(2, None, True)[0] == "I–vi–IV–V (set a key)"
    assert playing_state(2, Key(0, False), False)[0] == "I–vi–IV–V (set a tempo)"
    label, detail = playing_state(2, Key(2, True), True)
    assert label == "I–vi–IV–V" and detail.startswith("In D minor: Dm B♭ Gm Am (i–VI–iv–v)")
    assert playing_state(1, Key(10, False), True)[1].startswith("In B♭ major: B♭ F Gm E♭")


def test_chord_roots_are_spelt_in_the_keys_signature() -> None:
    def spelt(key: str) -> list[str]:
        k = parse_key(key)
        return [chord_name(degree_triad(k, d), k) for d in range(1, 8)]

    assert spelt("E major") == ["E", "F♯m", "G♯m", "A", "B", "C♯m", "D♯°"]
    assert spelt("E♭ major") == ["E♭", "Fm", "Gm", "A♭", "B♭", "Cm", "D°"]
    assert spelt("F minor") == ["Fm", "G°", "A♭", "B♭m", "Cm", "D♭", "E♭"]
    assert spelt("C♯ minor") == ["C♯m", "D♯°", "E", "F♯m", "G♯m", "A", "B"]
    assert spelt("F♯ major")[:2] == ["F♯", "G♯m"] and spelt("E♭ minor")[:2] == ["E♭m", "F°"]
    assert spelt("C major") == ["C", "Dm", "Em", "F", "G", "Am", "B°"]
