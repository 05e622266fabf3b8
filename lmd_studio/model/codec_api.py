"""The seam between the diffusion model and the audio codec.

The DiT works on latent frames [B, T, latent_channels] at `latent_rate_hz`; a codec turns audio into
them and back. Streaming decode must equal offline decode (to a stated tolerance) so the generator can
decode block by block. Implementations: model.codec.SpectralCodec (issue 3: magnitudes + streaming
Griffin-Lim phase) and model.codec2.Codec2 (issue 14: learned magnitude and phase + streaming inverse STFT);
model.codec.load_codec reads either file.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import torch


@runtime_checkable
class LatentCodec(Protocol):
    @property
    def sample_rate(self) -> int: ...

    @property
    def audio_channels(self) -> int: ...

    @property
    def latent_channels(self) -> int: ...

    @property
    def hop_frames(self) -> int:
        """Audio frames per latent frame."""
        ...

    @property
    def latent_rate_hz(self) -> float: ...

    def encode(self, audio: torch.Tensor) -> torch.Tensor:
        """[B, C, N] float audio → [B, N // hop_frames, latent_channels] latents."""
        ...

    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        """[B, T, latent_channels] → [B, C, T * hop_frames] audio (offline, whole sequence)."""
        ...

    def init_decode_state(self, batch: int = 1) -> Any: ...

    def decode_block(self, latents: torch.Tensor, state: Any) -> tuple[torch.Tensor, Any]:
        """Streaming decode of the next [B, t, L] latents → ([B, C, t * hop_frames] audio, next state).

        Must not mutate `state` (the engine rewinds to old states)."""
        ...


class CodecShapeFromConfig:
    """The LatentCodec's shape properties read from `self.cfg` (a codec config with sample_rate_hz,
    audio_channels, latent_channels, hop_frames and latent_rate_hz) — shared by both codecs."""

    cfg: Any

    @property
    def sample_rate(self) -> int:
        return int(self.cfg.sample_rate_hz)

    @property
    def audio_channels(self) -> int:
        return int(self.cfg.audio_channels)

    @property
    def latent_channels(self) -> int:
        return int(self.cfg.latent_channels)

    @property
    def hop_frames(self) -> int:
        return int(self.cfg.hop_frames)

    @property
    def latent_rate_hz(self) -> float:
        return float(self.cfg.latent_rate_hz)
