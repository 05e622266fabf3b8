"""Recorder: takes fed through consume() from a capture-like thread, read back from real files."""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from lmd_studio.engine.audio_file import AudioFileError, AudioFileWriter
from lmd_studio.engine.recorder import Recorder
from lmd_studio.engine.recorder_config import RecorderConfig
from lmd_studio.engine.sinks import CaptureSink
from lmd_studio.engine.take_files import default_take_name, pick_free_path, read_sidecar, sidecar_path_for
from tests.support.record_child import CHANNELS, SAMPLE_RATE_HZ, signal_at

LSB_24 = 2.0 ** -23  # one 24-bit step: what quantisation may change a sample by
META = {"prompts": [{"text": "warm pads", "weight": 1.0}], "parameters": {"cfg": 3.0, "steps": 8},
        "seed": 1234, "model": "lmdm-small-v1", "bpm": 120}


def feed(sink: CaptureSink, start: int, total: int, blocks: list[int], realtime: bool = False) -> None:
    """Call consume() from a separate thread, like the engine's capture thread, with varying block sizes."""
    def run() -> None:
        pos, k = start, 0
        while pos < start + total:
            n = min(blocks[k % len(blocks)], start + total - pos)
            sink.consume(signal_at(pos, n), pos)
            pos += n
            k += 1
            if realtime:
                time.sleep(n / SAMPLE_RATE_HZ)
    t = threading.Thread(target=run)
    t.start()
    t.join()


def test_recorder_is_a_capture_sink() -> None:
    assert isinstance(Recorder(), CaptureSink)


@pytest.mark.parametrize("fmt", ["wav", "flac"])
def test_take_round_trip_exact_samples_and_sidecar(tmp_path: Path, fmt: str) -> None:
    rec = Recorder()
    path = tmp_path / "new" / "folder" / f"take.{fmt}"  # folders that do not exist yet
    rec.start(path, SAMPLE_RATE_HZ, CHANNELS, fmt=fmt, metadata=META)
    early = read_sidecar(sidecar_path_for(path))  # written at start, before any audio
    assert early["status"] == "recording" and early["seed"] == 1234
    rec.consume(signal_at(0, 100), 0)  # before start position 5000: the take starts where audio arrives
    rec.consume(signal_at(100, 4900), 100)
    assert rec.note_event({"type": "prompt", "text": "add drums"})
    feed(rec, 5000, 3 * SAMPLE_RATE_HZ, blocks=[960, 17, 4096, 1], realtime=False)
    rec.note_event({"type": "param", "name": "cfg", "value": 4.5, "position_frames": 99_000})
    result = rec.stop()

    assert result.ok, result.error
    total = 5000 + 3 * SAMPLE_RATE_HZ
    assert result.frames_written == total and result.duration_s == pytest.approx(total / SAMPLE_RATE_HZ)
    info = sf.info(str(path))
    assert (info.samplerate, info.channels, info.subtype) == (SAMPLE_RATE_HZ, CHANNELS, "PCM_24")
    data, sr = sf.read(str(path), dtype="float32")
    assert data.shape == (total, CHANNELS)
    np.testing.assert_allclose(data, signal_at(0, total), rtol=0, atol=LSB_24)

    side = json.loads(result.sidecar_path.read_text())
    assert result.sidecar_path == tmp_path / "new" / "folder" / f"take.{fmt}.json"
    assert side["status"] == "complete" and side["error"] is None
    assert side["prompts"] == META["prompts"] and side["parameters"] == META["parameters"]
    assert side["model"] == "lmdm-small-v1" and side["extra"] == {"bpm": 120}
    assert side["sample_rate_hz"] == SAMPLE_RATE_HZ and side["file_format"] == fmt
    assert side["start_position_frames"] == 0 and side["end_position_frames"] == total
    assert side["frames_written"] == total and side["dropped_frames"] == 0
    started, ended = (dt.datetime.fromisoformat(side[k]) for k in ("started_at", "ended_at"))
    assert started.tzinfo is not None and started <= ended
    assert [e.get("text", e.get("name")) for e in side["events"]] == ["add drums", "cfg"]
    assert side["events"][0]["position_frames"] == 5000  # stamped with the newest captured position
    assert side["events"][1]["position_frames"] == 99_000  # the caller's own position wins
    assert not list(path.parent.glob("*.tmp"))  # atomic rewrite leaves no temp file


def test_stream_gaps_are_written_as_silence(tmp_path: Path) -> None:
    rec = Recorder()
    rec.start(tmp_path / "gap.wav", SAMPLE_RATE_HZ, CHANNELS)
    rec.consume(signal_at(1000, 500), 1000)
    rec.consume(signal_at(1700, 300), 1700)  # 200 frames missing upstream
    result = rec.stop()
    data, _ = sf.read(str(result.path), dtype="float32")
    assert data.shape == (1000, CHANNELS)
    np.testing.assert_allclose(data[:500], signal_at(1000, 500), atol=LSB_24)
    assert np.all(data[500:700] == 0.0)
    np.testing.assert_allclose(data[700:], signal_at(1700, 300), atol=LSB_24)
    side = read_sidecar(result.sidecar_path)
    assert side["silence_filled_frames"] == 200 and side["end_position_frames"] == 2000


class SlowWriter(AudioFileWriter):
    """A real writer on a disk that stalls for `delay_s` on every write."""

    delay_s = 0.3

    def write(self, frames: np.ndarray) -> None:
        time.sleep(self.delay_s)
        super().write(frames)


def test_consume_never_blocks_and_counts_drops_when_the_disk_stalls(tmp_path: Path) -> None:
    cfg = RecorderConfig(max_queue_s=0.05)  # 2400 frames of backlog allowed
    rec = Recorder(cfg, writer_factory=SlowWriter)
    rec.start(tmp_path / "slow.wav", SAMPLE_RATE_HZ, CHANNELS)
    worst_s, pos = 0.0, 0
    for _ in range(40):  # 40 blocks of 960 fed much faster than the writer can take them
        t0 = time.perf_counter()
        rec.consume(signal_at(pos, 960), pos)
        worst_s = max(worst_s, time.perf_counter() - t0)
        pos += 960
        time.sleep(0.005)
    dropped = rec.dropped_frames
    result = rec.stop()
    assert worst_s < SlowWriter.delay_s / 2, f"consume blocked for {worst_s * 1e3:.1f} ms"
    assert dropped > 0 and dropped % 960 == 0 and result.dropped_frames == dropped
    data, _ = sf.read(str(result.path), dtype="float32")
    assert len(data) == pos  # dropped blocks were written as silence: timeline intact
    silent = np.all(data.reshape(-1, 960, CHANNELS) == 0.0, axis=(1, 2))  # [blocks]
    assert silent.sum() * 960 == dropped
    for b in np.flatnonzero(~silent):
        np.testing.assert_allclose(data[b * 960:(b + 1) * 960], signal_at(b * 960, 960), atol=LSB_24)


def test_wrong_channel_count_fails_the_take_without_raising(tmp_path: Path) -> None:
    rec = Recorder()
    rec.start(tmp_path / "ch.wav", SAMPLE_RATE_HZ, CHANNELS)
    rec.consume(signal_at(0, 480), 0)
    rec.consume(np.zeros((480, 1), np.float32), 480)  # a mono block reaches a stereo take: no exception
    deadline = time.monotonic() + 5
    while rec.error is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert "2-channel" in (rec.error or "")
    result = rec.stop()
    assert result.frames_written == 480 and "shape" in (result.error or "")
    assert read_sidecar(result.sidecar_path)["status"] == "failed"


def test_start_rules(tmp_path: Path) -> None:
    rec = Recorder()
    assert not rec.note_event({"type": "x"}) and rec.consume(signal_at(0, 10), 0) is None  # idle: ignored
    with pytest.raises(RuntimeError, match="not recording"):
        rec.stop()
    with pytest.raises(ValueError, match="unsupported recording format 'mp3'"):
        rec.start(tmp_path / "a.mp3", SAMPLE_RATE_HZ, CHANNELS, fmt="mp3")
    with pytest.raises(ValueError, match="JSON-serialisable"):
        rec.start(tmp_path / "a.wav", SAMPLE_RATE_HZ, CHANNELS, metadata={"seed": object()})
    rec.start(tmp_path / "a.wav", SAMPLE_RATE_HZ, CHANNELS)
    with pytest.raises(RuntimeError, match="already recording"):
        rec.start(tmp_path / "b.wav", SAMPLE_RATE_HZ, CHANNELS)
    assert rec.stop().frames_written == 0 and sf.info(str(tmp_path / "a.wav")).frames == 0
    with pytest.raises(AudioFileError, match="a.wav already exists; not overwriting"):
        rec.start(tmp_path / "a.wav", SAMPLE_RATE_HZ, CHANNELS)  # an earlier take is never clobbered
    rec.start(tmp_path / "a.wav", SAMPLE_RATE_HZ, CHANNELS, overwrite=True)
    rec.consume(signal_at(0, 10), 0)
    assert rec.stop().frames_written == 10
    with pytest.raises(AudioFileError, match="the path is a folder"):
        rec.start(tmp_path, SAMPLE_RATE_HZ, CHANNELS, overwrite=True)
    with pytest.raises(ValueError, match="flush_interval_s"):
        RecorderConfig(flush_interval_s=2.0)  # would break the 1 s crash-loss promise


def test_default_names_and_free_paths(tmp_path: Path) -> None:
    when = dt.datetime(2026, 11, 24, 21, 5, 33)
    assert default_take_name("wav", when=when) == "lmd-2026-11-24_21-05-33.wav"
    assert default_take_name(".FLAC", prefix="retro", when=when) == "retro-2026-11-24_21-05-33.flac"
    name = default_take_name("wav", when=when)
    assert pick_free_path(tmp_path, name) == tmp_path / name
    (tmp_path / name).touch()
    assert pick_free_path(tmp_path, name) == tmp_path / "lmd-2026-11-24_21-05-33-2.wav"
    (tmp_path / "lmd-2026-11-24_21-05-33-2.wav.json").touch()  # an orphan sidecar also takes the name
    assert pick_free_path(tmp_path, name) == tmp_path / "lmd-2026-11-24_21-05-33-3.wav"


def test_recorder_and_retro_behind_the_engines_capture_hub(tmp_path: Path) -> None:
    """The real path: audio callback -> capture ring -> CaptureHub.drain() -> sinks."""
    from lmd_studio.engine.capture import CaptureHub
    from lmd_studio.engine.retro import RetroBuffer
    from lmd_studio.engine.retro_types import RetroConfig
    from lmd_studio.rt.ring import SpscRing

    ring = SpscRing(8192, CHANNELS)
    hub = CaptureHub(ring)
    rec, retro = Recorder(), RetroBuffer(RetroConfig(SAMPLE_RATE_HZ, CHANNELS, duration_s=5.0))
    hub.add_sink(rec)
    hub.add_sink(retro)
    pos = 0
    for k in range(100):  # 100 callbacks of 256 frames, drained every 4 callbacks
        assert ring.write(signal_at(pos, 256)) == 256
        pos += 256
        if k == 20:
            hub.drain()
            rec.start(tmp_path / "hub.wav", SAMPLE_RATE_HZ, CHANNELS)  # armed mid-stream
        elif k % 4 == 3:
            hub.drain()
    hub.drain()
    result = rec.stop()
    assert hub.sink_errors == 0, hub.last_sink_error
    data, _ = sf.read(str(result.path), dtype="float32")
    assert len(data) == pos - 21 * 256
    np.testing.assert_allclose(data, signal_at(21 * 256, len(data)), atol=LSB_24)
    saved, _ = sf.read(str(retro.save_last(60.0, tmp_path / "hub-retro.wav").path), dtype="float32")
    np.testing.assert_allclose(saved, signal_at(0, pos), atol=LSB_24)
