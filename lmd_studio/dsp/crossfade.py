"""Fades and crossfades for joining audio (corpus loops, retro-capture exports, rendered segments).

Equal-power curves keep the perceived level constant through a crossfade of uncorrelated material;
linear curves are right for correlated material (the same loop joined to itself).
"""

from __future__ import annotations

import numpy as np


def fade_curves(length: int, shape: str = "equal_power") -> tuple[np.ndarray, np.ndarray]:
    """(fade_out, fade_in) gain curves of `length` samples."""
    if length < 0:
        raise ValueError(f"fade length must be >= 0, got {length}")
    t = (np.arange(length) + 0.5) / max(length, 1)
    if shape == "equal_power":
        return np.cos(0.5 * np.pi * t).astype(np.float32), np.sin(0.5 * np.pi * t).astype(np.float32)
    if shape == "linear":
        return (1.0 - t).astype(np.float32), t.astype(np.float32)
    raise ValueError(f"unknown fade shape {shape!r} (use 'equal_power' or 'linear')")


def apply_fades(audio: np.ndarray, fade_in_frames: int = 0, fade_out_frames: int = 0) -> np.ndarray:
    """Copy of audio [N] or [N, C] with linear fade-in/out, so clip edges do not click."""
    x = np.array(audio, dtype=np.float32, copy=True)
    n = x.shape[0]
    fi, fo = min(fade_in_frames, n), min(fade_out_frames, n)
    if fi:
        x[:fi] *= fade_curves(fi, "linear")[1].reshape((fi,) + (1,) * (x.ndim - 1))
    if fo:
        x[n - fo:] *= fade_curves(fo, "linear")[0].reshape((fo,) + (1,) * (x.ndim - 1))
    return x


def crossfade_concat(a: np.ndarray, b: np.ndarray, overlap_frames: int, shape: str = "equal_power") -> np.ndarray:
    """Join a and b ([N] or [N, C]) overlapping the last/first `overlap_frames` samples."""
    a = np.asarray(a, dtype=np.float32)
    b = np.asarray(b, dtype=np.float32)
    k = min(overlap_frames, a.shape[0], b.shape[0])
    if k == 0:
        return np.concatenate([a, b])
    out_curve, in_curve = fade_curves(k, shape)
    shape_k = (k,) + (1,) * (a.ndim - 1)
    mid = a[-k:] * out_curve.reshape(shape_k) + b[:k] * in_curve.reshape(shape_k)
    return np.concatenate([a[:-k], mid, b[k:]])


def tile_loop(loop: np.ndarray, min_frames: int, overlap_frames: int = 256) -> np.ndarray:
    """Repeat a loop (crossfading each join linearly) until it is at least `min_frames` long."""
    x = np.asarray(loop, dtype=np.float32)
    if x.shape[0] <= overlap_frames:
        raise ValueError(f"loop of {x.shape[0]} samples is too short to tile with {overlap_frames} overlap")
    out = x
    while out.shape[0] < min_frames:
        out = crossfade_concat(out, x, overlap_frames, shape="linear")
    return out
