"""Weighted prompt mixing: weight 1.0 on one slot is that prompt alone; weights are normalised; linear mix."""

from __future__ import annotations

import pytest
import torch

from lmd_studio.core.generator import BlockControls, PromptSlot
from lmd_studio.model.conditioning import TextCondition, prompt_mix_condition, text_condition
from lmd_studio.model.text_encoder import FakeTextEncoder
from tests.model.lmdm_support import tiny_dit

torch.set_num_threads(1)
A, B = "dusty boom bap drums", "shimmering ambient synth pad with long reverb"


def _velocity(dit, cond: TextCondition) -> torch.Tensor:  # noqa: ANN001
    cfg = dit.cfg
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(1, cfg.window_frames, cfg.latent_channels, generator=gen)
    clean = torch.randn(1, cfg.window_frames, cfg.latent_channels, generator=gen)
    is_ctx = torch.arange(cfg.window_frames) < cfg.context_frames
    with torch.inference_mode():
        return dit(x, 0.5, dit.encode_text(cond), x_clean=clean, is_context=is_ctx)


def test_weight_one_on_a_slot_equals_that_prompt_alone() -> None:
    dit = tiny_dit()
    enc = FakeTextEncoder(dit.cfg.text_dim)
    alone = _velocity(dit, prompt_mix_condition(enc, [(A, 1.0)]))
    both = _velocity(dit, text_condition(enc.encode([A, B]), [1.0, 0.0]))
    torch.testing.assert_close(both, alone, atol=1e-6, rtol=1e-6)
    other = _velocity(dit, prompt_mix_condition(enc, [(B, 1.0)]))
    assert (other - alone).abs().max() > 1e-3, "different prompts must steer the model differently"
    # through the mixer: a zero-weight or disabled slot is dropped before the model sees it
    controls = BlockControls(prompts=(PromptSlot(A, 1.0), PromptSlot(B, 0.0), PromptSlot(B, 0.7, enabled=False)))
    assert controls.prompt_mix == ((A, 1.0),)


def test_weights_are_normalised() -> None:
    dit = tiny_dit()
    enc = FakeTextEncoder(dit.cfg.text_dim)
    a = text_condition(enc.encode([A, B]), [3.0, 1.0])
    b = text_condition(enc.encode([A, B]), [0.75, 0.25])
    torch.testing.assert_close(a.weights, torch.tensor([[0.75, 0.25]]))
    assert torch.equal(_velocity(dit, a), _velocity(dit, b))
    mix = BlockControls(prompts=(PromptSlot(A, 2.0), PromptSlot(B, 2.0))).prompt_mix
    assert [w for _, w in mix] == [0.5, 0.5]
    with pytest.raises(ValueError):
        text_condition(enc.encode([A]), [0.0])


def test_cross_attention_output_is_linear_in_the_weights() -> None:
    dit = tiny_dit()
    enc = FakeTextEncoder(dit.cfg.text_dim)
    cross = dit.blocks[0].cross
    x = torch.randn(1, 5, dit.cfg.d_model)

    def out(weights: list[float]) -> torch.Tensor:
        with torch.inference_mode():
            return cross(x, None, dit.encode_text(text_condition(enc.encode([A, B]), weights)), 0)

    w = 0.3
    mixed = out([w, 1 - w])
    torch.testing.assert_close(mixed, w * out([1.0, 0.0]) + (1 - w) * out([0.0, 1.0]), atol=1e-5, rtol=1e-5)


def test_empty_mix_is_the_null_prompt_and_stack_pads() -> None:
    dit = tiny_dit()
    enc = FakeTextEncoder(dit.cfg.text_dim)
    null = prompt_mix_condition(enc, [])
    assert bool(null.is_null.all())
    both = TextCondition.stack([text_condition(enc.encode([A, B]), [1, 1]), null])
    assert both.tokens.shape[:2] == (2, 2) and both.is_null.tolist() == [False, True]
    kv = dit.encode_text(both)
    assert kv.batch == 2 and kv.prompts == 2
    assert torch.isfinite(kv.k[0]).all() and torch.isfinite(kv.global_embed).all()
