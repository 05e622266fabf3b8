"""`BusyTorchGenerator`: a stand-in for a heavy model when benchmarking the real-time engine.

It wraps any BlockGenerator and, for every block, first spends a fixed fraction of that block's real-time
duration doing real torch matmuls on `threads` threads (so the CPU, the GIL hand-offs and the memory
traffic look like a model's), then returns the wrapped generator's block unchanged. The engine benchmark
uses it as "a generator that spends 60% of each block's real-time budget computing".
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from lmd_studio.core.generator import BlockControls, BlockGenerator, WrappedGenerator


class BusyTorchGenerator(WrappedGenerator):
    """Implements BlockGenerator by delegation; `busy_fraction` of each block's duration is torch work."""

    def __init__(self, inner: BlockGenerator, busy_fraction: float = 0.6, *, threads: int | None = 2,
                 matrix_size: int = 192, clock: Callable[[], float] = time.perf_counter) -> None:
        if not 0.0 <= busy_fraction < 1.0:
            raise ValueError(f"busy_fraction must be in [0, 1), got {busy_fraction}")
        if matrix_size < 8:
            raise ValueError(f"matrix_size must be >= 8, got {matrix_size}")
        if threads is not None:
            torch.set_num_threads(int(threads))  # process-wide, as the real model sets it
        super().__init__(inner)
        self.busy_fraction = float(busy_fraction)
        self._clock = clock  # seconds; injectable so tests check the deadline logic without wall time
        gen = torch.Generator().manual_seed(0)
        # a small matmul (≈ 0.1 ms) so the deadline is met to within a fraction of a millisecond
        self._a = torch.randn(matrix_size, matrix_size, generator=gen) / matrix_size ** 0.5
        self._b = torch.randn(matrix_size, matrix_size, generator=gen) / matrix_size ** 0.5
        self._flops_per_matmul = 2 * matrix_size ** 3
        self.matmuls_last = 0
        self.busy_s_last = 0.0

    @property
    def name(self) -> str:
        return f"busy{int(round(self.busy_fraction * 100))}({self.inner.name})"

    @property
    def busy_s_per_block(self) -> float:
        return self.busy_fraction * self.block_frames / self.sample_rate

    @property
    def gflop_last(self) -> float:
        return self.matmuls_last * self._flops_per_matmul / 1e9

    def generate_block(self, state: Any, controls: BlockControls) -> tuple[np.ndarray, Any]:
        start = self._clock()
        deadline = start + self.busy_s_per_block
        count = 0
        with torch.inference_mode():
            acc = self._a
            while self._clock() < deadline:
                acc = torch.tanh(acc @ self._b)  # tanh keeps values bounded over any number of rounds
                count += 1
        self.matmuls_last = count
        self.busy_s_last = self._clock() - start
        return self.inner.generate_block(state, controls)
