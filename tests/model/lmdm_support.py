"""Shared helpers for the model tests: a tiny random DiT, a fake text encoder, a test-double codec."""

from __future__ import annotations

from typing import Any

import torch

from lmd_studio.model.attention import TextKV
from lmd_studio.model.conditioning import prompt_mix_condition
from lmd_studio.model.dit import DiT
from lmd_studio.model.dit_config import DiTConfig
from lmd_studio.model.text_encoder import FakeTextEncoder


def tiny_dit(seed: int = 0, std: float = 0.3, **overrides: Any) -> DiT:
    """A tiny random network with weights large enough that attention really mixes tokens."""
    torch.manual_seed(seed)
    dit = DiT(DiTConfig.tiny(**overrides))
    return dit.init_weights(std, torch.Generator().manual_seed(seed)).eval()


def text_for(dit: DiT, prompt: str = "warm piano chords", cfg_rows: bool = False) -> TextKV:
    from lmd_studio.model.conditioning import TextCondition

    enc = FakeTextEncoder(dit.cfg.text_dim)
    cond = prompt_mix_condition(enc, [(prompt, 1.0)])
    if cfg_rows:
        cond = TextCondition.stack([cond, TextCondition.null(dit.cfg.text_dim)])
    return dit.encode_text(cond)


class LinearTestCodec:
    """A LatentCodec test double: each latent frame is a fixed random linear map of one hop of audio.

    decode = latents @ M (one hop per frame), encode = least-squares inverse. Streaming decode is stateless
    except for a frame counter, so streaming == offline exactly.
    """

    def __init__(self, latent_channels: int = 8, hop_frames: int = 64, sample_rate: int = 8000,
                 audio_channels: int = 1, seed: int = 0) -> None:
        gen = torch.Generator().manual_seed(seed)
        self._m = torch.randn(latent_channels, hop_frames * audio_channels, generator=gen) / latent_channels
        self._pinv = torch.linalg.pinv(self._m)
        self._latent_channels = latent_channels
        self._hop = hop_frames
        self._sr = sample_rate
        self._ch = audio_channels

    @property
    def sample_rate(self) -> int:
        return self._sr

    @property
    def audio_channels(self) -> int:
        return self._ch

    @property
    def latent_channels(self) -> int:
        return self._latent_channels

    @property
    def hop_frames(self) -> int:
        return self._hop

    @property
    def latent_rate_hz(self) -> float:
        return self._sr / self._hop

    def encode(self, audio: torch.Tensor) -> torch.Tensor:
        b, c, n = audio.shape
        t = n // self._hop
        frames = audio[..., : t * self._hop].reshape(b, c, t, self._hop).permute(0, 2, 1, 3).reshape(b, t, -1)
        return frames @ self._pinv

    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        b, t, _ = latents.shape
        frames = (latents @ self._m).reshape(b, t, self._ch, self._hop)  # [B, T, C, hop]
        return frames.permute(0, 2, 1, 3).reshape(b, self._ch, t * self._hop)

    def init_decode_state(self, batch: int = 1) -> int:
        return 0

    def decode_block(self, latents: torch.Tensor, state: int) -> tuple[torch.Tensor, int]:
        return self.decode(latents), state + latents.shape[1]
