"""TorchBlockGenerator with the real SpectralCodec (random weights): the fixed numbers line up end to end."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lmd_studio.core.generator import BlockControls, PromptSlot
from lmd_studio.model.generator import TorchBlockGenerator
from lmd_studio.model.text_encoder import FakeTextEncoder
from tests.model.lmdm_support import tiny_dit

codec_module = pytest.importorskip("lmd_studio.model.codec")
codec_net = pytest.importorskip("lmd_studio.model.codec_net")
torch.set_num_threads(1)


def test_real_codec_decodes_generated_blocks_and_rewinds() -> None:
    torch.manual_seed(0)
    codec = codec_module.SpectralCodec(codec_net.CodecNet(codec_net.CodecConfig()))
    assert (codec.sample_rate, codec.hop_frames, codec.latent_channels) == (44100, 2048, 32)
    dit = tiny_dit(latent_channels=32, accomp_channels=33, block_frames=4, context_frames=16)
    gen = TorchBlockGenerator(dit, codec, FakeTextEncoder(dit.cfg.text_dim))
    assert gen.block_frames == 4 * 2048 and gen.sample_rate == 44100
    controls = BlockControls(values={"steps": 2}, prompts=(PromptSlot("rainy jazz piano", 1.0),))
    state = gen.init_state(0)
    _, state = gen.generate_block(state, controls)
    a, _ = gen.generate_block(state, controls)
    b, _ = gen.generate_block(state, controls)  # the codec's decode state is rewound as well
    assert a.shape == (gen.block_frames, 1) and a.dtype == np.float32 and np.isfinite(a).all()
    assert np.array_equal(a, b)
