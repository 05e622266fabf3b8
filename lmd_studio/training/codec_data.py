"""Audio crops for codec training, drawn deterministically from a built corpus.

The train split is held in memory as int16 (1 h of 44.1 kHz mono ≈ 320 MB); larger corpora are read from
disk per crop once `max_cache_mb` is reached. A batch depends only on (seed, step), so a resumed run trains
on exactly the batches an uninterrupted run would have seen.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from lmd_studio.data.corpus import Corpus
from lmd_studio.data.manifest import ManifestItem
from lmd_studio.data.splits import stable_hash


class CropSampler:
    def __init__(self, corpus_dir: str | Path, split: str, crop_frames: int, seed: int, hop_frames: int = 2048,
                 commercial_only: bool = True, max_cache_mb: float = 4000.0, max_items: int | None = None) -> None:
        self.corpus = Corpus.open(corpus_dir)
        items = self.corpus.items(split, commercial_only=commercial_only)
        if max_items is not None:
            items = items[:max_items]
        if not items:
            raise ValueError(f"{corpus_dir}: split {split!r} has no usable items "
                             f"(commercial_only={commercial_only})")
        self.items: list[ManifestItem] = items
        self.split, self.crop_frames, self.seed, self.hop_frames = split, crop_frames, seed, hop_frames
        self.crop_samples = crop_frames * hop_frames
        weights = np.array([it.num_frames for it in items], dtype=np.float64)
        self._p = weights / weights.sum()  # longer clips are drawn proportionally more often
        self._cache: dict[str, np.ndarray] = {}
        self._budget = max_cache_mb * 1e6

    @property
    def hours(self) -> float:
        return sum(it.duration_s for it in self.items) / 3600

    def _audio(self, item: ManifestItem, start: int, n: int) -> np.ndarray:
        if item.id in self._cache:
            return self._cache[item.id][:, start:start + n].astype(np.float32) / 32767.0
        if sum(a.nbytes for a in self._cache.values()) + item.num_frames * 2 * item.channels < self._budget:
            whole = self.corpus.load_audio(item)
            self._cache[item.id] = np.round(np.clip(whole, -1, 1) * 32767).astype(np.int16)
            return self._audio(item, start, n)
        return self.corpus.load_audio(item, start, n)

    def crop(self, item: ManifestItem, rng: np.random.Generator) -> np.ndarray:
        """[C, crop_samples] float32 from a random position (zero-padded when the clip is shorter)."""
        span = item.num_frames - self.crop_samples
        start = int(rng.integers(0, span + 1)) if span > 0 else 0
        x = self._audio(item, start, self.crop_samples)
        if x.shape[1] < self.crop_samples:
            x = np.pad(x, ((0, 0), (0, self.crop_samples - x.shape[1])))
        return x

    def batch(self, step: int, batch_size: int) -> torch.Tensor:
        """[B, C, crop_samples] for training step `step` (same step → same batch)."""
        rng = np.random.default_rng(stable_hash(self.seed, self.split, step))
        picks = rng.choice(len(self.items), size=batch_size, p=self._p)
        return torch.from_numpy(np.stack([self.crop(self.items[i], rng) for i in picks]))

    def fixed_set(self, count: int) -> torch.Tensor:
        """A deterministic evaluation set: `count` crops spread over the split's items."""
        rng = np.random.default_rng(stable_hash(self.seed, self.split, "fixed"))
        order = [self.items[i] for i in np.linspace(0, len(self.items) - 1, num=min(count, len(self.items))).astype(int)]
        while len(order) < count:
            order.append(self.items[int(rng.integers(len(self.items)))])
        return torch.from_numpy(np.stack([self.crop(it, rng) for it in order]))
