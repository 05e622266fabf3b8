"""The audio input on the Null backend with its fake twin (a loopback cable whose true delay the test knows):
placement on the output's timeline, calibration against a known impulse, and input device loss and return."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import numpy as np
import pytest

from lmd_studio.app.engine_parts import EngineParts, build_engine, make_backend, make_mailbox
from lmd_studio.audio.calibration import calibrate, make_click, measure_roundtrip
from lmd_studio.audio.fake_input import LoopbackInput
from lmd_studio.audio.input_path import InputConfig, InputPath
from lmd_studio.core.fake import FakeBlockGenerator
from lmd_studio.engine import commands as cmd


def wait_for(predicate: Callable[[], bool], timeout_s: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def studio(fake: LoopbackInput, correction: int = 0, channels: tuple[int, ...] = (1,)) -> EngineParts:
    gen = FakeBlockGenerator(sample_rate=48000, channels=2, block_seconds=0.25)
    backend = make_backend("null", buffer_frames=256, fake_input=fake,
                           input_config=InputConfig(channels=channels, latency_correction_frames=correction))
    return build_engine(gen, backend, make_mailbox(gen))


@pytest.fixture()
def running() -> Iterator[Callable[..., EngineParts]]:
    started: list[EngineParts] = []

    def start(fake: LoopbackInput, **kw: object) -> EngineParts:
        parts = studio(fake, **kw)  # type: ignore[arg-type]
        parts.start()
        started.append(parts)
        assert parts.input is not None and wait_for(lambda: parts.input is not None and parts.input.running)
        return parts

    yield start
    for parts in started:
        parts.stop()


def path_of(parts: EngineParts) -> InputPath:
    assert parts.input is not None
    return parts.input


def test_a_click_reads_back_where_it_was_played_when_the_device_reports_its_latency(running) -> None:
    path = path_of(running(LoopbackInput(delay_frames=1000, reported_frames=1000)))
    m = measure_roundtrip(path)
    assert m.found and m.error_frames == 0 and m.confidence > 0.99
    # the tap holds the click itself at the output position it started at
    click = make_click(48000)
    heard = path.tap.read(m.click_position + len(click), len(click))[:, 0]
    np.testing.assert_allclose(heard, click, atol=1e-7)


def test_calibration_finds_what_the_device_did_not_report_and_then_lines_up_exactly(running) -> None:
    path = path_of(running(LoopbackInput(delay_frames=1300, reported_frames=1024)))  # 276 frames unreported
    result = calibrate(path)
    assert result.ok
    assert result.before.error_frames == 276
    assert result.correction_frames == 276 and path.roundtrip_frames == 1300
    assert result.after is not None and result.after.error_frames == 0
    assert abs(measure_roundtrip(path).error_ms) <= 1.0


def test_a_negative_error_is_found_too(running) -> None:
    path = path_of(running(LoopbackInput(delay_frames=512, reported_frames=1024)))  # JACK's self-loop case
    result = calibrate(path)
    assert result.ok and result.before.error_frames == -512 and result.after is not None
    assert result.after.error_frames == 0


def test_without_a_loopback_the_click_is_not_found_and_nothing_changes(running) -> None:
    path = path_of(running(LoopbackInput(delay_frames=500, gain=0.0)))
    result = calibrate(path)
    assert not result.ok and "did not come back" in result.before.message
    assert path.correction_frames == 0


def test_input_device_loss_and_return(running) -> None:
    """Unplugged: no crash, the input says so, its timeline moves on with silence; plugged back: it runs and
    lines up again."""
    fake = LoopbackInput(delay_frames=700)
    parts = running(fake)
    path = path_of(parts)
    parts.engine.send(cmd.Play())
    assert wait_for(lambda: parts.engine.metrics.primed)
    fake.connected = False
    assert wait_for(lambda: not path.running)
    assert "lost" in path.status().message
    end = path.tap.end_position
    assert wait_for(lambda: path.tap.end_position > end + 24000)  # half a second more of (silent) input
    assert not path.tap.read(path.tap.end_position, 4800).any()
    fake.connected = True
    assert wait_for(lambda: path.running)
    assert measure_roundtrip(path).error_frames == 0
    assert parts.engine.metrics.callback_errors == 0


def test_no_fake_device_means_a_silent_input_that_still_moves_on() -> None:
    gen = FakeBlockGenerator(sample_rate=48000, channels=2, block_seconds=0.25)
    backend = make_backend("null", buffer_frames=256, input_config=InputConfig())
    parts = build_engine(gen, backend, make_mailbox(gen))
    parts.start()
    try:
        path = path_of(parts)
        assert wait_for(lambda: path.tap.end_position > 9600)
        assert not path.running and path.status().message
        assert not measure_roundtrip(path).found
    finally:
        parts.stop()


def test_input_config_is_validated() -> None:
    with pytest.raises(ValueError, match="channels"):
        InputConfig(channels=(1, 1))
    with pytest.raises(ValueError, match="channels"):
        InputConfig(channels=(1, 2, 3))
    assert InputConfig(channels=(3, 4)).columns == (2, 3) and InputConfig(channels=(3, 4)).open_channels == 4
