"""Text embeddings of every description, computed once and cached next to the latents.

Training batches then index a table instead of running MiniLM per step. The cache file is keyed by the
encoder's name and width (`text-minilm-384.npz`); a description missing from it is encoded and the file
rewritten, so adding data never needs a manual rebuild.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from lmd_studio.model.conditioning import TextCondition
from lmd_studio.model.text_encoder import FakeTextEncoder, MiniLMTextEncoder, TextEncoder

TEXT_ENCODERS = ("minilm", "fake")


def make_text_encoder(name: str, dim: int, max_tokens: int) -> TextEncoder:
    if name == "minilm":
        return MiniLMTextEncoder(max_tokens=max_tokens)
    if name == "fake":
        return FakeTextEncoder(dim=dim, max_tokens=max_tokens)
    raise ValueError(f"unknown text encoder {name!r}; expected one of {TEXT_ENCODERS}")


class TextBank:
    """texts → padded token table [U, L, E], token mask [U, L], pooled [U, E]."""

    def __init__(self, texts: list[str], tokens: torch.Tensor, mask: torch.Tensor, pooled: torch.Tensor) -> None:
        self.texts = texts
        self.index = {t: i for i, t in enumerate(texts)}
        self.tokens, self.mask, self.pooled = tokens, mask, pooled

    @classmethod
    def build(cls, texts: Sequence[str], encoder: TextEncoder, max_tokens: int,
              cache: str | Path | None = None) -> TextBank:
        wanted = sorted(set(texts))
        have: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        if cache is not None and Path(cache).is_file():
            with np.load(cache, allow_pickle=False) as z:
                # read each array once: NpzFile decompresses the whole array on every z[key] access
                texts_arr, tokens_arr, mask_arr = z["texts"], z["tokens"], z["mask"]
            if tokens_arr.shape[1:] == (max_tokens, encoder.dim):
                for i, t in enumerate(texts_arr):
                    have[str(t)] = (tokens_arr[i], mask_arr[i])
        missing = [t for t in wanted if t not in have]
        if missing:
            embeddings = []
            for i in range(0, len(missing), 64):  # small chunks: the encoders memoise a bounded number of texts
                chunk = missing[i:i + 64]
                got = encoder.encode(chunk)
                if len(got) != len(chunk):
                    raise RuntimeError(f"text encoder returned {len(got)} embeddings for {len(chunk)} texts")
                embeddings.extend(got)
            for t, emb in zip(missing, embeddings):
                tok = np.zeros((max_tokens, encoder.dim), np.float32)
                n = min(max_tokens, emb.tokens.shape[0])
                tok[:n] = emb.tokens[:n].numpy()
                mask = np.zeros(max_tokens, bool)
                mask[:n] = True
                have[t] = (tok, mask)
            if cache is not None:
                everything = sorted(have)
                # one temp name per process: DDP replicas write the same table at once (a shared temp name
                # made one replica's rename fail); each rename is atomic and the contents are identical
                tmp = Path(cache).with_name(f"{Path(cache).name}.{os.getpid()}.tmp.npz")
                np.savez(tmp, texts=np.array(everything), tokens=np.stack([have[t][0] for t in everything]),
                         mask=np.stack([have[t][1] for t in everything]))
                tmp.replace(cache)
        tokens = torch.from_numpy(np.stack([have[t][0] for t in wanted]))  # [U, L, E]
        mask = torch.from_numpy(np.stack([have[t][1] for t in wanted]))  # [U, L]
        # pooled = L2-normalised masked mean, the same recipe the encoders use at inference
        m = mask.float()[..., None]
        pooled = torch.nn.functional.normalize((tokens * m).sum(1) / m.sum(1).clamp_min(1.0), dim=-1)
        return cls(list(wanted), tokens, mask, pooled)

    def condition(self, ids: torch.Tensor, drop: torch.Tensor | None = None) -> TextCondition:
        """A batch of single-prompt conditions [B] (rows with `drop` True become the null prompt)."""
        b = ids.shape[0]
        is_null = torch.zeros(b, dtype=torch.bool) if drop is None else drop.bool()
        return TextCondition(tokens=self.tokens[ids][:, None], token_mask=self.mask[ids][:, None],
                             weights=torch.ones(b, 1), pooled=self.pooled[ids][:, None], is_null=is_null)

    def ids(self, texts: Sequence[str]) -> torch.Tensor:
        return torch.tensor([self.index[t] for t in texts], dtype=torch.long)
