"""PeakGuard: the zero-latency ceiling for sums with the input (monitoring, a take's mix)."""

from __future__ import annotations

import numpy as np
import pytest

from lmd_studio.dsp.peak_guard import PeakGuard

CEILING = 10 ** (-1 / 20)


@pytest.mark.parametrize("seed", range(4))
def test_nothing_ever_leaves_above_the_ceiling(seed: int) -> None:
    rng = np.random.default_rng(seed)
    guard = PeakGuard(CEILING, 48000, 2, max_frames=1024)
    for _ in range(300):
        n = int(rng.integers(1, 1025))
        block = (rng.standard_normal((n, 2)) * rng.choice([0.05, 0.5, 3.0])).astype(np.float32)
        guard.process(block)
        assert np.abs(block).max() <= CEILING
    assert guard.reduced_buffers > 0 and guard.min_gain < 0.5


def test_below_the_ceiling_it_passes_bit_for_bit() -> None:
    guard = PeakGuard(CEILING, 48000, 2)
    block = (np.random.default_rng(0).uniform(-0.8, 0.8, (512, 2))).astype(np.float32)
    before = block.copy()
    guard.process(block)
    np.testing.assert_array_equal(block, before)
    assert guard.reduced_buffers == 0


def test_after_an_over_the_gain_comes_back_smoothly_to_exactly_one() -> None:
    guard = PeakGuard(CEILING, 48000, 1, max_frames=256, release_s=0.1)
    guard.process(np.full((256, 1), 2.0, np.float32))
    assert guard.gain == pytest.approx(CEILING / 2.0)
    gains = []
    for _ in range(40):  # 0.2 s of quiet buffers
        block = np.full((256, 1), 0.1, np.float32)
        guard.process(block)
        gains.append(float(block[-1, 0]) / 0.1)
        assert np.all(np.diff(block[:, 0]) >= -1e-7)  # rising within each buffer, no step down
    assert all(b >= a - 1e-6 for a, b in zip(gains, gains[1:], strict=False))
    assert guard.gain == 1.0
