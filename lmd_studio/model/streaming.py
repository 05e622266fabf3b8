"""Block-by-block latent generation: enc-dec and block-causal streamers, and the naive outpainting baseline.

Each `*Block` object is the denoiser for ONE block: the sampler calls it K times as `denoise(x, t)`.
Window positions (RoPE) are fixed for every block: context frames end at position `s - 1`, the target
occupies `s .. s+o-1` and the global token `s + o`, so positions never grow with the stream.

Token-passes per block (frames entering the network, per batch row; `s` context, `o` block, `K` steps):
- naive outpainting:  (s + o)·K — the context is re-noised each step and the whole window recomputed;
- enc-dec:            s + o·K   — one context pass fills a per-block cache, then K target-only passes;
- block-causal:       2o + o·(K-1) — the fused first step encodes the previous block (pending) together
  with the first denoising step against the persistent cache; steps 2..K are target-only.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

import torch

from lmd_studio.model.attention import TextKV
from lmd_studio.model.dit import DiT
from lmd_studio.model.kv_cache import BlockCausalCache, PrefixKV
from lmd_studio.model.masks import block_causal_mask, encdec_mask, fused_step_mask

Mode = Literal["naive", "encdec", "blockcausal"]
MODES: tuple[str, ...] = ("naive", "encdec", "blockcausal")


def token_passes_formula(mode: str, s: int, o: int, k: int) -> int:
    """Frames processed per block by each mode (METHOD.md §1; at s=192, o=48, K=8: 1920 / 576 / 432)."""
    if mode == "naive":
        return (s + o) * k
    if mode == "encdec":
        return s + o * k
    if mode == "blockcausal":
        return 2 * o + o * (k - 1)
    raise ValueError(f"unknown mode {mode!r}; expected one of {MODES}")


def _split(v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Batch row 0 = conditional, row 1 (if any) = unconditional."""
    return (v[:1], v[1:2]) if v.shape[0] == 2 else (v, None)


class _BlockBase:
    def __init__(self, dit: DiT, text: TextKV, target_cond: torch.Tensor | None) -> None:
        self.dit = dit
        self.cfg = dit.cfg
        self.text = text
        self.batch = text.batch
        self.target_cond = dit.frame_cond_embedding(target_cond)  # [1 or B, o, D] or None, fixed in a block
        self._position_shift = 0  # RoPE is relative: a window may sit further right when its prefix is long

    def _targets(self, x: torch.Tensor, t: float) -> tuple[torch.Tensor, torch.Tensor]:
        """Embedded target rows [B, o, D] and the global token [B, 1, D]."""
        temb, g_time = self.dit.time_and_global(t, self.batch)
        x = x.expand(self.batch, -1, -1) if x.shape[0] != self.batch else x
        h = self.dit.embed_frames(x, None, None, self.target_cond, temb)
        return h, self.dit.global_token(temb, self.text, g_time)

    def _set_prefix(self, prefix: PrefixKV) -> None:
        """Scratch K/V buffers [L, B, H, P+o+1, dh] holding the prefix; steps write their own rows behind it."""
        self._prefix = prefix
        cfg = self.cfg
        n_layers, _, heads, p, dh = prefix.k.shape
        shape = (n_layers, self.batch, heads, p + cfg.block_frames + 1, dh)
        self._kbuf = torch.empty(shape, dtype=prefix.k.dtype, device=prefix.k.device)
        self._vbuf = torch.empty(shape, dtype=prefix.v.dtype, device=prefix.v.device)
        self._kbuf[..., :p, :] = prefix.k  # broadcast over the batch rows (CFG shares the context)
        self._vbuf[..., :p, :] = prefix.v

    def _target_pass(self, x: torch.Tensor, t: float) -> tuple[torch.Tensor, torch.Tensor | None]:
        """A target-only step: rows [target | global] against the cached prefix, no mask needed."""
        o = self.cfg.block_frames
        h, g = self._targets(x, t)
        h = torch.cat([h, g], dim=1)  # [B, o+1, D]
        cos, sin = self.dit.rope.tables(self.cfg.context_frames + self._position_shift, o + 1)
        kbuf, vbuf = self._kbuf, self._vbuf
        for i, block in enumerate(self.dit.blocks):
            h, _ = block.forward(h, cos, sin, self.text, i, kv_buffer=(kbuf[i], vbuf[i]))
        self.dit.counter.frame_tokens += o
        self.dit.counter.passes += 1
        return _split(self.dit.head(h[:, :o]))


def encode_context(dit: DiT, context: torch.Tensor, context_cond: torch.Tensor | None) -> torch.Tensor:
    """Clean frames [1, n, C] → hidden [1, n, D] through the context input (and frame conditioning)."""
    if dit.context_in is None:
        raise ValueError("this network has no context input (routing=False): use the naive mode")
    context = context.to(dit.compute_dtype)
    ones = torch.ones(*context.shape[:2], 1, dtype=context.dtype, device=context.device)
    h = dit.context_in(torch.cat([ones, context], dim=-1))  # [1, n, D]
    cond = dit.frame_cond_embedding(context_cond)
    return h if cond is None else h + cond


class EncDecBlock(_BlockBase):
    """Enc-dec: one pass encodes the `n <= s` context frames into a per-block cache; K target-only passes."""

    def __init__(self, dit: DiT, text: TextKV, context: torch.Tensor, context_cond: torch.Tensor | None,
                 target_cond: torch.Tensor | None) -> None:
        super().__init__(dit, text, target_cond)
        s, n = self.cfg.context_frames, context.shape[1]
        if n > s:
            raise ValueError(f"enc-dec context has {n} frames, the window holds {s}")
        if n == 0:
            z = torch.zeros(len(dit.blocks), 1, self.cfg.n_heads, 0, self.cfg.head_dim, device=context.device,
                            dtype=dit.compute_dtype)
            self._set_prefix(PrefixKV(z, z))
            return
        h = encode_context(dit, context, context_cond)
        cos, sin = dit.rope.tables(s - n, n)
        fresh = []
        last = len(dit.blocks) - 1
        for i, block in enumerate(dit.blocks):
            # context rows see only context: no mask, no cross-attention; the last layer only needs K/V
            h, kv = block.forward(h, cos, sin, text, i, cross_from=n, query_start=n if i == last else 0)
            fresh.append(kv)
        self._set_prefix(PrefixKV.from_fresh(fresh, slice(0, n)))
        dit.counter.frame_tokens += n
        dit.counter.passes += 1

    def __call__(self, x: torch.Tensor, t: float) -> tuple[torch.Tensor, torch.Tensor | None]:
        return self._target_pass(x, t)


class BlockCausalBlock(_BlockBase):
    """Block-causal: the fused first step adds the pending chunk to the persistent cache; steps 2..K reuse it.

    After the first call `new_cache` holds the slid cache (W - 1 chunks at most) for the next block.
    `pending` is normally the previous block (one chunk); it may also be the newest few chunks of the
    context, re-encoded together with the `cache` they were dropped from (`without_newest`) when their
    conditioning changed after they were cached (jam mode: partner audio arrives late).
    """

    def __init__(self, dit: DiT, text: TextKV, cache: BlockCausalCache, pending: torch.Tensor | None,
                 pending_cond: torch.Tensor | None, target_cond: torch.Tensor | None,
                 keep_chunks: int | None = None) -> None:
        super().__init__(dit, text, target_cond)
        o, max_chunks = self.cfg.block_frames, self.cfg.cached_chunks
        # jam mode keeps older chunks too, so that a re-encoded chunk still sees its W - 1 predecessors
        self.keep_chunks = max_chunks if keep_chunks is None else keep_chunks
        if self.keep_chunks < max_chunks:
            raise ValueError(f"keep_chunks must be >= {max_chunks}, got {self.keep_chunks}")
        if pending is not None and (pending.shape[1] == 0 or pending.shape[1] % o):
            raise ValueError(f"pending chunks have {pending.shape[1]} frames, not whole blocks of {o}")
        n_pending = 0 if pending is None else pending.shape[1] // o
        if cache.n_chunks + max(0, n_pending - 1) > self.keep_chunks:
            raise ValueError(f"cache holds {cache.n_chunks} chunks and {n_pending} are pending, at most "
                             f"{self.keep_chunks} + 1 are kept")
        self.cache = cache
        self.pending = pending if max_chunks > 0 else None  # W = 1: targets see no earlier chunk at all
        self.pending_cond = pending_cond
        self.new_cache: BlockCausalCache | None = None
        self._prefix: PrefixKV | None = None

    @property
    def pending_chunks(self) -> int:
        """Chunks the first step encodes into the cache: 0 (first block), 1, or more when re-encoding."""
        return 0 if self.pending is None else self.pending.shape[1] // self.cfg.block_frames

    def __call__(self, x: torch.Tensor, t: float) -> tuple[torch.Tensor, torch.Tensor | None]:
        if self._prefix is not None:
            return self._target_pass(x, t)
        if self.pending is None:
            self.new_cache = self.cache  # the first block of a stream: nothing cached yet
            self._set_prefix(self.cache.rotated(self.dit.rope, self.cfg.context_frames))
            return self._target_pass(x, t)
        return self._fused(x, t)

    def _fused(self, x: torch.Tensor, t: float) -> tuple[torch.Tensor, torch.Tensor | None]:
        cfg, dit = self.cfg, self.dit
        assert self.pending is not None
        s, o, n_c = cfg.context_frames, cfg.block_frames, self.cache.n_chunks
        p = self.pending.shape[1]  # o, or a multiple when cached chunks are re-encoded
        # the window's positions end at s + o as always, unless the kept chunks reach past position 0
        shift = self._position_shift = max(0, n_c * o + p - s)
        old = self.cache.rotated(dit.rope, s - p + shift)  # cached chunks end just before the pending chunks
        h_t, g = self._targets(x, t)
        h_p = encode_context(dit, self.pending, self.pending_cond).expand(self.batch, -1, -1)
        h = torch.cat([h_p, h_t, g], dim=1)  # [B, p+o+1, D]: pending | target | global
        cos, sin = dit.rope.tables(s - p + shift, p + o + 1)
        mask = fused_step_mask(n_c, o, cfg.window_chunks, p // o).to(h.device)
        fresh = []
        last = len(dit.blocks) - 1
        for i, block in enumerate(dit.blocks):
            pk, pv = old.layer(i)
            h, kv = block.forward(h, cos, sin, self.text, i, prefix_k=pk, prefix_v=pv, mask=mask, cross_from=p,
                                  query_start=p if i == last else 0)
            fresh.append(kv)
        pending_kv = PrefixKV.from_fresh(fresh, slice(0, p))
        # the target sees W - 1 earlier chunks: what the cache and the pending chunks hold beyond that goes
        drop = max(0, (n_c + p // o - cfg.cached_chunks)) * o
        self._set_prefix(old.drop_front_and_append(drop, pending_kv))
        self.new_cache = self.cache.slid(fresh, slice(0, p), self.keep_chunks)
        dit.counter.frame_tokens += p + o
        dit.counter.passes += 1
        return _split(dit.head(h[:, :o]))  # after the last layer, rows are [target | global]


class NaiveBlock(_BlockBase):
    """Classic outpainting with the same weights: context re-noised to t with fresh noise every step, the
    whole window recomputed bidirectionally, every frame through the noisy input."""

    def __init__(self, dit: DiT, text: TextKV, context: torch.Tensor, context_cond: torch.Tensor | None,
                 target_cond: torch.Tensor | None, generator: torch.Generator) -> None:
        super().__init__(dit, text, None)
        self.context = context
        self.generator = generator
        if context_cond is not None and target_cond is not None:
            # guided rows may condition the target differently (generator.py: the pitch on Auto in row 1)
            context_cond = context_cond.expand(target_cond.shape[0], -1, -1)
            self.window_cond = dit.frame_cond_embedding(torch.cat([context_cond, target_cond], dim=1))
        else:
            self.window_cond = None

    def __call__(self, x: torch.Tensor, t: float) -> tuple[torch.Tensor, torch.Tensor | None]:
        cfg, dit = self.cfg, self.dit
        n, o = self.context.shape[1], cfg.block_frames
        eps = torch.randn(self.context.shape, generator=self.generator, device=x.device)
        window = torch.cat([(1.0 - t) * self.context + t * eps, x], dim=1)  # [1, n+o, C]
        temb, g_time = dit.time_and_global(t, self.batch)
        h = dit.embed_frames(window.expand(self.batch, -1, -1), None, None, self.window_cond, temb)
        h = torch.cat([h, dit.global_token(temb, self.text, g_time)], dim=1)  # [B, n+o+1, D]
        cos, sin = dit.rope.tables(cfg.context_frames - n, n + o + 1)
        for i, block in enumerate(dit.blocks):
            h, _ = block.forward(h, cos, sin, self.text, i)
        dit.counter.frame_tokens += n + o
        dit.counter.passes += 1
        return _split(dit.head(h[:, n:n + o]))


# --- the uncached reference -------------------------------------------------------------------------
def window_velocity(dit: DiT, context: torch.Tensor, x: torch.Tensor, t: float, text: TextKV, *,
                    pattern: str, context_cond: torch.Tensor | None = None,
                    target_cond: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Target velocity from ONE uncached forward over `[context | target | global]` with the pattern's mask.

    For block-causal, `context` may be the whole stream so far (the full-sequence computation streaming
    must reproduce); for enc-dec it is the last `n <= s` frames. Used by tests and as a readable spec.
    """
    cfg = dit.cfg
    b, n, o = text.batch, context.shape[1], x.shape[1]
    if pattern == "encdec":
        mask = encdec_mask(n, o)
    elif pattern == "blockcausal":
        if n % o:
            raise ValueError(f"block-causal context must be whole chunks of {o} frames, got {n}")
        mask = block_causal_mask(n + o, o, cfg.window_chunks)
    else:
        raise ValueError(f"window_velocity: pattern must be encdec or blockcausal, got {pattern!r}")
    zeros_c, zeros_t = torch.zeros_like(context), torch.zeros_like(x)
    x_noisy = torch.cat([zeros_c, x], dim=1).expand(b, -1, -1)
    x_clean = torch.cat([context, zeros_t], dim=1).expand(b, -1, -1)
    is_context = torch.arange(n + o, device=x.device) < n
    frame_cond = None
    if dit.frame_cond_in is not None:
        f = cfg.frame_cond_channels
        cc = context_cond if context_cond is not None else torch.zeros(1, n, f, device=x.device)
        tc = target_cond if target_cond is not None else torch.zeros(1, o, f, device=x.device)
        # the target may be conditioned per guidance row (generator.py: the unguided row hears the pitch on Auto)
        frame_cond = torch.cat([cc.expand(tc.shape[0], -1, -1), tc], dim=1).expand(b, -1, -1)
    v = dit(x_noisy, t, text, x_clean=x_clean, is_context=is_context, frame_cond=frame_cond, mask=mask,
            start_position=max(0, cfg.context_frames - n))
    return _split(v[:, n:])


@dataclass(frozen=True, slots=True)
class LatentStreamState:
    """What a latent stream carries between blocks. Tensors are never modified in place.

    `context`: the newest clean frames [1, n <= s, C] (the last `o` of them are the pending chunk of the
    block-causal mode), `context_cond`: their frame conditioning [1, n, F], `cache`: the block-causal cache.
    """

    context: torch.Tensor
    context_cond: torch.Tensor
    cache: BlockCausalCache | None
    blocks_done: int = 0

    @classmethod
    def start(cls, dit: DiT, device: torch.device | str = "cpu") -> LatentStreamState:
        cfg = dit.cfg
        cache = BlockCausalCache.empty(cfg.n_layers, cfg.n_heads, cfg.head_dim, cfg.block_frames, device,
                                       dit.compute_dtype)
        return cls(torch.zeros(1, 0, cfg.latent_channels, device=device),
                   torch.zeros(1, 0, cfg.frame_cond_channels, device=device), cache, 0)

    def advanced(self, latents: torch.Tensor, cond: torch.Tensor, keep_frames: int,
                 cache: BlockCausalCache | None) -> LatentStreamState:
        ctx = torch.cat([self.context, latents], dim=1)[:, -keep_frames:]
        ctx_cond = torch.cat([self.context_cond, cond], dim=1)[:, -keep_frames:]
        return replace(self, context=ctx, context_cond=ctx_cond, cache=cache, blocks_done=self.blocks_done + 1)


def make_block_denoiser(dit: DiT, mode: str, state: LatentStreamState, text: TextKV,
                        target_cond: torch.Tensor, generator: torch.Generator, *,
                        context_cond: torch.Tensor | None = None, refresh_chunks: int = 0,
                        keep_chunks: int | None = None) -> EncDecBlock | BlockCausalBlock | NaiveBlock:
    """The denoiser for the next block of a stream in `mode`.

    `context_cond` replaces the conditioning the context frames were generated with (jam mode: partner audio
    heard since); block-causal then re-encodes the newest `refresh_chunks` cached chunks with it, so the
    cache holds what an uncached window with that conditioning would (the older chunks must not have
    changed — the caller decides how many did). `keep_chunks` (≥ W - 1) chunks stay cached, so a chunk
    re-encoded later still has its W - 1 predecessors.
    """
    cfg = dit.cfg
    cond = target_cond if dit.frame_cond_in is not None else None
    if context_cond is not None and context_cond.shape != state.context_cond.shape:
        raise ValueError(f"context_cond must be {tuple(state.context_cond.shape)}, got {tuple(context_cond.shape)}")
    ctx_cond = (state.context_cond if context_cond is None else context_cond) if dit.frame_cond_in is not None \
        else None
    if mode == "encdec":
        return EncDecBlock(dit, text, state.context, ctx_cond, cond)
    if mode == "naive":
        return NaiveBlock(dit, text, state.context, ctx_cond, cond, generator)
    if mode == "blockcausal":
        o = cfg.block_frames
        if state.cache is None:
            raise ValueError("block-causal stream state has no cache")
        has_pending = state.blocks_done > 0 and state.context.shape[1] >= o
        if not has_pending:
            return BlockCausalBlock(dit, text, state.cache, None, None, cond, keep_chunks)
        refresh = max(0, min(refresh_chunks, state.cache.n_chunks, state.context.shape[1] // o - 1))
        n = (1 + refresh) * o
        pending = state.context[:, -n:]
        pending_cond = ctx_cond[:, -n:] if ctx_cond is not None else None
        return BlockCausalBlock(dit, text, state.cache.without_newest(refresh), pending, pending_cond, cond,
                                keep_chunks)
    raise ValueError(f"unknown streaming mode {mode!r}; expected one of {MODES}")
