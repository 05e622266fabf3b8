"""The codec's networks: log-magnitude STFT frames ⇄ latent frames.

One latent frame = `frames_per_latent` STFT frames (n_fft 2048, hop 512 → 4) of every audio channel.
Encoder: per-latent-frame projection of the stacked log-magnitudes, then non-causal residual convolutions
over latent frames (it runs offline or with a small look-ahead on live input). Decoder: causal residual
convolutions (dilations 1, 2, 4, 1 → 16 frames of look-back) and a projection back to log-magnitudes. Causal
convolutions with explicit per-layer state make block-by-block decoding identical to whole-sequence
decoding.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

import torch
from torch import nn

from lmd_studio.dsp.stft import StftConfig, pad_for_latents_torch, stft_torch


@dataclass(frozen=True, slots=True)
class CodecConfig:
    sample_rate_hz: int = 44100
    audio_channels: int = 1
    hop_frames: int = 2048
    latent_channels: int = 32
    n_fft: int = 2048
    stft_hop_frames: int = 512
    width: int = 384
    encoder_blocks: int = 3
    decoder_dilations: tuple[int, ...] = (1, 2, 4, 1)
    kernel: int = 3
    log_floor: float = 1e-5
    log_offset: float = -2.0  # log-magnitudes are normalised as (log(mag + floor) - offset) / scale
    log_scale: float = 4.0
    gl_iters: int = 8
    gl_momentum: float = 0.99

    def __post_init__(self) -> None:
        if self.sample_rate_hz < 44100:
            raise ValueError(f"sample_rate_hz must be >= 44100, got {self.sample_rate_hz}")
        if self.audio_channels not in (1, 2):
            raise ValueError(f"audio_channels must be 1 or 2, got {self.audio_channels}")
        if self.hop_frames % self.stft_hop_frames:
            raise ValueError("hop_frames must be a multiple of stft_hop_frames")
        if not 8 <= self.latent_channels <= 128:
            raise ValueError(f"latent_channels must be in [8, 128], got {self.latent_channels}")
        if self.width < 16 or self.encoder_blocks < 0 or not self.decoder_dilations or self.kernel < 2:
            raise ValueError("width >= 16, encoder_blocks >= 0, decoder_dilations non-empty and kernel >= 2")
        if self.log_floor <= 0 or self.log_scale <= 0 or self.gl_iters < 0:
            raise ValueError("log_floor and log_scale must be positive and gl_iters >= 0")
        StftConfig(self.n_fft, self.stft_hop_frames, self.sample_rate_hz)  # validates the STFT pair

    @property
    def stft(self) -> StftConfig:
        return StftConfig(self.n_fft, self.stft_hop_frames, self.sample_rate_hz)

    @property
    def frames_per_latent(self) -> int:
        return self.hop_frames // self.stft_hop_frames

    @property
    def n_bins(self) -> int:
        return self.n_fft // 2 + 1

    @property
    def frame_dim(self) -> int:
        """Values per latent frame: channels × STFT frames × bins."""
        return self.audio_channels * self.frames_per_latent * self.n_bins

    @property
    def latent_rate_hz(self) -> float:
        return self.sample_rate_hz / self.hop_frames

    def to_dict(self) -> dict:
        d = asdict(self)
        d["decoder_dilations"] = list(self.decoder_dilations)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> CodecConfig:
        names = {f.name for f in fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise ValueError(f"unknown codec config keys {sorted(unknown)}")
        d = dict(d)
        if "decoder_dilations" in d:
            d["decoder_dilations"] = tuple(int(x) for x in d["decoder_dilations"])
        return cls(**d)


def log_magnitude_frames(audio: torch.Tensor, cfg: CodecConfig) -> torch.Tensor:
    """audio [B, C, N] → normalised log-magnitudes [B, T, C * F * K] (T = N // hop_frames)."""
    b, c, _ = audio.shape
    if c != cfg.audio_channels:
        raise ValueError(f"expected {cfg.audio_channels} audio channel(s), got {c}")
    x = pad_for_latents_torch(audio.reshape(b * c, -1), cfg.hop_frames, cfg.stft)  # [B*C, L]
    mag = stft_torch(x, cfg.stft).abs()  # [B*C, T*F, K]
    t = mag.shape[1] // cfg.frames_per_latent
    logmag = (torch.log(mag + cfg.log_floor) - cfg.log_offset) / cfg.log_scale
    logmag = logmag.reshape(b, c, t, cfg.frames_per_latent, cfg.n_bins)  # [B, C, T, F, K]
    return logmag.permute(0, 2, 1, 3, 4).reshape(b, t, cfg.frame_dim)  # [B, T, C*F*K]


def frames_to_magnitudes(frames: torch.Tensor, cfg: CodecConfig) -> torch.Tensor:
    """Normalised log-magnitudes [B, T, C * F * K] → linear magnitudes [B, C, T * F, K]."""
    b, t, _ = frames.shape
    x = frames.reshape(b, t, cfg.audio_channels, cfg.frames_per_latent, cfg.n_bins)  # [B, T, C, F, K]
    x = x.permute(0, 2, 1, 3, 4).reshape(b, cfg.audio_channels, t * cfg.frames_per_latent, cfg.n_bins)
    return torch.clamp(torch.exp(x * cfg.log_scale + cfg.log_offset) - cfg.log_floor, min=0.0)


class _Block(nn.Module):
    """Pre-norm residual block: conv (kernel k, dilation d) → GELU → 1x1 conv.

    The convolutions are evaluated as matrix products over stacked taps (same parameters as nn.Conv1d):
    in float64, which the streaming decoder uses, that is ~3x faster than torch's float64 conv1d."""

    def __init__(self, width: int, kernel: int, dilation: int, causal: bool) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(width)
        self.conv = nn.Conv1d(width, width, kernel, dilation=dilation)
        self.mix = nn.Conv1d(width, width, 1)
        self.context = (kernel - 1) * dilation  # past (or past + future) inputs a step needs
        self.causal = causal
        self.kernel, self.dilation = kernel, dilation

    def forward(self, h: torch.Tensor, past: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """h [B, T, D] → (h + f(h) [B, T, D], the last `context` normed inputs [B, D, context])."""
        x = self.norm(h).transpose(1, 2)  # [B, D, T]
        t = x.shape[2]
        if self.causal:
            if past is None:
                past = x.new_zeros(x.shape[0], x.shape[1], self.context)
            x = torch.cat([past, x], dim=2)  # [B, D, context + T]
            tail = x[:, :, x.shape[2] - self.context:]
        else:
            left = self.context // 2
            x = nn.functional.pad(x, (left, self.context - left))
            tail = x[:, :, :0]
        d = x.shape[1]
        taps = torch.cat([x[:, :, j * self.dilation: j * self.dilation + t] for j in range(self.kernel)], dim=1)
        w = self.conv.weight.permute(0, 2, 1).reshape(d, self.kernel * d)  # [D_out, k * D_in], tap-major
        y = nn.functional.gelu(nn.functional.linear(taps.transpose(1, 2), w, self.conv.bias))  # [B, T, D]
        y = nn.functional.linear(y, self.mix.weight[:, :, 0], self.mix.bias)  # [B, T, D]
        return h + y, tail


class CodecNet(nn.Module):
    def __init__(self, cfg: CodecConfig) -> None:
        super().__init__()
        self.cfg = cfg
        w = cfg.width
        self.enc_in = nn.Linear(cfg.frame_dim, w)
        self.enc_blocks = nn.ModuleList([_Block(w, cfg.kernel, 1, causal=False) for _ in range(cfg.encoder_blocks)])
        self.enc_norm = nn.LayerNorm(w)
        self.enc_out = nn.Linear(w, cfg.latent_channels)
        self.dec_in = nn.Linear(cfg.latent_channels, w)
        self.dec_blocks = nn.ModuleList([_Block(w, cfg.kernel, d, causal=True) for d in cfg.decoder_dilations])
        self.dec_norm = nn.LayerNorm(w)
        self.dec_out = nn.Linear(w, cfg.frame_dim)
        # latents are standardised with statistics measured after training (identity until then)
        self.register_buffer("latent_mean", torch.zeros(cfg.latent_channels))
        self.register_buffer("latent_std", torch.ones(cfg.latent_channels))

    def encode_frames(self, frames: torch.Tensor) -> torch.Tensor:
        """[B, T, C*F*K] normalised log-magnitudes → raw latents [B, T, L]."""
        h = nn.functional.gelu(self.enc_in(frames))
        for blk in self.enc_blocks:
            h, _ = blk(h)
        return self.enc_out(self.enc_norm(h))

    def decode_frames(self, z: torch.Tensor, past: tuple[torch.Tensor, ...] | None = None
                      ) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
        """Raw latents [B, T, L] (+ per-block past inputs) → (log-magnitudes [B, T, C*F*K], next past)."""
        h = self.dec_in(z)
        tails = []
        for i, blk in enumerate(self.dec_blocks):
            h, tail = blk(h, None if past is None else past[i])
            tails.append(tail)
        return self.dec_out(self.dec_norm(h)), tuple(tails)

    def normalise(self, z: torch.Tensor) -> torch.Tensor:
        return (z - self.latent_mean) / self.latent_std

    def denormalise(self, z: torch.Tensor) -> torch.Tensor:
        return z * self.latent_std + self.latent_mean
