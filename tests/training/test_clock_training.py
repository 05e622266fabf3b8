"""Model v2's clock through training: batches carry each window's clock, dropout hides it, and a model with
clock channels trains through `lmd train base|lmdm` and loads with them."""

from __future__ import annotations

import dataclasses

import numpy as np
import torch

from lmd_studio.cli import main as lmd_main
from lmd_studio.model.dit import DiT
from lmd_studio.model.model_io import load_dit
from lmd_studio.model.text_encoder import FakeTextEncoder
from lmd_studio.training.batches import WindowSampler
from lmd_studio.training.flow import CondDropout, batch_conditions
from lmd_studio.training.latents import LatentSet
from lmd_studio.training.text_bank import TextBank
from tests.training.diffusion_support import COMMON, TINY_MODEL


def test_clock_reaches_the_frame_conditioning_unless_dropped(diffusion_tiny) -> None:
    torch.set_num_threads(1)
    data = LatentSet.open(diffusion_tiny.latents, "train")
    bank = TextBank.build(data.descriptions, FakeTextEncoder(TINY_MODEL.text_dim), TINY_MODEL.max_text_tokens)
    sampler = WindowSampler(data, bank, 12, seed=0)
    batch = sampler.fixed(len(data.items))
    assert batch.clock is not None and batch.clock.shape == (len(data.items), 12, 6)
    assert batch.clock[:, :, 5].any(), "some tiny-corpus items have a grid"
    cfg = dataclasses.replace(TINY_MODEL, clock_channels=6)
    dit = DiT(cfg)
    gen = torch.Generator().manual_seed(0)
    _, kept = batch_conditions(dit, batch, bank, CondDropout(0.0, 0.0, 0.0, p_clock_drop=0.0), gen, "cpu")
    _, dropped = batch_conditions(dit, batch, bank, CondDropout(0.0, 0.0, 0.0, p_clock_drop=1.0), gen, "cpu")
    np.testing.assert_array_equal(kept[..., -6:].numpy(), batch.clock.numpy())
    assert not dropped[..., -6:].any()


def test_a_clocked_chain_trains_and_loads(diffusion_tiny, tmp_path) -> None:
    torch.set_num_threads(1)
    model = dataclasses.replace(TINY_MODEL, clock_channels=6).to_dict()
    base_cfg = diffusion_tiny.write_config("base_clock", dict(COMMON, model=model))
    base, lmdm = tmp_path / "base", tmp_path / "lmdm"
    assert lmd_main(["train", "base", "--latents", str(diffusion_tiny.latents), "--config", str(base_cfg),
                     "--out", str(base), "--device", "cpu"]) == 0
    assert lmd_main(["train", "lmdm", "--latents", str(diffusion_tiny.latents), "--config",
                     str(diffusion_tiny.config("lmdm")), "--out", str(lmdm), "--device", "cpu", "--init",
                     str(base)]) == 0
    dit, _ = load_dit(lmdm / "model.safetensors")
    assert dit.cfg.clock_channels == 6
    assert dit.frame_cond_in is not None and dit.frame_cond_in.in_features == dit.cfg.frame_cond_channels
