"""The audio input through a real JACK server: a known click through the studio's own output → input loop,
monitoring heard by another JACK client, and the input surviving the server's death."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from lmd_studio.app.engine_parts import EngineParts, build_engine, make_backend, make_mailbox
from lmd_studio.audio.calibration import calibrate, measure_roundtrip
from lmd_studio.audio.devices import load_sounddevice
from lmd_studio.audio.input_path import InputConfig, InputPath
from lmd_studio.bench.harness import jack_ports
from lmd_studio.bench.harness.jack import start_jackd
from lmd_studio.bench.harness.jack_player import JackPlayer
from lmd_studio.core.fake import FakeBlockGenerator
from lmd_studio.core.jack_server import jack_client_env
from lmd_studio.engine import commands as cmd
from lmd_studio.engine.recorder import Recorder
from lmd_studio.engine.take_files import track_path
from lmd_studio.engine.take_tracks import TrackFormat

pytestmark = pytest.mark.jack
CEILING = 10 ** (-1 / 20)


def wait_for(predicate: Callable[[], bool], timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def studio(kind: str, correction: int = 0, monitoring: bool = False, channels: tuple[int, ...] = (1, 2),
           notify: Callable[[str], None] | None = None) -> EngineParts:
    gen = FakeBlockGenerator(sample_rate=48000, channels=2, block_seconds=0.25)
    backend = make_backend(kind, buffer_frames=256, notify=notify, input_config=InputConfig(
        channels=channels, monitoring=monitoring, latency_correction_frames=correction))
    return build_engine(gen, backend, make_mailbox(gen))


def input_of(parts: EngineParts) -> InputPath:
    assert parts.input is not None
    return parts.input


@pytest.fixture()
def open_studio(jack_server) -> Iterator[Callable[..., EngineParts]]:
    load_sounddevice(refresh=True)
    started: list[EngineParts] = []

    def start(kind: str = "process", **kw: object) -> EngineParts:
        parts = studio(kind, **kw)  # type: ignore[arg-type]
        parts.start()
        started.append(parts)
        assert wait_for(lambda: input_of(parts).running, 20), input_of(parts).message
        return parts

    yield start
    for parts in started:
        parts.stop()


def loop_back() -> None:
    """The studio's outputs into its own inputs, nothing else."""
    outs = jack_ports.studio_ports("out")
    jack_ports.route(outs, jack_ports.studio_ports("in", len(outs)))


def test_a_click_through_jack_lines_up_within_a_millisecond_after_a_restart(open_studio) -> None:
    """Calibrate once; a fresh device process with the saved correction then finds every click where it was
    played, within 1 ms (48 frames)."""
    first = open_studio("process")
    loop_back()
    result = calibrate(input_of(first))
    assert result.ok, result.before.message
    first.stop()
    second = open_studio("process", correction=result.correction_frames)
    loop_back()
    for _ in range(3):
        m = measure_roundtrip(input_of(second))
        assert m.found and m.confidence > 0.9
        assert abs(m.error_ms) <= 1.0, f"click read back {m.error_frames} frames off"


def test_the_in_process_stream_lines_up_too(open_studio) -> None:
    parts = open_studio("inprocess")
    loop_back()
    result = calibrate(input_of(parts))
    assert result.ok and result.after is not None
    assert abs(result.after.error_ms) <= 1.0
    assert abs(measure_roundtrip(input_of(parts)).error_ms) <= 1.0


def record_output(seconds: float, path: Path) -> np.ndarray:
    """What the studio's outputs send, as another JACK client (jack_rec) hears it."""
    ports = jack_ports.studio_ports("out")
    subprocess.run(["jack_rec", "-f", str(path), "-d", str(seconds), *ports], env=jack_client_env(),
                   capture_output=True, timeout=30, check=True)
    return sf.read(str(path), dtype="float32", always_2d=True)[0]


def test_monitoring_puts_the_input_on_the_output_and_never_clips(open_studio, tmp_path: Path) -> None:
    parts = open_studio("process", monitoring=True, channels=(1,))
    path = input_of(parts)
    with JackPlayer(into=jack_ports.studio_ports("in", 1), tone_hz=440.0, level=0.99):  # hotter than the ceiling
        heard = record_output(1.0, tmp_path / "on.wav")
        path.monitoring = False
        time.sleep(0.2)  # the fade-out and the device buffers
        quiet = record_output(0.5, tmp_path / "off.wav")
    assert heard.shape[1] == 2 and np.abs(heard).max() <= CEILING + 1e-4  # jack_rec's 16 bits round
    rms = np.sqrt(np.mean(heard[-24000:] ** 2, axis=0))
    np.testing.assert_allclose(rms, CEILING / np.sqrt(2), rtol=0.02)  # the tone, on both outputs
    assert not np.abs(quiet).max() > 1e-4  # transport stopped, monitoring off: silence


def _start_named_server(name: str) -> subprocess.Popen:
    proc = start_jackd(name)  # not the fixture: this test kills the server and starts it again
    assert proc is not None, f"JACK dummy server {name} did not start"
    return proc


def test_input_device_loss_keeps_the_take_going_and_the_input_comes_back(monkeypatch, tmp_path: Path) -> None:
    name = "lmdvanish"  # fixed: JACK reclaims a killed server's registry slot only for the same name
    monkeypatch.setenv("JACK_DEFAULT_SERVER", name)  # the device process inherits this
    server = _start_named_server(name)
    messages: list[str] = []
    parts = studio("process", notify=messages.append)
    path = input_of(parts)
    recorder = Recorder()
    parts.capture.add_sink(recorder)
    parts.capture.add_track_sink(recorder)
    try:
        parts.start()
        parts.engine.send(cmd.Play())
        assert wait_for(lambda: path.running, 15), path.message
        take = recorder.start(tmp_path / "take.wav", 48000, 2, "wav", tracks=TrackFormat(2))
        time.sleep(0.5)
        server.kill()
        server.wait()
        assert wait_for(lambda: not path.running, 5)
        assert "lost" in path.status().message
        end = path.tap.end_position
        assert wait_for(lambda: path.tap.end_position > end + 48000, 5)  # the input timeline goes on
        server = _start_named_server(name)
        assert wait_for(lambda: path.running, 20), path.message
        assert any("back" in m for m in messages)
        loop_back()
        assert measure_roundtrip(path).found  # the input hears the studio again
        result = recorder.stop()
        assert parts.engine.metrics.callback_errors == 0
    finally:
        parts.stop()
        server.terminate()
        server.wait(5)
    assert result.ok, result.error
    lengths = {len(sf.read(str(f))[0]) for f in (take, track_path(take, "input"), track_path(take, "generated"))}
    assert len(lengths) == 1 and lengths.pop() > 2 * 48000  # one timeline through the loss, in all three
