"""The tonal meters on chords we synthesised: key, and whether harmony moves."""

from __future__ import annotations

import numpy as np
import pytest

from lmd_studio.dsp.tonality import (
    Key,
    chord_match_rate,
    chromagram,
    estimate_key,
    estimate_triad,
    harmony_change_rate,
    parse_key,
)

SR = 22050


def _note(midi: int, seconds: float) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    f = 440.0 * 2 ** ((midi - 69) / 12)
    return sum(0.2 / h * np.sin(2 * np.pi * f * h * t) for h in range(1, 6)) * np.exp(-1.5 * t)


def _progression(chords: list[list[int]], bar_s: float = 2.0, repeat: int = 3) -> np.ndarray:
    return np.concatenate([sum(_note(m, bar_s) for m in c) for c in chords * repeat])


def test_key_of_cadences_in_several_keys() -> None:
    c_major = [[48, 60, 64, 67], [53, 60, 65, 69], [55, 59, 62, 67], [48, 60, 64, 67]]
    for shift in (0, 2, 7, 10):  # C, D, G, Bb major
        audio = _progression([[m + shift for m in c] for c in c_major])
        key, corr = estimate_key(chromagram(audio, SR))
        assert key == Key(shift, False), key.name
        assert corr > 0.5
    a_minor = [[57, 60, 64, 69], [50, 62, 65, 69], [52, 56, 59, 64], [57, 60, 64, 69]]
    assert estimate_key(chromagram(_progression(a_minor), SR))[0] == Key(9, True)


def test_a_progression_moves_and_a_restruck_chord_does_not() -> None:
    moving = _progression([[48, 60, 64, 67], [53, 60, 65, 69], [55, 59, 62, 67], [45, 60, 64, 69]])
    static = _progression([[48, 60, 64, 67]] * 4)
    rate_moving = harmony_change_rate(chromagram(moving, SR), bar_s=2.0)
    rate_static = harmony_change_rate(chromagram(static, SR), bar_s=2.0)
    assert rate_static < 1e-3
    assert rate_moving > 20 * max(rate_static, 1e-4)
    assert np.isnan(harmony_change_rate(chromagram(static[: SR], SR), bar_s=2.0))  # under two bars


@pytest.mark.parametrize(("text", "name"), [("A minor", "A minor"), ("C# major", "D♭ major"),
                                            ("Bb", "B♭ major"), ("F#m", "F♯ minor"), ("eb minor", "E♭ minor")])
def test_parse_key(text: str, name: str) -> None:
    assert parse_key(text).name == name


def test_parse_key_rejects_nonsense_with_the_accepted_forms() -> None:
    with pytest.raises(ValueError, match="A minor"):
        parse_key("H dorian")
    assert Key(9, True).relative == Key(0, False)


def _chord_audio(chords: list[tuple[int, bool]], bar_s: float, sr: int = 22050) -> np.ndarray:
    out = []
    t = np.arange(int(bar_s * sr)) / sr
    for root, minor in chords:
        notes = (root + 48, root + 48 + (3 if minor else 4), root + 48 + 7)
        out.append(sum(np.sin(2 * np.pi * 440.0 * 2 ** ((n - 69) / 12) * t) for n in notes))
    return np.concatenate(out).astype(np.float32)


def test_triads_are_recognised_and_a_progression_is_followed_bar_by_bar() -> None:
    sr, bar_s = 22050, 1.5
    asked = [(0, False), (9, True), (5, False), (7, False)]  # C Am F G
    chroma = chromagram(_chord_audio(asked, bar_s, sr), sr)
    keys = [Key(r, m) for r, m in asked]
    assert chord_match_rate(chroma, bar_s, keys) == 1.0
    assert chord_match_rate(chroma, bar_s, [Key(0, False)] * 4) == 0.0  # asked C every bar: only bar 0 plays it
    held_on_c = chromagram(_chord_audio([(0, False)] * 4, bar_s, sr), sr)
    assert chord_match_rate(held_on_c, bar_s, keys) == 0.0  # a re-struck tonic does not follow
    assert estimate_triad(np.zeros(12)) is None
    a_minor = np.zeros(12)
    a_minor[[9, 0, 4]] = 1.0
    assert estimate_triad(a_minor) == Key(9, True)


def _harmonic_cadence(tonic: int, minor: bool, sr: int) -> np.ndarray:
    """I–IV–V–I (i–iv–V–i) on tones with ten harmonics (1/h), two seconds a chord."""
    def tone(midi: int) -> np.ndarray:
        t = np.arange(sr) / sr
        f = 440.0 * 2 ** ((midi - 69) / 12)
        return sum(np.sin(2 * np.pi * f * h * t) / h for h in range(1, 11) if f * h < sr / 2)
    third = 3 if minor else 4
    chords = [(0, third, 7), (5, 5 + third, 12), (7, 11, 14), (0, third, 7)]
    x = np.concatenate([sum(tone(48 + tonic + n) for n in c) for c in chords for _ in range(2)])
    return x / np.abs(x).max()


@pytest.mark.parametrize(("tonic", "minor"), [(0, False), (7, False), (10, False), (9, True), (2, True)])
def test_audio_profiles_find_the_key_of_harmonic_rich_tones(tonic: int, minor: bool) -> None:
    key, corr = estimate_key(chromagram(_harmonic_cadence(tonic, minor, 22050), 22050))
    assert key == Key(tonic, minor) and corr > 0.8
