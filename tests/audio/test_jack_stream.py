"""The engine against a real audio server: the JACK dummy server and a real sounddevice stream."""

from __future__ import annotations

import os
import subprocess
import time

import numpy as np
import pytest

from lmd_studio.app.engine_parts import build_engine, make_backend, make_mailbox
from lmd_studio.audio.devices import load_sounddevice
from lmd_studio.audio.process_backend import ProcessAudioBackend
from lmd_studio.bench.harness.jack import start_jackd
from lmd_studio.core.fake import FakeBlockGenerator
from lmd_studio.engine import commands as cmd
from lmd_studio.engine.sinks import CaptureSink

pytestmark = pytest.mark.jack


class Collect:
    """A capture sink keeping everything that was played."""

    def __init__(self) -> None:
        self.chunks: list[np.ndarray] = []

    def consume(self, frames: np.ndarray, start_position: int) -> None:
        self.chunks.append(frames)

    def audio(self) -> np.ndarray:
        return np.concatenate(self.chunks) if self.chunks else np.zeros((0, 2), np.float32)


@pytest.fixture()
def sd_on_jack(jack_server):
    sd = load_sounddevice(refresh=True)  # PortAudio must re-enumerate to see the server
    yield sd


def run_engine(generator, kind: str = "process"):
    backend = make_backend(kind, buffer_frames=256)
    parts = build_engine(generator, backend, make_mailbox(generator))
    sink = Collect()
    assert isinstance(sink, CaptureSink)
    parts.capture.add_sink(sink)
    parts.start()
    parts.engine.send(cmd.Play())
    return parts, backend, sink


@pytest.mark.parametrize(("kind", "seconds"), [("process", 10.0), ("inprocess", 3.0)])
def test_playback_without_underruns(sd_on_jack, kind: str, seconds: float) -> None:
    gen = FakeBlockGenerator(sample_rate=44100, channels=1, block_seconds=0.5, compute_s=0.05)
    parts, backend, sink = run_engine(gen, kind)
    try:
        deadline = time.monotonic() + 10
        while backend.status().backend not in ("process", "sounddevice") and time.monotonic() < deadline:
            time.sleep(0.05)
        assert backend.status().backend in ("process", "sounddevice"), backend.status().message
        assert "JACK" in backend.status().device_name
        # Late buffers are judged from one second after the stream opened: while our client joins the graph
        # JACK reports xruns of its own (a clean-clone CI run measured 5 in the in-process variant's first
        # 3 s on an idle machine). Dropouts of the engine (its ring running dry) count from the start.
        time.sleep(1.0)
        late0 = parts.engine.output.device_underflows
        split0 = backend.underflow_split() if isinstance(backend, ProcessAudioBackend) else None
        time.sleep(seconds)
        late1 = parts.engine.output.device_underflows
        m = parts.engine.live_metrics()
        split1 = backend.underflow_split() if isinstance(backend, ProcessAudioBackend) else None
    finally:
        parts.stop()
    assert m.primed and m.played_s > seconds - 1.0
    assert m.underruns == 0, f"{m.underruns} underruns in {seconds + 1} s"
    periods = seconds * 48000 / 256
    spare_core = os.getloadavg()[0] < (os.cpu_count() or 1)
    if split0 is not None and split1 is not None:
        # Late buffers by cause. Ours: the pump thread let the shared ring run dry (handoff), or the device
        # process's callback itself ran over half a period (slow). The server's: the JACK dummy clock missed
        # a period while our callback was quick — three clean-clone CI runs measured 3, 3 and 6 of 1,875 with
        # the engine's ring never dry, so those are judged only against a broken server (one period in twenty).
        handoff, slow = split1.handoff - split0.handoff, split1.slow_callbacks - split0.slow_callbacks
        device = split1.device - split0.device
        detail = f"handoff {handoff}, slow {slow}, device {device} of {periods:.0f} periods"
        assert slow <= 1 + 0.002 * periods, detail
        if spare_core:
            assert handoff <= 1 + 0.002 * periods, detail
        assert device <= 0.05 * periods, detail
    elif spare_core:
        # one process: a callback that blocks or waits for the GIL misses hundreds of periods
        late = late1 - late0
        assert late <= 1 + 0.002 * periods, f"{late} of {periods:.0f} periods late"
    assert m.callback_errors == 0
    assert m.buffer_period_ms == pytest.approx(256 / 48, rel=1e-3)
    if spare_core:  # a job on every core delays the callback's wake-ups (p99 7.9 ms measured beside training)
        assert m.callback_lateness_p99_ms < m.buffer_period_ms
    played = sink.audio()
    assert played.shape[0] >= (seconds - 1) * 48000 and np.abs(played).max() > 0.01
    assert np.isfinite(played).all()


def test_slow_generator_underruns_are_counted_and_the_engine_recovers(sd_on_jack) -> None:
    gen = FakeBlockGenerator(sample_rate=48000, channels=2, block_seconds=0.25, compute_s=0.0)
    parts, backend, sink = run_engine(gen)
    try:
        time.sleep(1.5)
        assert parts.engine.metrics.underruns == 0
        gen.compute_s = 0.4  # 160% of real time: the queue must run dry
        time.sleep(4.0)
        starved = parts.engine.metrics.underruns
        assert starved > 0
        gen.compute_s = 0.02
        time.sleep(2.5)  # refill
        after_recovery = parts.engine.metrics.underruns
        time.sleep(2.0)
        m = parts.engine.metrics
    finally:
        parts.stop()
    assert m.underruns == after_recovery, "underruns must stop once the generator is fast again"
    assert m.playing and m.callback_errors == 0 and m.headroom_s > 0.5
    played = sink.audio()
    assert np.isfinite(played).all() and np.abs(played).max() <= 1.0  # silence-filled, never garbage
    tail = played[-48000:]
    assert np.abs(tail).max() > 0.01, "sound came back"


def _start_named_server(name: str) -> subprocess.Popen:
    proc = start_jackd(name)  # not the managed fixture: this test kills the server and starts it again
    assert proc is not None, f"JACK dummy server {name} did not start"
    return proc


def _wait_for(predicate, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_vanished_device_falls_back_keeps_recording_and_reopens(monkeypatch) -> None:
    """Kill the audio server mid-stream, then bring it back: no crash, the engine and the capture path
    keep going on the software clock, and the stream reopens by itself."""
    name = "lmdvanish"  # a fixed name: JACK reclaims a killed server's registry slot only for the same name
    monkeypatch.setenv("JACK_DEFAULT_SERVER", name)  # the device process inherits this
    server = _start_named_server(name)
    gen = FakeBlockGenerator(sample_rate=48000, channels=2, block_seconds=0.25)
    messages: list[str] = []
    backend = make_backend("process", buffer_frames=256, notify=messages.append)
    parts = build_engine(gen, backend, make_mailbox(gen))
    sink = Collect()
    parts.capture.add_sink(sink)
    try:
        parts.start()
        parts.engine.send(cmd.Play())
        assert _wait_for(lambda: backend.status().backend == "process", 10), backend.status().message
        time.sleep(1.0)
        server.kill()
        server.wait()
        assert _wait_for(lambda: backend.status().backend == "null", 5)
        assert any("lost" in m for m in messages)
        frames_before = sum(len(c) for c in sink.chunks)
        blocks_before = parts.engine.metrics.blocks_generated
        time.sleep(1.5)
        assert sum(len(c) for c in sink.chunks) - frames_before > 48000  # recording went on (≈ 1.5 s)
        assert parts.engine.metrics.blocks_generated > blocks_before
        server = _start_named_server(name)
        assert _wait_for(lambda: backend.status().backend == "process", 15), backend.status().message
        assert any("back" in m for m in messages)
        callbacks = int(parts.engine.output.callback_count)
        time.sleep(0.5)
        assert parts.engine.output.callback_count - callbacks > 50
    finally:
        parts.stop()
        server.terminate()
        server.wait(5)
