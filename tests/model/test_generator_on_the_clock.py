"""A clocked model starts each block's beat count where the engine's clock says (BlockControls.
bar_position_beats), and counts on from its own state when it is not told."""

from __future__ import annotations

import pytest
import torch

from lmd_studio.core.generator import BlockControls, PromptSlot
from lmd_studio.model.generator import TorchBlockGenerator
from lmd_studio.model.model_io import GeneratorConfig
from lmd_studio.model.text_encoder import FakeTextEncoder
from tests.model.lmdm_support import LinearTestCodec, tiny_dit

torch.set_num_threads(1)


def test_the_engine_bar_position_sets_the_models_count() -> None:
    dit = tiny_dit(seed=3, clock_channels=6)
    gen = TorchBlockGenerator(dit, LinearTestCodec(), FakeTextEncoder(dit.cfg.text_dim), config=GeneratorConfig())
    rate_hz = gen.codec.sample_rate / gen.codec.hop_frames
    per_block = 120.0 / 60.0 * dit.cfg.block_frames / rate_hz
    base = BlockControls(values={"steps": 2.0}, prompts=(PromptSlot("drums", 1.0),), bpm=120.0)
    state = gen.init_state(0)
    with torch.inference_mode():
        _, own = gen.generate_latents(state, base)
        told_latents, told = gen.generate_latents(state, BlockControls(
            values=base.values, prompts=base.prompts, bpm=120.0, bar_position_beats=2.5))
        own_latents, _ = gen.generate_latents(state, base)
    assert own.clock_beats == pytest.approx(per_block)  # counted on from 0
    assert told.clock_beats == pytest.approx(2.5 + per_block)  # started where the engine said
    assert not torch.allclose(told_latents, own_latents)  # the clock channels reach the network
