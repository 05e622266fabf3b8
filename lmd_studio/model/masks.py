"""Attention masks (True = the query may attend to the key), the formulas of METHOD.md §2.4.

Token layout of a window: frames `0..T-1` (`s` context frames, then `o` target frames), then the global
token at index `T`. Training recipes build their masks here too, so training and inference agree.

- bidirectional (stage 0, discriminator, naive outpainting): everything sees everything.
- enc-dec: `allow(q, k) = (k < s) or (q >= s)` — context sees only context; targets and the global token
  see everything.
- block-causal with chunk `c` and window `W`: `blk(i) = i // c` for frames, the global token belongs to the
  last chunk; `allow(q, k) = blk(q) - W + 1 <= blk(k) <= blk(q)`. For a window of `s + o` frames with
  `W = s / o` this is METHOD's `blk(i) = min(i // c, W)`. A target therefore sees `W - 1` earlier chunks.
  The same function over a sequence of any length is the full-sequence (sliding-window) mask that
  streaming must reproduce.
"""

from __future__ import annotations

import torch


def _with_global(n_frames: int, global_token: bool) -> int:
    if n_frames <= 0:
        raise ValueError(f"a window needs at least one frame, got {n_frames}")
    return n_frames + (1 if global_token else 0)


def bidirectional_mask(n_frames: int, *, global_token: bool = True) -> torch.Tensor:
    n = _with_global(n_frames, global_token)
    return torch.ones(n, n, dtype=torch.bool)  # [N, N]


def encdec_mask(context_frames: int, block_frames: int, *, global_token: bool = True) -> torch.Tensor:
    """Encoder-decoder window mask [T(+1), T(+1)] with `s = context_frames`, `o = block_frames`."""
    s = context_frames
    if s < 0 or block_frames <= 0:
        raise ValueError(f"encdec_mask: need s >= 0 and o > 0, got s={s} o={block_frames}")
    n = _with_global(s + block_frames, global_token)
    idx = torch.arange(n)
    q, k = idx[:, None], idx[None, :]
    return (k < s) | (q >= s)


def chunk_index(n_frames: int, chunk_frames: int, *, global_token: bool = True) -> torch.Tensor:
    """blk(i) for every token: frame i → i // c; the global token → the last frame's chunk."""
    if chunk_frames <= 0:
        raise ValueError(f"chunk_frames must be > 0, got {chunk_frames}")
    blk = torch.arange(n_frames) // chunk_frames
    if global_token:
        blk = torch.cat([blk, blk[-1:]])
    return blk


def block_causal_mask(n_frames: int, chunk_frames: int, window_chunks: int, *,
                      global_token: bool = True) -> torch.Tensor:
    """Sliding block-causal mask [N(+1), N(+1)] over any number of frames (a window or a whole stream)."""
    if window_chunks < 1:
        raise ValueError(f"window_chunks must be >= 1, got {window_chunks}")
    _with_global(n_frames, global_token)
    blk = chunk_index(n_frames, chunk_frames, global_token=global_token)
    bq, bk = blk[:, None], blk[None, :]
    return (bk <= bq) & (bk >= bq - window_chunks + 1)


def window_mask(pattern: str, context_frames: int, block_frames: int, window_chunks: int | None = None, *,
                global_token: bool = True) -> torch.Tensor:
    """The mask of one `s + o` window for a named pattern."""
    n_frames = context_frames + block_frames
    if pattern == "bidirectional":
        return bidirectional_mask(n_frames, global_token=global_token)
    if pattern == "encdec":
        return encdec_mask(context_frames, block_frames, global_token=global_token)
    if pattern == "blockcausal":
        if context_frames % block_frames:
            raise ValueError(f"block-causal needs s a multiple of o, got s={context_frames} o={block_frames}")
        w = context_frames // block_frames if window_chunks is None else window_chunks
        return block_causal_mask(n_frames, block_frames, w, global_token=global_token)
    raise ValueError(f"unknown attention pattern {pattern!r}")


def drop_keys(mask: torch.Tensor, dropped: torch.Tensor) -> torch.Tensor:
    """Hide the `dropped` tokens (bool [N] or [B, N]) as keys from every other query.

    Used for context dropout ("a stream that just started"): a dropped token still attends to itself, so
    no row is empty (an all-False row would make softmax NaN). Returns [N, N] or [B, N, N].
    """
    n = mask.shape[-1]
    if dropped.shape[-1] != n:
        raise ValueError(f"drop_keys: dropped has {dropped.shape[-1]} tokens, mask has {n}")
    eye = torch.eye(n, dtype=torch.bool, device=mask.device)
    return mask & (~dropped[..., None, :] | eye)


def fused_step_mask(cached_chunks: int, chunk_frames: int, window_chunks: int,
                    pending_chunks: int = 1) -> torch.Tensor:
    """Rows [pending chunks | target chunk | global] × keys [cache | pending | target | global].

    Exactly the last `(p + 1)c + 1` rows of the block-causal mask over `cached + p + 1` chunks, so the fused
    first step computes what the uncached window would. `p > 1` re-encodes the newest cached chunks with
    the pending one (jam mode: partner audio that arrived since they were cached, model/partner_track.py).
    """
    if pending_chunks < 1:
        raise ValueError(f"pending_chunks must be >= 1, got {pending_chunks}")
    n_frames = (cached_chunks + pending_chunks + 1) * chunk_frames
    full = block_causal_mask(n_frames, chunk_frames, window_chunks)
    return full[cached_chunks * chunk_frames:]
