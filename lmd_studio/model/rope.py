"""Rotary position embedding (RoPE) with bounded positions.

We rotate pairs `(x[i], x[i + dh/2])` by angle `pos · base^(-2i/dh)` ("rotate half" layout); the sine table
is stored with the first half negated, so a rotation is `x·cos + roll(x, dh/2)·sin±` (3 kernels). The dot
product of a rotated query and key depends only on the position difference, which is what lets the
streaming caches keep every position inside one window `0..T`: the block-causal cache stores keys *before*
rotation and rotates them at their current window positions once per block (kv_cache.py), so no angle ever
grows with the length of the stream and nothing accumulates rounding error across slides.
"""

from __future__ import annotations

import torch
from torch import nn


class RotaryTable(nn.Module):
    """cos/sin tables for positions `0..max_positions-1`; positions past the end are computed on demand."""

    def __init__(self, head_dim: int, max_positions: int, base: float = 10000.0) -> None:
        super().__init__()
        if head_dim % 2 or head_dim <= 0:
            raise ValueError(f"RoPE head_dim must be positive and even, got {head_dim}")
        self.head_dim = head_dim
        self.base = float(base)
        cos, sin = self._compute(torch.arange(max_positions, dtype=torch.float64))
        # not persistent: derived from the config, never saved in checkpoints
        self.register_buffer("cos", cos, persistent=False)
        self.register_buffer("sin", sin, persistent=False)

    def _compute(self, positions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        half = self.head_dim // 2
        inv_freq = self.base ** (-torch.arange(half, dtype=torch.float64) * 2.0 / self.head_dim)
        angles = positions.to(torch.float64)[:, None] * inv_freq[None, :]  # [N, dh/2], float64 for accuracy
        cos = torch.cat([angles.cos(), angles.cos()], dim=-1)  # [N, dh]: both halves of a pair share one angle
        sin = torch.cat([-angles.sin(), angles.sin()], dim=-1)  # signed: see apply_rope
        return cos.to(torch.float32), sin.to(torch.float32)

    def tables(self, start: int, length: int) -> tuple[torch.Tensor, torch.Tensor]:
        """cos, signed sin of shape [length, dh] for positions start..start+length-1 (for apply_rope)."""
        if start < 0:
            raise ValueError(f"RoPE positions must be >= 0, got start={start}")
        end = start + length
        if end <= self.cos.shape[0]:
            return self.cos[start:end], self.sin[start:end]
        cos, sin = self._compute(torch.arange(start, end))
        return cos.to(self.cos), sin.to(self.sin)  # the table's device and dtype


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate `x` [..., N, ..., dh] with tables from RotaryTable.tables (they must broadcast against x).

    (x_lo, x_hi) → (x_lo·cos - x_hi·sin, x_hi·cos + x_lo·sin): with the signed table that is
    x·cos + roll(x, dh/2)·[-sin, sin]."""
    return torch.addcmul(x * cos, torch.roll(x, x.shape[-1] // 2, dims=-1), sin)
