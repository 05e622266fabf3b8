from __future__ import annotations

import numpy as np
import pytest

from lmd_studio.app.timeline_model import SPEC_FLOOR_DB, TimelineConfig, TimelineModel

RATE = 48000


def _model(**kw) -> TimelineModel:
    return TimelineModel(TimelineConfig(RATE, history_s=kw.pop("history_s", 20.0), **kw))


def test_peaks_match_the_audio_exactly() -> None:
    rng = np.random.default_rng(1)
    tl = _model()
    audio = rng.uniform(-1, 1, size=(RATE, 2)).astype(np.float32)
    pos = 0
    for block in np.array_split(audio, 7):  # blocks that do not line up with the columns
        tl.on_block(pos, block, 0, False)
        pos += len(block)
    w = tl.waveform(0, RATE, max_columns=10_000)
    b = tl.config.peak_frames
    n = RATE // b
    assert w.first_column == 0 and w.frames_per_column == b and len(w.mins) >= n
    expect_lo = audio[: n * b].min(axis=1).reshape(n, b).min(axis=1)
    expect_hi = audio[: n * b].max(axis=1).reshape(n, b).max(axis=1)
    np.testing.assert_array_equal(w.mins[:n], expect_lo)
    np.testing.assert_array_equal(w.maxs[:n], expect_hi)


def test_grouped_columns_keep_the_extremes() -> None:
    tl = _model()
    audio = np.zeros((RATE, 1), np.float32)
    audio[12345] = 0.9
    audio[30000] = -0.7
    tl.on_block(0, audio, 0, False)
    w = tl.waveform(0, RATE, max_columns=20)
    assert len(w.mins) <= 21 and w.maxs.max() == pytest.approx(0.9) and w.mins.min() == pytest.approx(-0.7)
    col = 12345 // w.frames_per_column - w.first_column
    assert w.maxs[col] == pytest.approx(0.9)


def test_a_splice_replaces_everything_after_it() -> None:
    tl = _model()
    tl.on_block(0, np.full((RATE, 2), 0.5, np.float32), 0, False)
    tl.on_block(RATE, np.full((RATE, 2), 0.5, np.float32), 1, False)
    assert [p for p, _ in tl.boundaries(0, 10 * RATE)] == [0, RATE]
    tl.on_block(RATE // 2, np.full((RATE // 4, 2), -0.25, np.float32), 0, True)  # spliced tail
    assert tl.end_position == RATE // 2 + RATE // 4
    assert [p for p, _ in tl.boundaries(0, 10 * RATE)] == [0]  # block 1 was regenerated away
    w = tl.waveform(0, 2 * RATE, 100_000)
    b = tl.config.peak_frames
    after = (RATE // 2) // b + 1
    assert w.maxs[after] == pytest.approx(-0.25) and len(w.maxs) == -(-tl.end_position // b)


def test_spectrum_puts_a_sine_in_the_right_band() -> None:
    tl = _model(spec_bands=48)
    t = np.arange(2 * RATE) / RATE
    sine = (0.5 * np.sin(2 * np.pi * 1000.0 * t)).astype(np.float32)[:, None]
    for i, block in enumerate(np.array_split(sine, 5)):
        tl.on_block(sum(len(b) for b in np.array_split(sine, 5)[:i]), block, i, False)
    s = tl.spectrogram(0, 2 * RATE, 10_000)
    assert s.frames_per_column == tl.config.spec_hop_frames and len(s.image) >= 2 * RATE // 1024 - 1
    edges = np.geomspace(tl.config.spec_min_hz, tl.config.spec_max_hz, 49)
    band = int(np.searchsorted(edges, 1000.0) - 1)
    column = s.image[len(s.image) // 2]
    assert int(np.argmax(column)) == band
    level_db = column[band] / 255.0 * -SPEC_FLOOR_DB + SPEC_FLOOR_DB
    assert level_db == pytest.approx(20 * np.log10(0.5), abs=3.0)  # amplitude 0.5 → ≈ −6 dBFS


def test_history_is_bounded_and_rebase_continues_the_stream() -> None:
    tl = _model(history_s=2.0)
    for i in range(10):
        tl.on_block(i * RATE // 2, np.full((RATE // 2, 1), 0.1, np.float32), i, False)
    assert tl.oldest_position() == tl.end_position - tl.config.peak_columns * tl.config.peak_frames
    w = tl.waveform(0, tl.end_position, 100_000)
    assert w.start_position >= tl.oldest_position() - tl.config.peak_frames
    tl.rebase(4 * RATE)  # a new engine starts at ring position 0
    tl.on_block(0, np.full((100, 1), 0.3, np.float32), 0, False)
    assert tl.end_position == 4 * RATE + 100
    tl.add_marker(4 * RATE + 50, "model: x", "model")
    assert [m.label for m in tl.markers(0, 10 * RATE)] == ["model: x"]


def test_config_validation() -> None:
    with pytest.raises(ValueError, match="multiple"):
        TimelineConfig(RATE, peak_frames=300, spec_hop_frames=1024)


def test_every_change_bumps_the_version_and_boundaries_come_back_in_order() -> None:
    tl = _model()
    block = np.full((4800, 2), 0.5, np.float32)
    versions = [tl.version]
    for i in range(40):
        tl.on_block(i * 4800, block, i, False)
        versions.append(tl.version)
    tl.add_marker(10_000, "brightness")
    versions.append(tl.version)
    tl.rebase(40 * 4800)
    versions.append(tl.version)
    assert all(b > a for a, b in zip(versions, versions[1:]))  # a view can trust "same version, same data"
    start, end = 7 * 4800 + 1, 30 * 4800
    assert tl.boundaries(start, end) == [(i * 4800, i) for i in range(8, 30)]
    assert tl.boundaries(0, 10**9) == [(i * 4800, i) for i in range(40)]
    assert tl.boundaries(10**9, 2 * 10**9) == []
