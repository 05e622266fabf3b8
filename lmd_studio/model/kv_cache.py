"""Immutable KV-cache records for the two streaming patterns.

Both hold every layer stacked in one tensor, `[L, B, H, N, dh]` (`L` layers, `N` cached frames), so a slide
or a re-rotation is one tensor operation for the whole network, not one per layer. Records are frozen and
their tensors are never written in place: a slide builds new tensors (`torch.cat`), so a generator state
that holds a cache can be kept and rewound to at no cost.

- `PrefixKV`: keys already rotated at their window positions + values; what attention consumes.
- `BlockCausalCache`: the persistent sliding cache. It stores keys *before* RoPE; `rotated(end)` places the
  cached frames at positions `end - N .. end - 1` of the current window. Positions therefore stay inside
  `0..T` forever (an hour-long stream uses the same angles as its first minute), and since keys are rotated
  from their stored form each block, nothing accumulates rounding error across slides.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from lmd_studio.model.attention import FreshKV
from lmd_studio.model.rope import RotaryTable, apply_rope


@dataclass(frozen=True, slots=True)
class PrefixKV:
    k: torch.Tensor  # [L, B, H, N, dh], rotated
    v: torch.Tensor  # [L, B, H, N, dh]

    @property
    def n_frames(self) -> int:
        return int(self.k.shape[-2])

    @classmethod
    def from_fresh(cls, fresh: Sequence[FreshKV], rows: slice, batch_row: int = 0) -> PrefixKV:
        """Stack the rotated keys / values of `rows` (one batch row) from every layer's fresh K/V."""
        b = slice(batch_row, batch_row + 1)
        k = torch.stack([f.k[b, :, rows] for f in fresh])  # [L, 1, H, n, dh]
        v = torch.stack([f.v[b, :, rows] for f in fresh])
        return cls(k, v)

    def layer(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.k[i], self.v[i]

    def drop_front_and_append(self, drop_frames: int, other: PrefixKV) -> PrefixKV:
        """`other` appended, then the oldest `drop_frames` of the whole let go (they may reach into `other`)."""
        if drop_frames <= self.n_frames:
            return PrefixKV(torch.cat([self.k[..., drop_frames:, :], other.k], dim=-2),
                            torch.cat([self.v[..., drop_frames:, :], other.v], dim=-2))
        rest = drop_frames - self.n_frames
        return PrefixKV(other.k[..., rest:, :], other.v[..., rest:, :])


@dataclass(frozen=True, slots=True)
class BlockCausalCache:
    k_raw: torch.Tensor  # [L, 1, H, N, dh], QK-normed keys before RoPE
    v: torch.Tensor  # [L, 1, H, N, dh]
    chunk_frames: int

    def __post_init__(self) -> None:
        if self.k_raw.shape != self.v.shape or self.k_raw.dim() != 5:
            raise ValueError(f"BlockCausalCache: k {tuple(self.k_raw.shape)} and v {tuple(self.v.shape)} "
                             "must both be [L, 1, H, N, dh]")
        if self.k_raw.shape[-2] % self.chunk_frames:
            raise ValueError(f"BlockCausalCache holds {self.k_raw.shape[-2]} frames, not whole chunks of "
                             f"{self.chunk_frames}")

    @classmethod
    def empty(cls, n_layers: int, n_heads: int, head_dim: int, chunk_frames: int,
              device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32) -> BlockCausalCache:
        z = torch.zeros(n_layers, 1, n_heads, 0, head_dim, device=device, dtype=dtype)
        return cls(z, z, chunk_frames)

    @property
    def n_frames(self) -> int:
        return int(self.k_raw.shape[-2])

    @property
    def n_chunks(self) -> int:
        return self.n_frames // self.chunk_frames

    @property
    def nbytes(self) -> int:
        return self.k_raw.element_size() * self.k_raw.numel() * 2

    def rotated(self, rope: RotaryTable, end_position: int) -> PrefixKV:
        """Keys rotated so the newest cached frame sits at window position `end_position - 1`."""
        n = self.n_frames
        if n == 0:
            return PrefixKV(self.k_raw, self.v)
        cos, sin = rope.tables(end_position - n, n)  # [N, dh], broadcast over [L, 1, H, N, dh]
        return PrefixKV(apply_rope(self.k_raw, cos, sin), self.v)

    def slid(self, fresh: Sequence[FreshKV], rows: slice, max_chunks: int) -> BlockCausalCache:
        """A new cache: append the whole chunks at `rows` of each layer's fresh K/V (batch row 0), keep the
        newest `max_chunks` chunks."""
        k_new = torch.stack([f.k_raw[:1, :, rows] for f in fresh])  # [L, 1, H, n·c, dh]
        v_new = torch.stack([f.v[:1, :, rows] for f in fresh])
        new_frames = int(k_new.shape[-2])
        if new_frames == 0 or new_frames % self.chunk_frames:
            raise ValueError(f"slid: appended {new_frames} frames, not whole chunks of {self.chunk_frames}")
        if max_chunks == 0:
            return BlockCausalCache(self.k_raw[..., :0, :], self.v[..., :0, :], self.chunk_frames)
        keep = max(0, max_chunks * self.chunk_frames - new_frames)
        k_old = self.k_raw[..., max(0, self.n_frames - keep):, :]
        v_old = self.v[..., max(0, self.n_frames - keep):, :]
        k_all, v_all = torch.cat([k_old, k_new], dim=-2), torch.cat([v_old, v_new], dim=-2)
        limit = max_chunks * self.chunk_frames
        return BlockCausalCache(k_all[..., -limit:, :], v_all[..., -limit:, :], self.chunk_frames)

    def without_newest(self, n_chunks: int) -> BlockCausalCache:
        """The cache minus its newest `n_chunks` chunks (they are about to be re-encoded)."""
        if not 0 <= n_chunks <= self.n_chunks:
            raise ValueError(f"without_newest: {n_chunks} of {self.n_chunks} chunks")
        keep = self.n_frames - n_chunks * self.chunk_frames
        return BlockCausalCache(self.k_raw[..., :keep, :], self.v[..., :keep, :], self.chunk_frames)
