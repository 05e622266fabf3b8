"""LMDM routing: context hidden states do not depend on t (nor on the targets or the prompt)."""

from __future__ import annotations

import pytest
import torch

from lmd_studio.model.dit_config import DiTConfig
from lmd_studio.model.masks import bidirectional_mask, window_mask
from tests.model.lmdm_support import text_for, tiny_dit

torch.set_num_threads(1)


def _inputs(cfg: DiTConfig, seed: int = 1) -> tuple[torch.Tensor, ...]:
    gen = torch.Generator().manual_seed(seed)
    t_frames = cfg.window_frames
    x_noisy = torch.randn(1, t_frames, cfg.latent_channels, generator=gen)
    x_clean = torch.randn(1, t_frames, cfg.latent_channels, generator=gen)
    cond = torch.randn(1, t_frames, cfg.frame_cond_channels, generator=gen)
    is_context = torch.arange(t_frames) < cfg.context_frames
    return x_noisy, x_clean, cond, is_context


@pytest.mark.parametrize("pattern", ["encdec", "blockcausal"])
def test_context_hidden_states_are_bit_identical_for_any_t(pattern: str) -> None:
    dit = tiny_dit(pattern=pattern)
    cfg = dit.cfg
    s = cfg.context_frames
    x_noisy, x_clean, cond, is_context = _inputs(cfg)
    mask = window_mask(pattern, s, cfg.block_frames)
    text = text_for(dit)
    with torch.inference_mode():
        for layers in range(1, cfg.n_layers + 1):
            ref = dit(x_noisy, 0.5, text, x_clean=x_clean, is_context=is_context, frame_cond=cond, mask=mask,
                      n_layers=layers, return_hidden=True)
            for t in (0.0, 0.013, 0.37, 0.999, 1.0):
                # a different t, different noisy targets and a different prompt: context rows must not move
                other_noise = x_noisy + torch.randn_like(x_noisy)
                other_text = text_for(dit, "distorted metal guitar riff")
                h = dit(other_noise, t, other_text, x_clean=x_clean, is_context=is_context, frame_cond=cond,
                        mask=mask, n_layers=layers, return_hidden=True)
                assert torch.equal(h[:, :s], ref[:, :s]), f"context rows moved at t={t}, layers={layers}"
                assert not torch.allclose(h[:, s:], ref[:, s:]), "target rows must depend on t and the noise"


def test_without_the_masked_global_token_context_would_depend_on_t() -> None:
    """The control experiment: a mask that lets context see the global token breaks t-independence."""
    dit = tiny_dit(pattern="encdec")
    cfg = dit.cfg
    x_noisy, x_clean, cond, is_context = _inputs(cfg)
    leaky = bidirectional_mask(cfg.window_frames)
    text = text_for(dit)
    with torch.inference_mode():
        a = dit(x_noisy, 0.2, text, x_clean=x_clean, is_context=is_context, frame_cond=cond, mask=leaky,
                return_hidden=True)
        b = dit(x_noisy, 0.8, text, x_clean=x_clean, is_context=is_context, frame_cond=cond, mask=leaky,
                return_hidden=True)
    assert not torch.allclose(a[:, : cfg.context_frames], b[:, : cfg.context_frames])


def test_noisy_stream_is_ignored_on_context_frames() -> None:
    dit = tiny_dit(pattern="blockcausal")
    cfg = dit.cfg
    x_noisy, x_clean, cond, is_context = _inputs(cfg)
    garbage = x_noisy.clone()
    garbage[:, : cfg.context_frames] = 1e3  # the noisy stream at context positions is zeroed by routing
    text = text_for(dit)
    with torch.inference_mode():
        a = dit(x_noisy, 0.4, text, x_clean=x_clean, is_context=is_context, frame_cond=cond)
        b = dit(garbage, 0.4, text, x_clean=x_clean, is_context=is_context, frame_cond=cond)
    assert torch.equal(a, b)


def test_stage_configs_are_one_network() -> None:
    lmdm = DiTConfig.tiny()
    base = lmdm.for_stage("base")
    assert base.pattern == "bidirectional" and not base.routing
    assert lmdm.for_stage("discriminator") == base
    base_net = tiny_dit(**{"pattern": "bidirectional", "routing": False})
    stage1 = tiny_dit(seed=5)
    fresh = stage1.load_base_weights(base_net.state_dict())
    assert fresh and all(name.startswith("context_in.") for name in fresh)
    for name, p in base_net.state_dict().items():
        assert torch.equal(stage1.state_dict()[name], p)
    with pytest.raises(ValueError, match="routing"):
        DiTConfig.tiny(pattern="encdec", routing=False)


def test_stage0_network_rejects_context_and_trunk_returns_hidden() -> None:
    dit = tiny_dit(pattern="bidirectional", routing=False)
    cfg = dit.cfg
    x_noisy, x_clean, cond, is_context = _inputs(cfg)
    text = text_for(dit)
    with torch.inference_mode():
        v = dit(x_noisy, 0.3, text, frame_cond=cond)
        h = dit(x_noisy, 0.3, text, frame_cond=cond, n_layers=1, return_hidden=True)
        with pytest.raises(ValueError, match="context input"):
            dit(x_noisy, 0.3, text, x_clean=x_clean, is_context=is_context)
    assert v.shape == x_noisy.shape
    assert h.shape == (1, cfg.window_frames, cfg.d_model)
