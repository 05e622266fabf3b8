"""Data for the audio–text encoder: (4 s crop, description) pairs, fixed evaluation windows, retrieval.

Training draws items uniformly (each item is one description, so short one-shots count as much as long
renders) and a random crop within the item; a batch depends only on (seed, step), so a resumed run sees the
batches an uninterrupted one would. Evaluation uses the windows of eval/data.py (the same ones `lmd eval`
scores), so the encoder is validated on exactly the kind of input it will embed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from lmd_studio.data.corpus import Corpus
from lmd_studio.data.splits import stable_hash
from lmd_studio.dsp.resample import resample
from lmd_studio.training.eval.data import cut_windows


@dataclass(frozen=True, slots=True)
class LabelledWindows:
    audio: np.ndarray  # [n, N] float32 mono
    text_ids: np.ndarray  # [n] index into `texts`
    item_ids: tuple[str, ...]  # [n] which item each window came from
    texts: tuple[str, ...]  # unique descriptions

    def __len__(self) -> int:
        return int(self.audio.shape[0])


class CaptionedAudio:
    """One split held in memory as int16 mono at the encoder's rate (1 h ≈ 320 MB)."""

    def __init__(self, corpus_dir: str | Path, split: str, sample_rate_hz: int, seed: int = 0,
                 max_items: int | None = None) -> None:
        corpus = Corpus.open(corpus_dir)
        items = corpus.items(split)[:max_items]
        if not items:
            raise ValueError(f"{corpus_dir}: split {split!r} has no items")
        self.split, self.seed, self.sample_rate_hz = split, seed, sample_rate_hz
        self.texts: tuple[str, ...] = tuple(sorted({it.description for it in items}))
        index = {t: i for i, t in enumerate(self.texts)}
        self.text_ids = np.array([index[it.description] for it in items], dtype=np.int64)
        self.item_ids = tuple(it.id for it in items)
        self.audio: list[np.ndarray] = []
        for it in items:
            x = corpus.load_audio(it).mean(axis=0)  # [C, N] → [N]
            if it.sample_rate_hz != sample_rate_hz:
                x = resample(x, it.sample_rate_hz, sample_rate_hz)
            self.audio.append(np.round(np.clip(x, -1, 1) * 32767).astype(np.int16))
        self.hours = sum(a.shape[0] for a in self.audio) / sample_rate_hz / 3600

    def __len__(self) -> int:
        return len(self.audio)

    def batch(self, step: int, batch_size: int, crop_frames: int) -> tuple[torch.Tensor, torch.Tensor]:
        """([B, crop_frames] float audio, [B] text ids) for training step `step`."""
        rng = np.random.default_rng(stable_hash(self.seed, "audiotext", self.split, step))
        picks = rng.integers(0, len(self.audio), size=batch_size)
        out = np.zeros((batch_size, crop_frames), dtype=np.float32)
        for row, i in enumerate(picks):
            clip = self.audio[i]
            start = int(rng.integers(0, clip.shape[0] - crop_frames + 1)) if clip.shape[0] > crop_frames else 0
            piece = clip[start:start + crop_frames].astype(np.float32) / 32767.0
            out[row, :piece.shape[0]] = piece
        return torch.from_numpy(out), torch.from_numpy(self.text_ids[picks])

    def windows(self, window_frames: int, hop_frames: int, max_frames: int | None = None,
                max_windows: int | None = None) -> LabelledWindows:
        """The evaluation windows of every item (first `max_frames` of each), optionally thinned evenly."""
        audio, ids, owners = [], [], []
        for clip, text_id, item_id in zip(self.audio, self.text_ids, self.item_ids):
            w = cut_windows(clip[:max_frames].astype(np.float32) / 32767.0, window_frames, hop_frames)
            audio.append(w)
            ids += [int(text_id)] * w.shape[0]
            owners += [item_id] * w.shape[0]
        stacked, text_ids = np.concatenate(audio), np.array(ids, dtype=np.int64)
        if max_windows is not None and stacked.shape[0] > max_windows:
            keep = np.linspace(0, stacked.shape[0] - 1, max_windows).round().astype(int)
            stacked, text_ids, owners = stacked[keep], text_ids[keep], [owners[i] for i in keep]
        return LabelledWindows(stacked, text_ids, tuple(owners), self.texts)


def retrieval_metrics(audio_emb: torch.Tensor, text_ids: torch.Tensor, text_emb: torch.Tensor,
                      prefix: str = "") -> dict[str, float]:
    """Audio→text and text→audio retrieval among the descriptions present in the set.

    audio_emb [n, E], text_ids [n], text_emb [U, E] (unit vectors). a2t: rank of a window's own
    description among all U; t2a: whether the best-matching window of a description is one of its own.
    Chance levels: a2t R@1 = 1/U, t2a R@1 ≈ (windows per description) / n.
    """
    present = torch.unique(text_ids)
    sims = audio_emb @ text_emb[present].T  # [n, U']
    own = (present[None, :] == text_ids[:, None])  # [n, U'] exactly one True per row
    own_sim = sims[own]  # [n]
    rank_a2t = (sims > own_sim[:, None]).sum(1)  # 0 = first
    best_window = sims.argmax(0)  # [U']
    t2a_hit = (text_ids[best_window] == present).float()
    return {f"{prefix}r1_a2t": float((rank_a2t == 0).float().mean()),
            f"{prefix}r5_a2t": float((rank_a2t < 5).float().mean()),
            f"{prefix}mrr_a2t": float((1.0 / (rank_a2t.float() + 1)).mean()),
            f"{prefix}r1_t2a": float(t2a_hit.mean()),
            f"{prefix}chance_r1_a2t": 1.0 / len(present),
            f"{prefix}descriptions": float(len(present)), f"{prefix}windows": float(len(text_ids))}
