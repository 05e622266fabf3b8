"""BusyTorchGenerator: real torch work for a set fraction of each block, then the wrapped audio."""

from __future__ import annotations

import time

import numpy as np
import pytest

from lmd_studio.bench.busy_generator import BusyTorchGenerator
from lmd_studio.core.fake import FakeBlockGenerator
from lmd_studio.core.generator import BlockControls, BlockGenerator


def test_spends_the_fraction_and_returns_the_inner_audio() -> None:
    inner = FakeBlockGenerator(sample_rate=8000, channels=2, block_seconds=0.1)
    busy = BusyTorchGenerator(inner, 0.6, threads=None)
    assert isinstance(busy, BlockGenerator)
    assert busy.block_frames == inner.block_frames and busy.channels == 2 and "busy60" in busy.name
    controls = BlockControls(values={"loudness": 0.7})
    state = busy.init_state(3)
    t0 = time.perf_counter()
    audio, nxt = busy.generate_block(state, controls)
    elapsed = time.perf_counter() - t0
    ref, ref_next = inner.generate_block(inner.init_state(3), controls)
    assert np.array_equal(audio, ref) and nxt == ref_next
    assert 0.06 <= busy.busy_s_last <= elapsed
    assert elapsed < 0.06 + 0.2, "busy time should end close to its deadline"
    assert busy.matmuls_last > 0 and busy.gflop_last > 0


def test_zero_fraction_does_no_work_and_bad_fraction_is_rejected() -> None:
    busy = BusyTorchGenerator(FakeBlockGenerator(block_seconds=0.05), 0.0, threads=None)
    busy.generate_block(busy.init_state(0), BlockControls())
    assert busy.matmuls_last == 0
    with pytest.raises(ValueError, match="busy_fraction"):
        BusyTorchGenerator(FakeBlockGenerator(), 1.2)
