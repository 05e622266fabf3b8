"""With no audio device at all, the studio still runs, says so once, and everything downstream works."""

from __future__ import annotations

import time

import numpy as np

from lmd_studio.app.engine_parts import build_engine, make_backend, make_mailbox
from lmd_studio.core.fake import FakeBlockGenerator
from lmd_studio.engine import commands as cmd


class Count:
    def __init__(self) -> None:
        self.frames = 0
        self.peak = 0.0

    def consume(self, frames: np.ndarray, start_position: int) -> None:
        self.frames += len(frames)
        self.peak = max(self.peak, float(np.abs(frames).max()))


def test_process_backend_without_a_device_plays_silently_and_captures(monkeypatch) -> None:
    monkeypatch.setenv("JACK_DEFAULT_SERVER", "lmd-no-such-server")  # no JACK, and this machine has no card
    monkeypatch.setenv("JACK_NO_START_SERVER", "1")
    messages: list[str] = []
    backend = make_backend("process", sample_rate_hz=48000, buffer_frames=256, notify=messages.append)
    gen = FakeBlockGenerator(sample_rate=48000, channels=2, block_seconds=0.25)
    parts = build_engine(gen, backend, make_mailbox(gen))
    sink = Count()
    parts.capture.add_sink(sink)
    try:
        parts.start()
        parts.engine.send(cmd.Play())
        time.sleep(3.5)  # a few reopen attempts happen meanwhile
        status = backend.status()
        m = parts.engine.metrics
    finally:
        parts.stop()
    assert status.backend == "null" and status.running
    assert "no audio output device" in status.message or "cannot open" in status.message
    assert len(messages) == 1, f"say it once, not at every retry: {messages}"
    assert status.reopen_attempts >= 2
    assert m.played_s > 2.5 and m.underruns == 0
    assert sink.frames > 2.5 * 48000 and sink.peak > 0.01  # the recorder's feed carries the music


def test_the_null_backend_reports_no_device_underflows_when_its_thread_runs_late() -> None:
    """Silent audio has no device: a wake-up later than a period (here: every render sleeps two periods) is
    not a device underflow, so the Engine panel does not show "device N" as if buffers had been lost."""
    from lmd_studio.audio.backend import NullAudioBackend

    backend = NullAudioBackend(sample_rate_hz=48000, channels=2, buffer_frames=256)
    flags: list[bool] = []

    def render(out: np.ndarray, device_underflow: bool) -> None:
        flags.append(device_underflow)
        time.sleep(2 * 256 / 48000)  # later than a period every time

    backend.start(render)
    time.sleep(0.3)
    backend.stop()
    assert len(flags) >= 5 and not any(flags)
