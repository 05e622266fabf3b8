"""Deterministic training batches of latent windows.

A batch depends only on (seed, split, step, rank), so a resumed run sees exactly the batches an
uninterrupted one would, and data-parallel replicas each see their own share of the global batch.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from lmd_studio.data.splits import stable_hash
from lmd_studio.training.latents import LatentSet
from lmd_studio.training.text_bank import TextBank


@dataclass(frozen=True, slots=True)
class WindowBatch:
    latents: torch.Tensor  # [B, T, C]
    controls: torch.Tensor  # [B, T, 15] control values in knob units (not masked yet)
    text_ids: torch.Tensor  # [B] rows of the TextBank
    clock: torch.Tensor | None = None  # [B, T, 6] musical clock channels (zeros: no known grid)

    def to(self, device: torch.device | str) -> WindowBatch:
        return WindowBatch(self.latents.to(device), self.controls.to(device), self.text_ids,
                           None if self.clock is None else self.clock.to(device))

    def rows(self, n: int) -> WindowBatch:
        return WindowBatch(self.latents[:n], self.controls[:n], self.text_ids[:n],
                           None if self.clock is None else self.clock[:n])

    def frames(self, n: int) -> WindowBatch:
        """The first `n` frames of every window."""
        return WindowBatch(self.latents[:, :n], self.controls[:, :n], self.text_ids,
                           None if self.clock is None else self.clock[:, :n])


class WindowSampler:
    def __init__(self, data: LatentSet, bank: TextBank, frames: int, seed: int) -> None:
        self.data, self.bank, self.frames, self.seed = data, bank, frames, seed
        lengths = np.array([max(len(it.latents), 1) for it in data.items], dtype=np.float64)
        self._p = lengths / lengths.sum()  # longer items are drawn proportionally more often
        self._text = bank.ids([it.description for it in data.items])

    def batch(self, step: int, batch_size: int, rank: int = 0) -> WindowBatch:
        rng = np.random.default_rng(stable_hash(self.seed, self.data.split, step, rank))
        picks = rng.choice(len(self.data.items), size=batch_size, p=self._p)
        windows = [self.data.window(int(i), self.frames, rng) for i in picks]
        return self._stack(windows, picks)

    def _stack(self, windows: list[tuple[np.ndarray, np.ndarray, np.ndarray]], picks: np.ndarray) -> WindowBatch:
        z = torch.from_numpy(np.stack([w[0] for w in windows]))  # [B, T, C]
        c = torch.from_numpy(np.stack([w[1] for w in windows]))  # [B, T, 15]
        clock = torch.from_numpy(np.stack([w[2] for w in windows]))  # [B, T, 6]
        return WindowBatch(z, c, self._text[torch.from_numpy(picks)], clock)

    def fixed(self, count: int) -> WindowBatch:
        """A deterministic evaluation batch spread over the split's items."""
        rng = np.random.default_rng(stable_hash(self.seed, self.data.split, "fixed"))
        n = len(self.data.items)
        picks = np.linspace(0, n - 1, num=count).astype(int) if n >= count else rng.integers(0, n, size=count)
        windows = [self.data.window(int(i), self.frames, rng) for i in picks]
        return self._stack(windows, picks)
