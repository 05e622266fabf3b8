"""BusyTorchGenerator: real torch work for a set fraction of each block, then the wrapped audio."""

from __future__ import annotations

import numpy as np
import pytest

from lmd_studio.bench.busy_generator import BusyTorchGenerator
from lmd_studio.core.fake import FakeBlockGenerator
from lmd_studio.core.generator import BlockControls, BlockGenerator


class _SteppingClock:
    """A clock that moves `step_s` each time it is read: the deadline logic without wall time."""

    def __init__(self, step_s: float) -> None:
        self.now, self.step_s, self.reads = 100.0, step_s, 0

    def __call__(self) -> float:
        self.now += self.step_s
        self.reads += 1
        return self.now


def test_spends_the_fraction_and_returns_the_inner_audio() -> None:
    inner = FakeBlockGenerator(sample_rate=8000, channels=2, block_seconds=0.1)
    clock = _SteppingClock(0.005)  # every matmul round "takes" 5 ms
    busy = BusyTorchGenerator(inner, 0.6, threads=None, clock=clock)
    assert isinstance(busy, BlockGenerator)
    assert busy.block_frames == inner.block_frames and busy.channels == 2 and "busy60" in busy.name
    controls = BlockControls(values={"loudness": 0.7})
    state = busy.init_state(3)
    audio, nxt = busy.generate_block(state, controls)
    ref, ref_next = inner.generate_block(inner.init_state(3), controls)
    assert np.array_equal(audio, ref) and nxt == ref_next
    # 60 % of a 0.1-s block = 60 ms: a round per clock step until the deadline passes, and not one more
    # (the clock is read once at the start, once per check, once at the end)
    assert busy.matmuls_last == clock.reads - 3 and 11 <= busy.matmuls_last <= 12
    assert busy.busy_s_per_block <= busy.busy_s_last <= busy.busy_s_per_block + 2 * clock.step_s
    assert busy.gflop_last > 0
    # and with the real clock it works and returns (the time it takes is the engine benchmark's business)
    real = BusyTorchGenerator(inner, 0.6, threads=None)
    real.generate_block(real.init_state(3), controls)
    assert real.matmuls_last > 0 and real.busy_s_last >= 0.06


def test_zero_fraction_does_no_work_and_bad_fraction_is_rejected() -> None:
    busy = BusyTorchGenerator(FakeBlockGenerator(block_seconds=0.05), 0.0, threads=None)
    busy.generate_block(busy.init_state(0), BlockControls())
    assert busy.matmuls_last == 0
    with pytest.raises(ValueError, match="busy_fraction"):
        BusyTorchGenerator(FakeBlockGenerator(), 1.2)
