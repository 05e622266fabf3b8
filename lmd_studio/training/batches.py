"""Deterministic training batches of latent windows.

A batch depends only on (seed, split, step, rank), so a resumed run sees exactly the batches an
uninterrupted one would, and data-parallel replicas each see their own share of the global batch.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from lmd_studio.core.musical_key import parse_key
from lmd_studio.data.splits import stable_hash
from lmd_studio.model.conditioning import accompaniment_features
from lmd_studio.training.latents import LatentSet
from lmd_studio.training.partner import PartnerPlan, choose_partner
from lmd_studio.training.text_bank import TextBank


@dataclass(frozen=True, slots=True)
class WindowBatch:
    latents: torch.Tensor  # [B, T, C]
    controls: torch.Tensor  # [B, T, 15] control values in knob units (not masked yet)
    text_ids: torch.Tensor  # [B] rows of the TextBank
    clock: torch.Tensor | None = None  # [B, T, 6] musical clock channels (zeros: no known grid)
    # [B, T, C + 1] partner latents + visibility bit (training/partner.py); None: no jam training
    accomp: torch.Tensor | None = None
    # [B, 12] the key knob's profile of each item's labelled key (NaN rows: no key from its notes)
    key_profile: torch.Tensor | None = None

    def to(self, device: torch.device | str) -> WindowBatch:
        return WindowBatch(self.latents.to(device), self.controls.to(device), self.text_ids,
                           None if self.clock is None else self.clock.to(device),
                           None if self.accomp is None else self.accomp.to(device),
                           None if self.key_profile is None else self.key_profile.to(device))

    def rows(self, n: int) -> WindowBatch:
        return WindowBatch(self.latents[:n], self.controls[:n], self.text_ids[:n],
                           None if self.clock is None else self.clock[:n],
                           None if self.accomp is None else self.accomp[:n],
                           None if self.key_profile is None else self.key_profile[:n])

    def frames(self, n: int) -> WindowBatch:
        """The first `n` frames of every window."""
        return WindowBatch(self.latents[:, :n], self.controls[:, :n], self.text_ids,
                           None if self.clock is None else self.clock[:, :n],
                           None if self.accomp is None else self.accomp[:, :n], self.key_profile)


def key_profile(key: str | None) -> np.ndarray:
    """The 12 pitch-class values the studio's key knob sends for `key` (NaN × 12 when None or unreadable)."""
    if key:
        try:
            return np.array(parse_key(key).chroma_profile(), dtype=np.float32)
        except ValueError:
            pass
    return np.full(12, np.nan, dtype=np.float32)


class WindowSampler:
    def __init__(self, data: LatentSet, bank: TextBank, frames: int, seed: int,
                 partner: PartnerPlan | None = None) -> None:
        self.data, self.bank, self.frames, self.seed, self.partner = data, bank, frames, seed, partner
        lengths = np.array([max(len(it.latents), 1) for it in data.items], dtype=np.float64)
        self._p = lengths / lengths.sum()  # longer items are drawn proportionally more often
        self._text = bank.ids([it.description for it in data.items])
        self._key_profiles = torch.tensor(np.array([key_profile(it.key) for it in data.items]), dtype=torch.float32)

    def batch(self, step: int, batch_size: int, rank: int = 0) -> WindowBatch:
        rng = np.random.default_rng(stable_hash(self.seed, self.data.split, step, rank))
        picks = rng.choice(len(self.data.items), size=batch_size, p=self._p)
        starts = [self.data.window_start(int(i), self.frames, rng) for i in picks]
        # jam decisions from their own stream: with no partner plan the batches are those drawn before it existed
        partner_rng = np.random.default_rng(stable_hash(self.seed, self.data.split, step, rank, "partner"))
        return self._stack(picks, starts, partner_rng)

    def _stack(self, picks: np.ndarray, starts: list[int], partner_rng: np.random.Generator) -> WindowBatch:
        windows, accomp = [], []
        for i, start in zip(picks, starts):
            item = self.data.items[int(i)]
            choice = choose_partner(item, self.partner, partner_rng) if self.partner else None
            windows.append(self.data.cut(int(i), start, self.frames, None if choice is None else choice.target))
            if self.partner is not None:
                partner = None if choice is None else torch.from_numpy(
                    self.data.cut(int(i), start, self.frames, choice.partner)[0].copy())
                accomp.append(accompaniment_features(partner, self.frames, self.data.latent_channels,
                                                     None if choice is None else choice.visible_frames))
        z = torch.from_numpy(np.stack([w[0] for w in windows]))  # [B, T, C]
        c = torch.from_numpy(np.stack([w[1] for w in windows]))  # [B, T, 15]
        clock = torch.from_numpy(np.stack([w[2] for w in windows]))  # [B, T, 6]
        return WindowBatch(z, c, self._text[torch.from_numpy(picks)], clock,
                           torch.stack(accomp) if self.partner is not None else None,
                           self._key_profiles[torch.from_numpy(picks)])

    def fixed(self, count: int) -> WindowBatch:
        """A deterministic evaluation batch spread over the split's items."""
        rng = np.random.default_rng(stable_hash(self.seed, self.data.split, "fixed"))
        n = len(self.data.items)
        picks = np.linspace(0, n - 1, num=count).astype(int) if n >= count else rng.integers(0, n, size=count)
        starts = [self.data.window_start(int(i), self.frames, rng) for i in picks]
        return self._stack(picks, starts, np.random.default_rng(stable_hash(self.seed, self.data.split, "fixed-partner")))
