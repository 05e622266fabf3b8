"""RetroBuffer: save the last seconds after the fact, exact samples, while the capture thread keeps going."""

from __future__ import annotations

import threading
import time
from concurrent.futures import Future
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from lmd_studio.engine.audio_file import AudioFileWriter
from lmd_studio.engine.retro import RetroBuffer
from lmd_studio.engine.retro_types import RetroConfig
from lmd_studio.engine.sinks import CaptureSink, RecordingResult
from lmd_studio.engine.take_files import read_sidecar
from tests.support.record_child import CHANNELS, SAMPLE_RATE_HZ, signal_at

LSB_24 = 2.0 ** -23
SR = SAMPLE_RATE_HZ


def retro(duration_s: float = 300.0, **kw: float) -> RetroBuffer:
    return RetroBuffer(RetroConfig(SR, CHANNELS, duration_s=duration_s, **kw))


def feed(buf: CaptureSink, start: int, n_frames: int, block: int = 960) -> int:
    pos = start
    while pos < start + n_frames:
        n = min(block, start + n_frames - pos)
        buf.consume(signal_at(pos, n), pos)
        pos += n
    return pos


def read(result: RecordingResult) -> np.ndarray:
    assert result.ok, result.error
    data, sr = sf.read(str(result.path), dtype="float32")
    assert sr == SR and sf.info(str(result.path)).subtype == "PCM_24"
    return data


def test_feed_10_s_save_last_3_s_exact(tmp_path: Path) -> None:
    buf = retro()
    assert isinstance(buf, CaptureSink)
    assert buf.config.memory_bytes == (300 + 30) * SR * CHANNELS * 4  # preallocated once: 127 MB at 48 kHz
    buf.note_event({"type": "prompt", "text": "too early", "position_frames": 2 * SR})
    end = feed(buf, 0, 10 * SR, block=1000)
    buf.note_event({"type": "prompt", "text": "in range", "position_frames": 8 * SR})
    result = buf.save_last(3.0, tmp_path / "retro" / "last3.wav", metadata={"seed": 9, "prompts": ["p"]})
    assert result.frames_written == 3 * SR and result.duration_s == pytest.approx(3.0)
    np.testing.assert_allclose(read(result), signal_at(end - 3 * SR, 3 * SR), rtol=0, atol=LSB_24)
    side = read_sidecar(result.sidecar_path)
    assert side["kind"] == "retro" and side["status"] == "complete" and side["seed"] == 9
    assert side["start_position_frames"] == 7 * SR and side["end_position_frames"] == 10 * SR
    assert [e["text"] for e in side["events"]] == ["in range"]
    assert side["started_at"] < side["ended_at"]


def test_wrap_around_of_the_ring(tmp_path: Path) -> None:
    # 4 s + 0.37 s slack ring fed 10 s: wrapped twice, and the saved range straddles the wrap point
    buf = retro(duration_s=4.0, slack_s=0.37, copy_chunk_s=0.3)
    end = feed(buf, 0, 10 * SR, block=777)
    capacity = buf.config.capacity_frames
    assert end % capacity < 3 * SR  # the newest 3 s do wrap around the end of the array
    got = read(buf.save_last(3.0, tmp_path / "wrap.wav"))
    np.testing.assert_allclose(got, signal_at(end - 3 * SR, 3 * SR), rtol=0, atol=LSB_24)
    got = read(buf.save_last(60.0, tmp_path / "all.flac", fmt="flac"))  # more than the buffer holds
    assert len(got) == 4 * SR
    np.testing.assert_allclose(got, signal_at(end - 4 * SR, 4 * SR), rtol=0, atol=LSB_24)


def test_block_larger_than_the_ring(tmp_path: Path) -> None:
    buf = retro(duration_s=0.5, slack_s=0.0)
    buf.consume(signal_at(0, 2 * SR), 0)  # one consume of 2 s into a 0.5 s ring keeps the newest 0.5 s
    got = read(buf.save_last(1.0, tmp_path / "big.wav"))
    np.testing.assert_allclose(got, signal_at(2 * SR - SR // 2, SR // 2), atol=LSB_24)


def test_save_more_than_available_and_nothing_yet(tmp_path: Path) -> None:
    buf = retro()
    empty = buf.save_last(5.0, tmp_path / "empty.wav")
    assert empty.error is not None and "nothing captured yet" in empty.error and not empty.path.exists()
    start = 123_456  # the stream was running before the buffer was attached
    end = feed(buf, start, 2 * SR)
    assert buf.available_s == pytest.approx(2.0)
    result = buf.save_last(5.0, tmp_path / "short.wav")
    np.testing.assert_allclose(read(result), signal_at(start, 2 * SR), rtol=0, atol=LSB_24)
    assert read_sidecar(result.sidecar_path)["start_position_frames"] == start == end - 2 * SR
    with pytest.raises(ValueError, match="seconds must be > 0"):
        buf.save_last(0.0, tmp_path / "zero.wav")


def test_gaps_are_silence_and_bad_blocks_are_rejected(tmp_path: Path) -> None:
    buf = retro(duration_s=10.0)
    buf.consume(signal_at(0, 1000), 0)
    buf.consume(signal_at(1500, 1000), 1500)  # 500 frames lost upstream
    buf.consume(np.zeros((64, 1), np.float32), 2500)  # wrong channel count: counted, not raised
    got = read(buf.save_last(10.0, tmp_path / "gap.wav"))
    assert got.shape == (2500, CHANNELS) and buf.rejected_frames == 64
    np.testing.assert_allclose(got[:1000], signal_at(0, 1000), atol=LSB_24)
    assert np.all(got[1000:1500] == 0.0)
    np.testing.assert_allclose(got[1500:], signal_at(1500, 1000), atol=LSB_24)


def test_save_while_the_capture_thread_keeps_feeding(tmp_path: Path) -> None:
    buf = retro(duration_s=20.0, copy_chunk_s=0.05)  # small chunks: many lock hand-overs during a save
    stop = threading.Event()
    pos = feed(buf, 0, 12 * SR)
    fed = [pos]

    def capture() -> None:
        p = fed[0]
        while not stop.is_set():
            buf.consume(signal_at(p, 960), p)
            p += 960
            fed[0] = p
            time.sleep(0.0005)

    t = threading.Thread(target=capture)
    t.start()
    try:
        results = [buf.save_last(10.0, tmp_path / f"live{i}.wav") for i in range(3)]
    finally:
        stop.set()
        t.join()
    assert fed[0] > pos  # the capture thread really ran during the saves
    for result in results:
        start = read_sidecar(result.sidecar_path)["start_position_frames"]
        np.testing.assert_allclose(read(result), signal_at(start, 10 * SR), rtol=0, atol=LSB_24)


def test_async_save_fixes_the_range_at_call_time(tmp_path: Path) -> None:
    buf = retro(duration_s=10.0)
    end = feed(buf, 0, 5 * SR)
    done: list[RecordingResult] = []
    finished = threading.Event()

    def on_done(r: RecordingResult) -> None:
        done.append(r)
        finished.set()

    future = buf.save_last_async(2.0, tmp_path / "async.flac", fmt="flac", on_done=on_done)
    feed(buf, end, SR)  # audio after the click must not end up in the file
    assert isinstance(future, Future)
    result = future.result(timeout=30)
    assert finished.wait(30) and done == [result]
    np.testing.assert_allclose(read(result), signal_at(end - 2 * SR, 2 * SR), rtol=0, atol=LSB_24)
    buf.close()


def test_save_to_an_unwritable_place_reports_instead_of_raising(tmp_path: Path) -> None:
    buf = retro(duration_s=2.0)
    feed(buf, 0, SR)
    (tmp_path / "file").write_text("x")
    result = buf.save_last(1.0, tmp_path / "file" / "retro.wav")
    assert result.error is not None and "retro.wav" in result.error and result.frames_written == 0


class CrawlingWriter(AudioFileWriter):
    """A disk so slow that live audio laps the save."""

    def write(self, frames: np.ndarray) -> None:
        time.sleep(0.05)
        super().write(frames)


def test_a_save_overtaken_by_live_audio_stops_with_an_error_not_garbage(tmp_path: Path) -> None:
    buf = RetroBuffer(RetroConfig(SR, CHANNELS, duration_s=1.0, slack_s=0.1, copy_chunk_s=0.05),
                      writer_factory=CrawlingWriter)
    pos = feed(buf, 0, SR)
    future = buf.save_last_async(1.0, tmp_path / "lapped.wav")
    time.sleep(0.1)
    feed(buf, pos, SR)  # one second of new audio overwrites the range still being written
    result = future.result(timeout=30)
    buf.close()
    assert result.error is not None and "overwritten" in result.error
    got, _ = sf.read(str(result.path), dtype="float32")
    assert 0 < len(got) < SR and len(got) == result.frames_written
    np.testing.assert_allclose(got, signal_at(0, len(got)), atol=LSB_24)  # what was saved is intact
    assert read_sidecar(result.sidecar_path)["status"] == "failed"
