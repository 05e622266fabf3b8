"""The engine against a real audio server: the JACK dummy server and a real sounddevice stream."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from lmd_studio.app.bootstrap import build_engine, make_mailbox
from lmd_studio.audio.devices import load_sounddevice
from lmd_studio.audio.sd_backend import SoundDeviceBackend
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


def run_engine(generator, seconds: float):
    backend = SoundDeviceBackend(buffer_frames=256)
    parts = build_engine(generator, backend, make_mailbox(generator))
    sink = Collect()
    assert isinstance(sink, CaptureSink)
    parts.capture.add_sink(sink)
    parts.start()
    parts.engine.send(cmd.Play())
    return parts, backend, sink


def test_ten_seconds_without_underruns(sd_on_jack) -> None:
    gen = FakeBlockGenerator(sample_rate=44100, channels=1, block_seconds=0.5, compute_s=0.05)
    parts, backend, sink = run_engine(gen, 10.0)
    try:
        assert backend.status().backend == "sounddevice", backend.status().message
        assert "JACK" in backend.status().device_name
        time.sleep(10.5)
        m = parts.engine.metrics
    finally:
        parts.stop()
    assert m.primed and m.played_s > 9.0
    assert m.underruns == 0, f"{m.underruns} underruns in 10 s"
    assert m.callback_errors == 0
    assert m.buffer_period_ms == pytest.approx(256 / 48 , rel=1e-3)
    played = sink.audio()
    assert played.shape[0] >= 9 * 48000 and np.abs(played).max() > 0.01
    assert np.isfinite(played).all()


def test_slow_generator_underruns_are_counted_and_the_engine_recovers(sd_on_jack) -> None:
    gen = FakeBlockGenerator(sample_rate=48000, channels=2, block_seconds=0.25, compute_s=0.0)
    parts, backend, sink = run_engine(gen, 0)
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


VANISH_SCRIPT = r"""
import os, subprocess, sys, time
name = os.environ["JACK_DEFAULT_SERVER"]
env = dict(os.environ, JACK_NO_AUDIO_RESERVATION="1")
def start():
    p = subprocess.Popen(["jackd", "-n", name, "--no-realtime", "-d", "dummy", "-r", "48000", "-p", "256"],
                         env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    subprocess.run(["jack_wait", "-w", "-t", "10"], env=env, capture_output=True)
    return p
server = start()
from lmd_studio.app.bootstrap import build_engine, make_backend
from lmd_studio.core.fake import FakeBlockGenerator
from lmd_studio.engine import commands as cmd
class Count:
    frames = 0
    def consume(self, frames, start):
        Count.frames += len(frames)
backend = make_backend("auto", buffer_frames=256)
parts = build_engine(FakeBlockGenerator(), backend)
parts.capture.add_sink(Count())
parts.start(); parts.engine.send(cmd.Play())
time.sleep(1.5)
print("before", backend.status().backend, flush=True)
server.kill(); server.wait()
time.sleep(2.0)
f0 = Count.frames
time.sleep(1.0)
s = backend.status()
print("after", s.backend, parts.engine.metrics.blocks_generated, Count.frames - f0, repr(s.message), flush=True)
os._exit(0)  # PortAudio's JACK API cannot shut down cleanly once its server died
"""


def test_vanished_device_falls_back_and_keeps_recording(tmp_path: Path) -> None:
    if not (Path("/usr/bin/jackd").exists() or Path("/usr/local/bin/jackd").exists()):
        pytest.fail("jackd missing")
    env = dict(os.environ, JACK_DEFAULT_SERVER=f"lmdvanish{os.getpid()}", JACK_NO_START_SERVER="1")
    proc = subprocess.run([sys.executable, "-c", VANISH_SCRIPT], env=env, capture_output=True, text=True,
                          timeout=60, cwd=Path(__file__).resolve().parents[2])
    lines = {ln.split()[0]: ln.split(maxsplit=1)[1] for ln in proc.stdout.splitlines() if ln.startswith(("before", "after"))}
    assert lines.get("before") == "sounddevice", proc.stdout + proc.stderr[-2000:]
    backend, blocks, captured, message = lines["after"].split(maxsplit=3)
    assert backend == "null"  # the software clock took over
    assert int(blocks) > 5  # the engine kept generating
    assert int(captured) > 40000  # ≈ 1 s at 48 kHz still reached the recorder's sink
    assert "lost" in message
