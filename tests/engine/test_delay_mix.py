"""Generative delay's Dry/Wet in the studio's output: the output stage's gain (master × wet while Jam and
Delay are both on), the input's monitor gain (dry then, else 1), and the recording's mix at the monitor
level the player hears."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lmd_studio.core.fake import FakeBlockGenerator
from lmd_studio.core.generator import BlockControls
from lmd_studio.core.params import DELAY, DELAY_TIME, DRY_WET, JAM, MASTER_GAIN, STANDARD_PARAMS
from lmd_studio.core.units import db_to_gain
from lmd_studio.engine import commands as cmd
from lmd_studio.engine.delay_mix import delay_engaged, monitor_gain, output_gain
from lmd_studio.engine.sinks import AlignedTracks
from lmd_studio.engine.track_align import TrackAligner
from lmd_studio.engine.worker import EngineConfig, GenerationEngine
from lmd_studio.rt.input_tap import InputTap
from lmd_studio.rt.mailbox import ParamMailbox
from lmd_studio.rt.offset_log import OffsetLog

MASTER_DB = -6.0


def controls(**values: float) -> BlockControls:
    return BlockControls(values={"master_gain_db": MASTER_DB, **values})


def test_without_delay_the_output_is_the_master_gain_and_the_monitor_unchanged() -> None:
    master = db_to_gain(MASTER_DB)
    for c in (controls(),  # the test tones: no jam controls at all
              controls(jam=1.0, delay=0.0, dry_wet=0.2),  # jam, accompanying
              controls(jam=0.0, delay=1.0, dry_wet=0.2),  # delay switched on, jam off: nothing heard
              controls(jam=1.0, delay=1.0)):  # no Dry/Wet in this registry
        assert not delay_engaged(c)
        assert output_gain(c) == master
        assert monitor_gain(c) == 1.0


@pytest.mark.parametrize("mix", [0.0, 0.25, 0.5, 0.9])
def test_with_delay_the_model_plays_at_the_wet_gain_and_the_input_at_the_dry(mix: float) -> None:
    c = controls(jam=1.0, delay=1.0, dry_wet=mix)
    wet, dry = math.sin(0.5 * math.pi * mix), math.cos(0.5 * math.pi * mix)
    assert delay_engaged(c)
    assert output_gain(c) == pytest.approx(db_to_gain(MASTER_DB) * wet, abs=1e-12)
    assert monitor_gain(c) == pytest.approx(dry, abs=1e-12)
    assert output_gain(c) < db_to_gain(MASTER_DB)


def test_all_wet_leaves_the_output_exactly_as_it_was() -> None:
    c = controls(jam=1.0, delay=1.0, dry_wet=1.0)
    assert output_gain(c) == db_to_gain(MASTER_DB)  # exactly
    assert monitor_gain(c) == 0.0  # and none of the player's own input


class _Sink:
    def __init__(self) -> None:
        self.got: list[AlignedTracks] = []

    def consume_tracks(self, tracks: AlignedTracks, capture_position: int) -> None:
        self.got.append(tracks)


@pytest.mark.parametrize("level", [0.0, 0.5, 1.0])
def test_the_recorded_mix_has_the_input_at_the_monitor_level(level: float) -> None:
    tap = InputTap(1 << 15, 1)
    tap.write(0, np.full((4096, 1), 0.2, np.float32))
    log = OffsetLog()
    log.note(0, 0, 4096)  # capture position = output position
    aligner = TrackAligner(tap, log, lambda: level, 48000, 2)
    sink = _Sink()
    aligner.add_sink(sink)
    generated = np.full((1024, 2), 0.1, np.float32)
    aligner.consume(generated, 0)
    assert aligner.pump() == 1024
    (tracks,) = sink.got
    np.testing.assert_allclose(tracks.mix, 0.1 + 0.2 * level, rtol=1e-6)
    np.testing.assert_array_equal(tracks.generated, generated)


def test_a_dry_wet_move_reaches_the_output_gain_without_regenerating() -> None:
    """Dry/Wet is an output-stage control: the worker takes it like the volume, with no splice."""
    gen = FakeBlockGenerator(sample_rate=8000, channels=1, block_seconds=0.25)
    mb = ParamMailbox(STANDARD_PARAMS.merged((JAM, DELAY, DELAY_TIME, DRY_WET)))
    mb.set(MASTER_GAIN.name, 0.0)
    for name in (JAM.name, DELAY.name):
        mb.set(name, 1.0)
    config = EngineConfig(device_sample_rate_hz=8000, device_channels=1, prime_blocks=2, ahead_s=1.0, ring_s=4.0,
                          low_latency=True, crossfade_s=0.005)
    e = GenerationEngine(gen, mb, config, max_buffer_frames=1024)
    assert e.output.gain.target_gain == 1.0  # all wet: the master gain alone
    e.send(cmd.Play())
    buf = np.zeros((64, 1), np.float32)
    for _ in range(16):
        e.step()
        e.output.render(buf)
    model_version = mb.model_version
    mb.set(DRY_WET.name, 0.5)
    e.step()
    assert mb.model_version == model_version and e.stats.splices == 0
    assert e.output.gain.target_gain == pytest.approx(math.sin(0.25 * math.pi))
    mb.set(DELAY.name, 0.0)  # delay off: full level again
    e.step()
    assert e.output.gain.target_gain == 1.0


def test_the_look_ahead_shortens_under_generative_delay_so_the_model_hears_what_it_answers() -> None:
    from lmd_studio.engine.delay_mix import delay_lookahead_s

    assert delay_lookahead_s(controls(jam=1.0, delay=0.0, dry_wet=1.0, delay_s=1.0), 0.74, 1.5) == 1.5
    assert delay_lookahead_s(controls(jam=1.0, delay=1.0, dry_wet=1.0, delay_s=1.0), 0.74, 1.5) == pytest.approx(0.26)
    assert delay_lookahead_s(controls(jam=1.0, delay=1.0, dry_wet=1.0, delay_s=4.0), 0.74, 1.5) == 1.5  # room enough
    assert delay_lookahead_s(controls(jam=1.0, delay=1.0, dry_wet=1.0, delay_s=0.5), 0.74, 1.5) == 0.0

    gen = FakeBlockGenerator(sample_rate=8000, channels=1, block_seconds=0.25)
    mb = ParamMailbox(STANDARD_PARAMS.merged((JAM, DELAY, DELAY_TIME, DRY_WET)))
    config = EngineConfig(device_sample_rate_hz=8000, device_channels=1, prime_blocks=2, ahead_s=1.5, ring_s=4.0)
    e = GenerationEngine(gen, mb, config, max_buffer_frames=1024)
    e.send(cmd.Play())
    buf = np.zeros((64, 1), np.float32)

    def queued_after(seconds: float) -> int:
        most = 0
        for _ in range(int(seconds * 8000 / 64)):
            e.step()
            e.output.render(buf)
            most = max(most, e.ring.readable_frames)
        return most

    assert e._ahead_frames() == 1.5 * 8000
    assert queued_after(3.0) >= 1.5 * 8000  # accompanying (or solo): 1.5 s generated ahead
    for name, value in ((JAM.name, 1.0), (DELAY.name, 1.0), (DELAY_TIME.name, 0.75)):
        mb.set(name, value)
    e.step()
    floor = e.safety_frames + 2 * e.regen_frames
    assert e._ahead_frames() == pytest.approx(max(0.5 * 8000, floor))  # d − one block, or one generation
    queued_after(2.0)  # the queue drains down to the shorter look-ahead ...
    most = queued_after(2.0)
    assert most <= e._ahead_frames() + e.block_device_frames + 64  # ... and stays there: one block beyond it
    assert e.metrics.underruns == 0
