"""RetroBuffer.save_span: a stretch selected on the timeline goes straight from the ring to its file (no
temporary file), sample for sample, at the edges of what the ring holds and across its wrap point, with
the dropouts inside it left out and a sidecar describing exactly what was kept."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from lmd_studio.engine.retro import RetroBuffer
from lmd_studio.engine.retro_types import RetroConfig
from lmd_studio.engine.sinks import RecordingResult
from lmd_studio.engine.take_files import read_sidecar
from tests.support.record_child import CHANNELS, SAMPLE_RATE_HZ, signal_at

SR = SAMPLE_RATE_HZ


def ring_signal(start: int, n_frames: int) -> np.ndarray:
    """The test signal on the 24-bit grid, so the file holds exactly what the ring held."""
    return (np.round(signal_at(start, n_frames).astype(np.float64) * 2**23) / 2**23).astype(np.float32)


def fed(cfg: RetroConfig, n_frames: int, block: int = 777) -> RetroBuffer:
    buf = RetroBuffer(cfg)
    for pos in range(0, n_frames, block):
        buf.consume(ring_signal(pos, min(block, n_frames - pos)), pos)
    return buf


def audio(result: RecordingResult) -> np.ndarray:
    assert result.ok, result.error
    data, rate = sf.read(str(result.path), dtype="float32", always_2d=True)
    assert rate == SR and sf.info(str(result.path)).subtype == "PCM_24"
    return data


def small_ring() -> RetroConfig:
    # 2 s reachable + 0.25 s slack, fed 5 s: the ring has wrapped twice
    return RetroConfig(SR, CHANNELS, duration_s=2.0, slack_s=0.25, copy_chunk_s=0.1)


@pytest.mark.parametrize("fmt", ["wav", "flac"])
def test_the_file_is_the_rings_range_exactly_at_both_edges_and_across_the_wrap(tmp_path: Path, fmt: str) -> None:
    end = 5 * SR
    buf = fed(small_ring(), end)
    oldest = end - buf.config.duration_frames
    wrap = (end // buf.config.capacity_frames) * buf.config.capacity_frames  # ring index 0, in stream frames
    assert oldest < wrap < end  # the range below straddles the end of the array
    result = buf.save_span(oldest, end, tmp_path / f"all.{fmt}", fmt)
    assert result.frames_written == end - oldest
    np.testing.assert_array_equal(audio(result), ring_signal(oldest, end - oldest))
    # one frame on either side of the wrap point
    result = buf.save_span(wrap - 1, wrap + 1, tmp_path / f"wrap.{fmt}", fmt)
    np.testing.assert_array_equal(audio(result), ring_signal(wrap - 1, 2))
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [f"all.{fmt}", f"all.{fmt}.json", f"wrap.{fmt}", f"wrap.{fmt}.json"])  # no temporary files left


def test_a_span_reaching_past_the_buffer_keeps_what_is_still_there(tmp_path: Path) -> None:
    end = 5 * SR
    buf = fed(small_ring(), end)
    oldest = end - buf.config.duration_frames
    result = buf.save_span(oldest - SR, end + SR, tmp_path / "over.wav")  # older than kept, newer than played
    np.testing.assert_array_equal(audio(result), ring_signal(oldest, end - oldest))
    side = read_sidecar(result.sidecar_path)
    assert (side["start_position_frames"], side["end_position_frames"]) == (oldest, end)
    gone = buf.save_span(0, oldest, tmp_path / "gone.wav")
    assert gone.error == "the selected audio is no longer in the retro buffer" and not gone.path.exists()


def test_dropouts_are_left_out_and_the_sidecar_says_what_was_kept(tmp_path: Path) -> None:
    end = 5 * SR
    buf = fed(small_ring(), end)
    for name, at in (("before", 3 * SR - 1), ("kept", 3 * SR + 10), ("in the gap", 3 * SR + 1500),
                     ("kept later", 4 * SR), ("after", 4 * SR + 100)):
        buf.note_event({"type": "prompt", "text": name, "position_frames": at})
    a, b = 3 * SR, 4 * SR + 100
    gaps = ((3 * SR + 1000, 3 * SR + 2000), (4 * SR + 50, 4 * SR + 500))  # the second reaches past the end
    result = buf.save_span(a, b, tmp_path / "sel.wav", metadata={"seed": 7}, leave_out=gaps)
    want = np.concatenate([ring_signal(a, 1000), ring_signal(3 * SR + 2000, SR - 2000 + 50)])
    np.testing.assert_array_equal(audio(result), want)
    side = read_sidecar(result.sidecar_path)
    assert side["kind"] == "selection" and side["status"] == "complete" and side["seed"] == 7
    assert side["start_position_frames"] == a and side["end_position_frames"] == 4 * SR + 50
    assert side["frames_written"] == len(want) and side["dropouts_left_out_frames"] == 1000 + 50
    assert [e["text"] for e in side["events"]] == ["kept", "kept later"]
    assert side["started_at"] < side["ended_at"]


def test_empty_spans_and_an_empty_buffer(tmp_path: Path) -> None:
    buf = RetroBuffer(small_ring())
    with pytest.raises(ValueError, match="the selection is empty"):
        buf.save_span(10, 10, tmp_path / "none.wav")
    result = buf.save_span(0, SR, tmp_path / "early.wav")
    assert result.error == "nothing captured yet: the retro buffer is empty" and not result.path.exists()
