"""The musical clock against beat and bar positions computed by hand."""

from __future__ import annotations

import numpy as np
import pytest

from lmd_studio.core.musical_clock import (
    CLOCK_CHANNELS,
    TempoMap,
    TempoSegment,
    clock_channels,
    stream_clock_channels,
)


def test_constant_tempo_beats_and_bars() -> None:
    m = TempoMap.constant(120.0)  # a beat every 0.5 s, a 4/4 bar every 2 s
    np.testing.assert_allclose(m.beats_at([0.0, 0.25, 0.5, 2.0, 3.75]), [0.0, 0.5, 1.0, 4.0, 7.5])
    np.testing.assert_allclose(m.bar_phase_at([0.0, 0.5, 1.0, 2.0, 3.0]), [0.0, 0.25, 0.5, 0.0, 0.5])
    np.testing.assert_allclose(m.downbeats_s(0.0, 8.0), [0.0, 2.0, 4.0, 6.0], atol=1e-9)


def test_a_clip_that_starts_on_beat_three() -> None:
    m = TempoMap.constant(60.0, origin_beats=2.0)  # 1 beat/s; t=0 is beat 3 of bar 1
    np.testing.assert_allclose(m.bar_phase_at([0.0, 1.0, 2.0]), [0.5, 0.75, 0.0])
    np.testing.assert_allclose(m.downbeats_s(0.0, 7.0), [2.0, 6.0], atol=1e-9)


def test_tempo_change_keeps_the_position_continuous() -> None:
    # 120 bpm for 2 s (4 beats = one bar), then 60 bpm: beat 4 at 2 s, beat 5 at 3 s, bar 2 ends at 6 s
    m = TempoMap((TempoSegment(0.0, 120.0), TempoSegment(2.0, 60.0)))
    np.testing.assert_allclose(m.beats_at([1.999999, 2.0, 3.0, 6.0]), [3.999998, 4.0, 5.0, 8.0], atol=1e-6)
    np.testing.assert_allclose(m.bar_phase_at([2.5, 4.0, 6.0]), [0.125, 0.5, 0.0])
    assert m.bpm_at(1.0) == 120.0 and m.bpm_at(2.0) == 60.0
    np.testing.assert_allclose(m.downbeats_s(0.0, 10.5), [0.0, 2.0, 6.0, 10.0], atol=1e-9)


def test_a_three_four_bar_after_four_four() -> None:
    # 4/4 at 120 bpm for one bar (2 s), then 3/4 at 120: bars of 1.5 s start at 2.0, 3.5, 5.0
    m = TempoMap((TempoSegment(0.0, 120.0, 4), TempoSegment(2.0, 120.0, 3)))
    np.testing.assert_allclose(m.downbeats_s(0.0, 5.2), [0.0, 2.0, 3.5, 5.0], atol=1e-9)
    np.testing.assert_allclose(m.bar_phase_at([2.5, 3.0, 3.5]), [1 / 3, 2 / 3, 0.0], atol=1e-12)
    assert m.bar_s_at(1.0) == pytest.approx(2.0) and m.bar_s_at(4.0) == pytest.approx(1.5)


def test_clock_channels() -> None:
    m = TempoMap.constant(120.0)
    ch = clock_channels(m, np.array([0.0, 0.125, 0.5, 1.0]))
    assert ch.shape == (4, CLOCK_CHANNELS) and ch.dtype == np.float32
    np.testing.assert_allclose(ch[:, 0], [0.0, 1.0, 0.0, 0.0], atol=1e-6)  # sin of beat phase 0, ¼, 0, 0
    np.testing.assert_allclose(ch[:, 3], [1.0, np.cos(2 * np.pi / 16), 0.0, -1.0], atol=1e-6)  # cos of bar phase
    np.testing.assert_array_equal(ch[:, 4], 0.0)  # log2(120 / 120)
    np.testing.assert_array_equal(ch[:, 5], 1.0)
    slow = clock_channels(TempoMap((TempoSegment(0.0, 120.0), TempoSegment(1.0, 60.0))), np.array([0.5, 1.5]))
    np.testing.assert_allclose(slow[:, 4], [0.0, -1.0])
    assert not clock_channels(None, np.arange(3.0)).any()  # unknown clock: all zero, "given" 0 too


def test_bad_maps_are_refused() -> None:
    with pytest.raises(ValueError, match="increasing"):
        TempoMap((TempoSegment(1.0, 120.0), TempoSegment(1.0, 100.0)))
    with pytest.raises(ValueError, match="tempo"):
        TempoSegment(0.0, 5.0)
    with pytest.raises(ValueError, match="at least one"):
        TempoMap(())


def test_stream_clock_runs_on_across_blocks_like_the_tempo_map() -> None:
    """Block by block from a beat count (what the generator's state carries) equals the whole map, across a
    tempo change at a block boundary; no tempo gives zeros and the count stands still."""
    rate = 20.0  # latent frames per second
    a, beats = stream_clock_channels(0.0, 40, rate, 120.0)  # 2 s = 4 beats
    b, beats2 = stream_clock_channels(beats, 40, rate, 60.0)  # then 2 s at 60 bpm = 2 beats
    assert beats == 4.0 and beats2 == 6.0
    whole = clock_channels(TempoMap((TempoSegment(0.0, 120.0), TempoSegment(2.0, 60.0))), np.arange(80) / rate)
    np.testing.assert_allclose(np.concatenate([a, b]), whole, atol=1e-6)
    waltz, _ = stream_clock_channels(0.0, 60, rate, 60.0, beats_per_bar=3)
    np.testing.assert_allclose(waltz[::20, 3], [1.0, np.cos(2 * np.pi / 3), np.cos(4 * np.pi / 3)], atol=1e-6)
    none, same = stream_clock_channels(2.5, 10, rate, None)
    assert not none.any() and same == 2.5
