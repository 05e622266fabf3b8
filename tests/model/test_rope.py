"""RoPE: the relative property, and bounded positions over an endless stream (10,000 window slides)."""

from __future__ import annotations

import torch

from lmd_studio.model.kv_cache import BlockCausalCache
from lmd_studio.model.rope import RotaryTable, apply_rope
from lmd_studio.model.streaming import BlockCausalBlock, window_velocity
from tests.model.lmdm_support import text_for, tiny_dit

torch.set_num_threads(1)


def test_rotated_dot_products_depend_only_on_the_offset() -> None:
    rope = RotaryTable(16, 64)
    q, k = torch.randn(16), torch.randn(16)

    def dot(pq: int, pk: int) -> float:
        cq, sq = rope.tables(pq, 1)
        ck, sk = rope.tables(pk, 1)
        return float((apply_rope(q, cq[0], sq[0]) * apply_rope(k, ck[0], sk[0])).sum())

    assert abs(dot(10, 3) - dot(57, 50)) < 1e-5
    assert abs(dot(10, 3) - dot(10, 4)) > 1e-4
    assert abs(dot(5, 5) - float(q @ k)) < 1e-5
    cos, sin = rope.tables(100, 4)  # past the table: computed on demand with the same formula
    big = RotaryTable(16, 200)
    torch.testing.assert_close(cos, big.cos[100:104])
    torch.testing.assert_close(sin, big.sin[100:104])


def test_ten_thousand_slides_equal_a_fresh_recomputation() -> None:
    dit = tiny_dit(seed=11, d_model=16, n_heads=2, n_layers=2, context_frames=4, block_frames=2,
                   control_channels=0, accomp_channels=0)
    cfg = dit.cfg
    o = cfg.block_frames
    text = text_for(dit)
    seen_end = 0
    original_tables = dit.rope.tables

    def spy(start: int, length: int):  # noqa: ANN202 — records the largest position asked for
        nonlocal seen_end
        seen_end = max(seen_end, start + length)
        return original_tables(start, length)

    dit.rope.tables = spy
    gen = torch.Generator().manual_seed(0)
    keep = cfg.n_layers * cfg.window_chunks + 2  # more chunks than the receptive field
    recent: list[torch.Tensor] = []
    cache = BlockCausalCache.empty(cfg.n_layers, cfg.n_heads, cfg.head_dim, o)
    x = torch.zeros(1, o, cfg.latent_channels)
    with torch.inference_mode():
        for _ in range(10_000):
            chunk = torch.randn(1, o, cfg.latent_channels, generator=gen)
            block = BlockCausalBlock(dit, text, cache, recent[-1] if recent else None, None, None)
            block(x, 0.5)  # the fused step slides the window by one chunk
            cache = block.new_cache
            recent = (recent + [chunk])[-keep:]
        target = torch.randn(1, o, cfg.latent_channels, generator=gen)
        block = BlockCausalBlock(dit, text, cache, recent[-1], None, None)
        cached = block(target, 0.7)[0]
        dit.rope.tables = original_tables
        fresh = window_velocity(dit, torch.cat(recent, dim=1), target, 0.7, text, pattern="blockcausal")[0]
    assert seen_end <= cfg.window_frames + 1, f"positions grew to {seen_end} over the stream"
    torch.testing.assert_close(cached, fresh, atol=1e-5, rtol=1e-5)


def test_cache_rotation_equals_rotating_at_the_window_positions() -> None:
    rope = RotaryTable(8, 32)
    k_raw = torch.randn(2, 1, 3, 6, 8)  # [L, 1, H, N, dh]
    cache = BlockCausalCache(k_raw, torch.randn_like(k_raw), chunk_frames=3)
    rotated = cache.rotated(rope, end_position=10)
    cos, sin = rope.tables(4, 6)
    torch.testing.assert_close(rotated.k, apply_rope(k_raw, cos, sin))
    assert torch.equal(rotated.v, cache.v)
