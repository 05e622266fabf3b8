"""Cached == uncached (same mask), for the enc-dec context cache, the block-causal fused step and its
steady steps, with and without CFG rows and oneDNN-packed weights."""

from __future__ import annotations

import pytest
import torch

from lmd_studio.model.dit import DiT
from lmd_studio.model.kv_cache import BlockCausalCache
from lmd_studio.model.streaming import BlockCausalBlock, EncDecBlock, window_velocity
from tests.model.lmdm_support import text_for, tiny_dit

torch.set_num_threads(1)
ATOL = 2e-5


def _rand(*shape: int, seed: int) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def _close(a: torch.Tensor | None, b: torch.Tensor | None) -> None:
    assert (a is None) == (b is None)
    if a is not None:
        torch.testing.assert_close(a, b, atol=ATOL, rtol=1e-4)


def _packed_dit() -> DiT:
    """Wide enough that the large layers run on oneDNN with packed weights (the generator's path)."""
    return tiny_dit(seed=3, std=0.08, d_model=256, n_heads=4, n_layers=2, mlp_ratio=1.0).prepare_inference()


@pytest.mark.parametrize("rows", ["one", "cfg", "cfg_row_conds"])
@pytest.mark.parametrize("n_context", [8, 3, 0])
def test_encdec_cached_equals_uncached(rows: str, n_context: int) -> None:
    dit = tiny_dit(pattern="encdec")
    cfg = dit.cfg
    o, f = cfg.block_frames, cfg.frame_cond_channels
    ctx, ctx_cond = _rand(1, n_context, cfg.latent_channels, seed=1), _rand(1, n_context, f, seed=2)
    tgt_cond = _rand(2 if rows == "cfg_row_conds" else 1, o, f, seed=3)
    text = text_for(dit, cfg_rows=rows != "one")
    with torch.inference_mode():
        block = EncDecBlock(dit, text, ctx, ctx_cond, tgt_cond)
        for i, t in enumerate((1.0, 0.6, 0.1)):
            x = _rand(1, o, cfg.latent_channels, seed=10 + i)
            cached = block(x, t)
            ref = window_velocity(dit, ctx, x, t, text, pattern="encdec", context_cond=ctx_cond,
                                  target_cond=tgt_cond)
            _close(cached[0], ref[0])
            _close(cached[1], ref[1])


def _stream_cache(dit: DiT, text, history: torch.Tensor, conds: torch.Tensor) -> BlockCausalCache:  # noqa: ANN001
    """Feed `history` chunk by chunk through fused steps; returns the cache before the last chunk."""
    cfg = dit.cfg
    o = cfg.block_frames
    cache = BlockCausalCache.empty(cfg.n_layers, cfg.n_heads, cfg.head_dim, o)
    n_chunks = history.shape[1] // o
    for j in range(n_chunks - 1):
        pending = history[:, j * o:(j + 1) * o]
        block = BlockCausalBlock(dit, text, cache, pending, conds[:, j * o:(j + 1) * o], None)
        block(torch.zeros(1, o, cfg.latent_channels), 0.5)
        cache = block.new_cache
    return cache


@pytest.mark.parametrize("n_chunks", [1, 2, 3, 7])
@pytest.mark.parametrize("rows", ["one", "cfg", "cfg_row_conds"])
def test_block_causal_fused_and_steady_steps_equal_full_sequence(n_chunks: int, rows: str) -> None:
    """"cfg_row_conds": each guidance row has its own target conditioning (the unguided row hears the pitch
    control on Auto, generator.py), and the cache still equals the full sequence."""
    dit = tiny_dit(pattern="blockcausal")
    cfg = dit.cfg
    o, f = cfg.block_frames, cfg.frame_cond_channels
    history = _rand(1, n_chunks * o, cfg.latent_channels, seed=4)
    conds = _rand(1, n_chunks * o, f, seed=5)
    tgt_cond = _rand(2 if rows == "cfg_row_conds" else 1, o, f, seed=6)
    text = text_for(dit, cfg_rows=rows != "one")
    with torch.inference_mode():
        cache = _stream_cache(dit, text, history, conds)
        assert cache.n_chunks == min(n_chunks - 1, cfg.cached_chunks)
        block = BlockCausalBlock(dit, text, cache, history[:, -o:], conds[:, -o:], tgt_cond)
        for i, t in enumerate((1.0, 0.55, 0.05)):  # the first call is the fused step
            x = _rand(1, o, cfg.latent_channels, seed=20 + i)
            cached = block(x, t)
            ref = window_velocity(dit, history, x, t, text, pattern="blockcausal", context_cond=conds,
                                  target_cond=tgt_cond)
            _close(cached[0], ref[0])
            _close(cached[1], ref[1])
        assert block.new_cache.n_chunks == min(n_chunks, cfg.cached_chunks)


def test_packed_weights_cached_equals_uncached() -> None:
    dit = _packed_dit()
    cfg = dit.cfg
    o, f = cfg.block_frames, cfg.frame_cond_channels
    history = _rand(1, 6 * o, cfg.latent_channels, seed=7)
    conds = _rand(1, 6 * o, f, seed=8)
    text = text_for(dit)
    with torch.inference_mode():
        cache = _stream_cache(dit, text, history, conds)
        block = BlockCausalBlock(dit, text, cache, history[:, -o:], conds[:, -o:], None)
        enc = EncDecBlock(dit, text, history[:, -cfg.context_frames:], conds[:, -cfg.context_frames:], None)
        for i, t in enumerate((0.9, 0.3)):
            x = _rand(1, o, cfg.latent_channels, seed=30 + i)
            ref = window_velocity(dit, history, x, t, text, pattern="blockcausal", context_cond=conds)
            _close(block(x, t)[0], ref[0])
            ref = window_velocity(dit, history[:, -cfg.context_frames:], x, t, text, pattern="encdec",
                                  context_cond=conds[:, -cfg.context_frames:])
            _close(enc(x, t)[0], ref[0])


def test_history_reaches_through_depth_but_not_beyond_the_receptive_field() -> None:
    """Guards the tests above against a model too weak to notice a wrong cache: an edit to a chunk the
    target does not see directly still changes it (via deeper layers), an edit further back does not."""
    dit = tiny_dit(pattern="blockcausal")
    cfg = dit.cfg
    o, w, layers = cfg.block_frames, cfg.window_chunks, cfg.n_layers
    n_chunks = layers * (w - 1) + 4
    history = _rand(1, n_chunks * o, cfg.latent_channels, seed=9)
    x = _rand(1, o, cfg.latent_channels, seed=10)
    text = text_for(dit)
    with torch.inference_mode():
        base = window_velocity(dit, history, x, 0.5, text, pattern="blockcausal")[0]
        deep = history.clone()
        deep[:, -w * o:-(w - 1) * o] += 1.0  # the chunk just outside the target's direct window
        moved = window_velocity(dit, deep, x, 0.5, text, pattern="blockcausal")[0]
        far = history.clone()
        far[:, :o] += 1.0  # beyond layers·(W-1) chunks: out of reach
        still = window_velocity(dit, far, x, 0.5, text, pattern="blockcausal")[0]
    assert (moved - base).abs().max() > 1e-3
    torch.testing.assert_close(still, base, atol=1e-5, rtol=1e-5)
