"""The model hears the engine's bar position at each block's first sample: its bars stay on the engine's
bar lines across a tempo change (the block after it starts where the engine's clock says, not where the
model's own count would have drifted to)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from lmd_studio.core.fake import FakeBlockGenerator
from lmd_studio.core.generator import BlockControls
from lmd_studio.core.params import STANDARD_PARAMS
from lmd_studio.engine import commands as cmd
from lmd_studio.engine.worker import EngineConfig, GenerationEngine
from lmd_studio.rt.mailbox import ParamMailbox

RATE = 8000


class Recording(FakeBlockGenerator):
    """The fake generator, keeping the controls of every block it made (block index → controls)."""

    def __init__(self) -> None:
        super().__init__(sample_rate=RATE, channels=1, block_seconds=0.3)
        self.seen: list[BlockControls] = []
        self.by_state: dict[int, BlockControls] = {}  # id(state generated from) → the newest controls

    def generate_block(self, state: Any, controls: BlockControls) -> tuple[np.ndarray, Any]:
        self.seen.append(controls)
        self.by_state[id(state)] = controls
        return super().generate_block(state, controls)


def test_each_block_starts_at_the_engine_clocks_bar_position() -> None:
    gen = Recording()
    mb = ParamMailbox(STANDARD_PARAMS)
    mb.set_bpm(120.0)
    engine = GenerationEngine(gen, mb, EngineConfig(device_sample_rate_hz=RATE, device_channels=1, ahead_s=1.0,
                                                    ring_s=4.0, limiter=None), max_buffer_frames=1024)
    engine.send(cmd.Play())
    buf = np.zeros((64, 1), np.float32)
    for k in range(400):
        if k == 150:
            mb.set_bpm(90.0)  # a tempo change: the engine's clock bends at the block that starts it
        engine.step()
        engine.output.render(buf)
    positions = [c.bar_position_beats for c in gen.seen]
    assert all(p is not None for p in positions) and len(positions) > 10
    block = gen.block_frames
    # at a constant tempo the bar position advances by one block's beats (0.6 at 120 bpm), modulo the bar
    steps = [(b - a) % 4 for a, b in zip(positions, positions[1:])]
    assert steps[0] == pytest.approx(block / RATE * 120 / 60)
    assert any(s == pytest.approx(block / RATE * 90 / 60) for s in steps[-3:])
    # and every queued block's position is the engine clock's reading at its first sample
    queued = engine.queued_blocks
    assert len(queued) >= 2
    for q in queued:
        reading = engine.clock.map.reading(q.dev_start)
        made_with = gen.by_state[id(q.state_before)]
        assert reading is not None and made_with.bar_position_beats == pytest.approx(reading.beat_in_bar)
        assert made_with.bar_number == reading.bar - 1  # which bar, counted from 0 (a progression's chord)
    bars = [c.bar_number for c in gen.seen]
    assert bars[0] == 0 and max(b for b in bars if b is not None) >= 1  # the count runs on across bar lines


def test_no_tempo_no_bar_position() -> None:
    gen = Recording()
    engine = GenerationEngine(gen, ParamMailbox(STANDARD_PARAMS), EngineConfig(device_sample_rate_hz=RATE,
                              device_channels=1, ahead_s=0.5, ring_s=2.0, limiter=None), max_buffer_frames=1024)
    engine.send(cmd.Play())
    for _ in range(5):
        engine.step()
    assert gen.seen and all(c.bar_position_beats is None and c.bar_number is None for c in gen.seen)


def test_each_block_knows_its_stream_position_across_splices() -> None:
    """Jam mode lines the live input up with a block by the stream position the engine plays it at: every
    queued block was made knowing its own first ring position, also the blocks a splice regenerated."""
    gen = Recording()
    mb = ParamMailbox(STANDARD_PARAMS.merged(gen.param_specs))
    engine = GenerationEngine(gen, mb, EngineConfig(device_sample_rate_hz=RATE, device_channels=1, ahead_s=1.0,
                                                    ring_s=4.0, limiter=None), max_buffer_frames=1024)
    engine.send(cmd.Play())
    buf = np.zeros((64, 1), np.float32)
    for k in range(500):
        if k in (150, 300):
            mb.set("seed", float(k))  # a model control: the queued audio is regenerated (a splice)
            engine.wake()
        engine.step()
        engine.output.render(buf)
    assert engine.stats.splices >= 1
    queued = engine.queued_blocks
    assert len(queued) >= 2
    for q in queued:
        assert gen.by_state[id(q.state_before)].stream_position == q.dev_start
    starts = sorted({c.stream_position for c in gen.seen if c.stream_position is not None})
    assert len(starts) > 10 and starts[0] == 0
