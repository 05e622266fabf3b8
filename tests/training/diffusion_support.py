"""Shared set-up for the diffusion-recipe tests: a tiny corpus, a tiny codec built in code, its latents and
tiny stage configs (a 30k-parameter DiT, the hashed fake text encoder), so every recipe runs in seconds."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch

from lmd_studio.data.builder import BuildConfig, build_corpus
from lmd_studio.model.codec import save_codec
from lmd_studio.model.codec_net import CodecConfig, CodecNet
from lmd_studio.model.dit_config import DiTConfig
from lmd_studio.training.latents import encode_corpus

COMMON = {"steps": 1, "batch_size": 2, "eval_every": 1, "eval_batch": 2, "checkpoint_every": 1, "log_every": 1,
          "threads": 1, "text_encoder": "fake", "warmup_steps": 1}
TINY_MODEL = DiTConfig.tiny(latent_channels=32, context_frames=8, block_frames=4, pattern="bidirectional",
                            routing=False, accomp_channels=33)


@dataclass(frozen=True)
class TinySetup:
    root: Path
    corpus: Path
    codec: Path
    latents: Path
    configs: Path

    def config(self, stage: str) -> Path:
        return self.configs / f"{stage}.json"

    def write_config(self, name: str, data: dict) -> Path:
        path = self.configs / f"{name}.json"
        path.write_text(json.dumps(data))
        return path


def make_tiny_codec(path: Path) -> Path:
    torch.manual_seed(0)
    net = CodecNet(CodecConfig(width=32, encoder_blocks=1, decoder_dilations=(1, 2), gl_iters=2))
    return save_codec(path, net)


def build_tiny_setup(root: Path) -> TinySetup:
    corpus = root / "corpus"
    build_corpus(BuildConfig(out_dir=corpus, size="tiny", workers=2, progress=False), log=lambda *_: None)
    codec = make_tiny_codec(root / "codec.safetensors")
    latents = encode_corpus(corpus, codec, root / "latents", log=lambda *_: None)
    configs = root / "configs"
    configs.mkdir()
    setup = TinySetup(root, corpus, codec, latents, configs)
    setup.write_config("base", dict(COMMON, model=TINY_MODEL.to_dict()))
    setup.write_config("lmdm", dict(COMMON))
    setup.write_config("arc", dict(COMMON, steps=3, rollout_blocks=2, disc_warmup_steps=1, head_warmup_steps=1,
                                   disc_head_width=16, max_steps_per_block=3, flow_weight=0.5,
                                   disc_logsnr_min=-2.0, disc_logsnr_max=4.0))
    setup.write_config("lora", dict(COMMON, steps=2, rank=2))
    return setup
