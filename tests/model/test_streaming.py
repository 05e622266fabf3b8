"""Streaming N blocks one at a time == the full-sequence computation (fixed seed), and token-pass counts."""

from __future__ import annotations

import pytest
import torch

from lmd_studio.model.dit import DiT
from lmd_studio.model.samplers import SamplerSpec
from lmd_studio.model.streaming import (
    MODES,
    BlockCausalBlock,
    LatentStreamState,
    make_block_denoiser,
    token_passes_formula,
    window_velocity,
)
from tests.model.lmdm_support import text_for, tiny_dit

torch.set_num_threads(1)


def _cond(dit: DiT, n: int) -> torch.Tensor:
    return torch.randn(1, dit.cfg.block_frames, dit.cfg.frame_cond_channels,
                       generator=torch.Generator().manual_seed(100 + n))


def stream(dit: DiT, mode: str, spec: SamplerSpec, n_blocks: int, text) -> list[torch.Tensor]:  # noqa: ANN001
    cfg = dit.cfg
    state = LatentStreamState.start(dit)
    out = []
    for n in range(n_blocks):
        gen = torch.Generator().manual_seed(1000 + n)
        cond = _cond(dit, n)
        denoiser = make_block_denoiser(dit, mode, state, text, cond, gen)
        x = spec.run(denoiser, (1, cfg.block_frames, cfg.latent_channels), gen)
        cache = denoiser.new_cache if isinstance(denoiser, BlockCausalBlock) else state.cache
        state = state.advanced(x, cond, cfg.context_frames, cache)
        out.append(x)
    return out


def full_sequence(dit: DiT, mode: str, spec: SamplerSpec, n_blocks: int, text) -> list[torch.Tensor]:  # noqa: ANN001
    """Every step of every block recomputed from scratch over the whole history (block-causal) or the
    last s frames (enc-dec) with the pattern's mask — no cache anywhere."""
    cfg = dit.cfg
    history = torch.zeros(1, 0, cfg.latent_channels)
    conds = torch.zeros(1, 0, cfg.frame_cond_channels)
    out = []
    for n in range(n_blocks):
        gen = torch.Generator().manual_seed(1000 + n)
        cond = _cond(dit, n)
        ctx, ctx_cond = (history, conds) if mode == "blockcausal" else (
            history[:, -cfg.context_frames:], conds[:, -cfg.context_frames:])

        def denoise(x, t, ctx=ctx, ctx_cond=ctx_cond, cond=cond):  # noqa: ANN001, ANN202
            return window_velocity(dit, ctx, x, t, text, pattern=mode, context_cond=ctx_cond, target_cond=cond)

        x = spec.run(denoise, (1, cfg.block_frames, cfg.latent_channels), gen)
        history = torch.cat([history, x], dim=1)
        conds = torch.cat([conds, cond], dim=1)
        out.append(x)
    return out


@pytest.mark.parametrize("mode", ["encdec", "blockcausal"])
@pytest.mark.parametrize("sampler", ["euler", "pingpong", "pingpong++"])
@pytest.mark.parametrize("clock_channels", [0, 6])  # 6: Model v2's musical clock in the frame conditioning
def test_streamed_blocks_equal_full_sequence(mode: str, sampler: str, clock_channels: int) -> None:
    dit = tiny_dit(pattern=mode, clock_channels=clock_channels)
    spec = SamplerSpec(sampler, steps=3, guidance=2.0)
    text = text_for(dit, cfg_rows=True)
    n_blocks = dit.cfg.window_chunks + 4  # long enough that the window slides
    with torch.inference_mode():
        streamed = stream(dit, mode, spec, n_blocks, text)
        reference = full_sequence(dit, mode, spec, n_blocks, text)
    for n, (a, b) in enumerate(zip(streamed, reference)):
        torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4, msg=f"block {n} differs")
    assert not torch.allclose(streamed[-1], streamed[-2]), "blocks should differ (a non-trivial test)"


def test_stream_is_deterministic_and_depends_on_history() -> None:
    dit = tiny_dit()
    spec = SamplerSpec("pingpong", steps=2)
    text = text_for(dit)
    with torch.inference_mode():
        a = stream(dit, "blockcausal", spec, 5, text)
        b = stream(dit, "blockcausal", spec, 5, text)
    assert all(torch.equal(x, y) for x, y in zip(a, b))


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(("s", "o", "k"), [(8, 2, 1), (8, 2, 4), (12, 3, 8), (16, 4, 8)])
def test_token_passes_counted_equal_formula(mode: str, s: int, o: int, k: int) -> None:
    dit = tiny_dit(context_frames=s, block_frames=o)
    cfg = dit.cfg
    spec = SamplerSpec("euler", steps=k)
    text = text_for(dit)
    state = LatentStreamState.start(dit)
    with torch.inference_mode():
        for n in range(s // o + 2):  # the last block has a full context / full cache
            gen = torch.Generator().manual_seed(n)
            cond = torch.zeros(1, o, cfg.frame_cond_channels)
            dit.counter.reset()
            denoiser = make_block_denoiser(dit, mode, state, text, cond, gen)
            x = spec.run(denoiser, (1, o, cfg.latent_channels), gen)
            cache = denoiser.new_cache if isinstance(denoiser, BlockCausalBlock) else state.cache
            state = state.advanced(x, cond, s, cache)
    assert dit.counter.frame_tokens == token_passes_formula(mode, s, o, k)


def test_formula_matches_the_paper_numbers() -> None:
    assert [token_passes_formula(m, 192, 48, 8) for m in ("naive", "encdec", "blockcausal")] == [1920, 576, 432]
    with pytest.raises(ValueError):
        token_passes_formula("magic", 1, 1, 1)
