"""The InputTap against a plain model (a dict from output position to frame): random writes with gaps and
overlaps, reads anywhere, a reader overtaken by the writer, and the level meter."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from lmd_studio.rt.input_tap import InputTap


def model_read(model: dict[int, np.ndarray], start: int, n: int, channels: int) -> np.ndarray:
    out = np.zeros((n, channels), np.float32)
    for k in range(n):
        if start + k in model:
            out[k] = model[start + k]
    return out


@pytest.mark.parametrize("seed", range(6))
def test_random_writes_and_reads_match_the_model(seed: int) -> None:
    rng = np.random.default_rng(seed)
    channels = 1 + seed % 2
    tap = InputTap(256, channels, max_write_frames=64)  # small: wraps around many times
    model: dict[int, np.ndarray] = {}
    end = 0
    for _ in range(400):
        n = int(rng.integers(1, 150))  # also above max_write_frames: written in steps
        position = end + int(rng.integers(-40, 40))  # overlaps are dropped, gaps are silence
        frames = rng.standard_normal((n, channels)).astype(np.float32)
        tap.write(position, frames)
        for k in range(n):
            if position + k >= end:
                model[position + k] = frames[k]
        for p in range(end, position):
            model[p] = np.zeros(channels, np.float32)
        end = max(end, position + n)
        assert tap.end_position == end
        # a read anywhere: what the history still holds matches, the rest is silence
        stop = end + int(rng.integers(-300, 50))
        want = int(rng.integers(1, 200))
        got = tap.read(stop, want)
        oldest = tap.start_position
        expected = model_read(model, stop - want, want, channels)
        expected[:max(0, min(want, oldest - (stop - want)))] = 0.0
        np.testing.assert_array_equal(got, expected)


def test_gaps_are_counted_and_late_frames_skipped() -> None:
    tap = InputTap(1024, 1, max_write_frames=128)
    tap.write(100, np.ones((10, 1), np.float32))
    assert tap.gap_frames == 100 and tap.end_position == 110
    tap.write(105, np.full((10, 1), 2.0, np.float32))  # 5 behind the end
    assert tap.skipped_frames == 5 and tap.end_position == 115
    np.testing.assert_array_equal(tap.read(115, 15)[:, 0], [1.0] * 10 + [2.0] * 5)
    tap.fill_silence_to(120)
    assert tap.end_position == 120 and not tap.read(120, 5).any()


def test_a_reader_overtaken_by_the_writer_gets_silence_not_newer_audio() -> None:
    tap = InputTap(256, 1, max_write_frames=64)
    tap.write(0, np.arange(1000, dtype=np.float32)[:, None])
    out = np.full((100, 1), -1.0, np.float32)
    assert tap.read_into(out, 100) == 0  # long gone from a 256-frame history
    assert not out.any()
    recent = tap.read(1000, 10)[:, 0]
    np.testing.assert_array_equal(recent, np.arange(990, 1000, dtype=np.float32))


def test_concurrent_reader_never_sees_a_frame_from_another_position() -> None:
    """The writer stamps each frame with its position; a reader racing it sees either that stamp or 0."""
    tap = InputTap(4096, 1, max_write_frames=256)
    stop = threading.Event()
    bad: list[str] = []

    def reader() -> None:
        while not stop.is_set():
            end = tap.end_position
            got = tap.read(end, 512)[:, 0]
            positions = np.arange(end - 512, end, dtype=np.float32)
            wrong = (got != 0) & (got != positions)
            if wrong.any():
                bad.append(f"read [{end - 512}, {end}) holds {got[wrong][:3]}")

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for start in range(0, 400_000, 256):
            tap.write(start, np.arange(start, start + 256, dtype=np.float32)[:, None])
    finally:
        stop.set()
        thread.join()
    assert not bad, bad[:3]


def test_level_meter_reports_peak_and_rms_then_resets() -> None:
    tap = InputTap(1024, 2, max_write_frames=128)
    t = np.arange(480) / 48000
    sine = (0.5 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32)
    tap.write(0, np.stack([sine, sine], axis=1))
    peak, rms = tap.take_level()
    assert peak == pytest.approx(0.5, abs=1e-3)
    assert rms == pytest.approx(0.5 / np.sqrt(2), rel=1e-3)
    assert tap.take_level() == (0.0, 0.0)


def test_bad_shapes_are_refused() -> None:
    with pytest.raises(ValueError, match="capacity"):
        InputTap(100, 1, max_write_frames=64)
