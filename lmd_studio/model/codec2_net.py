"""Codec v2 networks: log-magnitude STFT frames → latents → complex STFT frames (Vocos-style decoder).

One latent frame = `frames_per_latent` STFT frames (n_fft 2048, hop 512 → 4) of every audio channel, the
same framing as v1 (dsp/stft.py), so latents stay 32 × 21.5 Hz and the DiT keeps its shape.
- Encoder: per-latent-frame projection of the stacked normalised log-magnitudes, ConvNeXt blocks with
  centred depthwise convolutions (look-ahead (kernel - 1) / 2 latent frames; it runs offline), a projection
  to `latent_channels`.
- Decoder: projection from the latents, ConvNeXt blocks with *causal* depthwise convolutions whose past
  inputs are explicit state (block decode == offline decode), an upsampling projection to `frame_width`
  features per STFT frame (GELU), and a head shared by all frames that predicts a log-magnitude and a phase
  angle per bin. (A head straight from the latent-rate features would need a D × F·2K matrix: ~20 % more
  decoder weights for the same per-frame rank, and the decoder's speed is bound by reading its weights.) The complex frames go to the streaming
  inverse STFT (dsp/istft_stream.py); no phase reconstruction, no float64.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

import torch
from torch import nn

from lmd_studio.dsp.stft import StftConfig, pad_for_latents_torch, stft_torch


@dataclass(frozen=True, slots=True)
class Codec2Config:
    sample_rate_hz: int = 44100
    audio_channels: int = 1
    hop_frames: int = 2048
    latent_channels: int = 32
    n_fft: int = 2048
    stft_hop_frames: int = 512
    encoder_width: int = 512
    encoder_blocks: int = 4
    encoder_kernel: int = 7  # centred: 3 latent frames of look-ahead
    decoder_width: int = 384
    decoder_blocks: int = 8
    decoder_kernel: int = 7  # causal: 6 latent frames of look-back per block
    frame_width: int = 384  # features per STFT frame entering the shared head
    mlp_ratio: int = 3
    log_floor: float = 1e-7  # encoder input: (log(mag + floor) - offset) / scale; v1 used 1e-5, but the MR-STFT
    # metric compares magnitudes down to 1e-7, so the encoder should tell -100 dB from digital silence
    log_offset: float = -2.0
    log_scale: float = 4.0
    max_log_magnitude: float = 8.0  # head clamp: e^8 ≈ 2981, above a full-scale sine's peak bin (512)
    init_log_magnitude: float = -4.0  # the head's initial log-magnitude bias (e^-4 ≈ 0.02, a typical music bin)

    def __post_init__(self) -> None:
        if self.sample_rate_hz < 44100:
            raise ValueError(f"sample_rate_hz must be >= 44100, got {self.sample_rate_hz}")
        if self.audio_channels not in (1, 2):
            raise ValueError(f"audio_channels must be 1 or 2, got {self.audio_channels}")
        if self.hop_frames % self.stft_hop_frames:
            raise ValueError(f"hop_frames ({self.hop_frames}) must be a multiple of stft_hop_frames "
                             f"({self.stft_hop_frames})")
        if not 8 <= self.latent_channels <= 128:
            raise ValueError(f"latent_channels must be in [8, 128], got {self.latent_channels}")
        for name in ("encoder_width", "decoder_width", "frame_width"):
            if getattr(self, name) < 16:
                raise ValueError(f"{name} must be >= 16, got {getattr(self, name)}")
        if self.encoder_blocks < 0 or self.decoder_blocks < 1:
            raise ValueError("encoder_blocks must be >= 0 and decoder_blocks >= 1")
        if self.encoder_kernel < 1 or self.encoder_kernel % 2 == 0 or self.decoder_kernel < 2:
            raise ValueError("encoder_kernel must be odd (centred) and decoder_kernel >= 2")
        if self.mlp_ratio < 1 or self.log_floor <= 0 or self.log_scale <= 0 or self.max_log_magnitude <= 0:
            raise ValueError("mlp_ratio >= 1; log_floor, log_scale and max_log_magnitude must be positive")
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
        """Encoder input values per latent frame: channels × STFT frames × bins."""
        return self.audio_channels * self.frames_per_latent * self.n_bins

    @property
    def latent_rate_hz(self) -> float:
        return self.sample_rate_hz / self.hop_frames

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> Codec2Config:
        unknown = set(d) - {f.name for f in fields(cls)}
        if unknown:
            raise ValueError(f"unknown codec2 config keys {sorted(unknown)}")
        return cls(**d)


def analyse(audio: torch.Tensor, cfg: Codec2Config) -> tuple[torch.Tensor, torch.Tensor]:
    """audio [B, C, N] → (complex STFT [B, C, T*F, K], normalised log-magnitudes [B, T, C*F*K]), T = N // hop."""
    b, c, _ = audio.shape
    if c != cfg.audio_channels:
        raise ValueError(f"expected {cfg.audio_channels} audio channel(s), got {c}")
    x = pad_for_latents_torch(audio.reshape(b * c, -1), cfg.hop_frames, cfg.stft)  # [B*C, L + tail]
    spec = stft_torch(x, cfg.stft)  # [B*C, T*F, K]
    t = spec.shape[1] // cfg.frames_per_latent
    spec = spec.reshape(b, c, t * cfg.frames_per_latent, cfg.n_bins)  # [B, C, T*F, K]
    logmag = (torch.log(spec.abs() + cfg.log_floor) - cfg.log_offset) / cfg.log_scale
    logmag = logmag.reshape(b, c, t, cfg.frames_per_latent, cfg.n_bins)  # [B, C, T, F, K]
    return spec, logmag.permute(0, 2, 1, 3, 4).reshape(b, t, cfg.frame_dim)  # [B, T, C*F*K]


class ConvNeXtBlock(nn.Module):
    """Depthwise conv over time (causal with explicit past, or centred) → LayerNorm → MLP → layer scale.

    At inference the depthwise convolution is evaluated as `kernel` shifted multiply-adds in [B, T, D] layout
    (the same function as nn.Conv1d with groups=D): at decode-block sizes on one CPU thread that is ~20x
    cheaper than oneDNN's depthwise kernel. With autograd on (training) the conv call is used: its backward
    is much cheaper than that of the shifted sums."""

    def __init__(self, width: int, kernel: int, mlp_ratio: int, causal: bool, layer_scale: float) -> None:
        super().__init__()
        self.dwconv = nn.Conv1d(width, width, kernel, groups=width)
        self.norm = nn.LayerNorm(width)
        self.up = nn.Linear(width, mlp_ratio * width)
        self.down = nn.Linear(mlp_ratio * width, width)
        self.scale = nn.Parameter(torch.full((width,), layer_scale))
        self.causal, self.kernel, self.context = causal, kernel, kernel - 1

    def forward(self, h: torch.Tensor, past: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """h [B, T, D] (+ past inputs [B, kernel-1, D]) → (h + f(h) [B, T, D], next past [B, kernel-1, D])."""
        b, t, d = h.shape
        if self.causal:
            if past is None:
                past = h.new_zeros(b, self.context, d)
            x = torch.cat([past.to(h.dtype), h], dim=1)  # [B, context + T, D]
            tail = x[:, x.shape[1] - self.context:]
        else:
            half = self.context // 2
            x = nn.functional.pad(h, (0, 0, half, self.context - half))  # [B, context + T, D]
            tail = x[:, :0]
        if torch.is_grad_enabled():  # training: one depthwise conv call (its backward is far cheaper)
            y = self.dwconv(x.transpose(1, 2)).transpose(1, 2)  # [B, T, D]
        else:
            w = self.dwconv.weight[:, 0, :].t()  # [kernel, D]
            y = x[:, 0:t] * w[0] + self.dwconv.bias
            for j in range(1, self.kernel):
                y = y + x[:, j:j + t] * w[j]
        y = self.down(nn.functional.gelu(self.up(self.norm(y))))  # [B, T, D]
        return h + self.scale * y, tail


class Codec2Net(nn.Module):
    def __init__(self, cfg: Codec2Config) -> None:
        super().__init__()
        self.cfg = cfg
        we, wd = cfg.encoder_width, cfg.decoder_width
        self.enc_in = nn.Linear(cfg.frame_dim, we)
        self.enc_norm_in = nn.LayerNorm(we)
        self.enc_blocks = nn.ModuleList([ConvNeXtBlock(we, cfg.encoder_kernel, cfg.mlp_ratio, False,
                                                       1.0 / max(1, cfg.encoder_blocks))
                                         for _ in range(cfg.encoder_blocks)])
        self.enc_norm = nn.LayerNorm(we)
        self.enc_out = nn.Linear(we, cfg.latent_channels)
        self.dec_in = nn.Linear(cfg.latent_channels, wd)
        self.dec_norm_in = nn.LayerNorm(wd)
        self.dec_blocks = nn.ModuleList([ConvNeXtBlock(wd, cfg.decoder_kernel, cfg.mlp_ratio, True,
                                                       1.0 / cfg.decoder_blocks) for _ in range(cfg.decoder_blocks)])
        self.dec_norm = nn.LayerNorm(wd)
        # per latent frame: C × F frames × frame_width features, then per frame (log-magnitude, phase) × K bins
        self.up = nn.Linear(wd, cfg.audio_channels * cfg.frames_per_latent * cfg.frame_width)
        self.head = nn.Linear(cfg.frame_width, 2 * cfg.n_bins)
        with torch.no_grad():  # start near music levels instead of magnitude 1 in every bin
            self.head.bias[: cfg.n_bins].fill_(cfg.init_log_magnitude)
        # latents are standardised with statistics measured after training (identity until then)
        self.register_buffer("latent_mean", torch.zeros(cfg.latent_channels))
        self.register_buffer("latent_std", torch.ones(cfg.latent_channels))

    def encode_frames(self, frames: torch.Tensor) -> torch.Tensor:
        """[B, T, C*F*K] normalised log-magnitudes → raw latents [B, T, L]."""
        h = self.enc_norm_in(nn.functional.gelu(self.enc_in(frames)))
        for blk in self.enc_blocks:
            h, _ = blk(h)
        return self.enc_out(self.enc_norm(h))

    def decode_spectra(self, z: torch.Tensor, past: tuple[torch.Tensor, ...] | None = None
                       ) -> tuple[torch.Tensor, torch.Tensor, tuple[torch.Tensor, ...]]:
        """Raw latents [B, T, L] (+ per-block past) → (log-magnitudes [B, C, T*F, K], phases [B, C, T*F, K],
        next past). Natural-log magnitudes of the STFT the istft inverts, clamped above."""
        cfg = self.cfg
        b, t, _ = z.shape
        h = self.dec_norm_in(self.dec_in(z))
        tails = []
        for i, blk in enumerate(self.dec_blocks):
            h, tail = blk(h, None if past is None else past[i])
            tails.append(tail)
        f = nn.functional.gelu(self.up(self.dec_norm(h)))  # [B, T, C*F*W]
        f = f.reshape(b, t, cfg.audio_channels, cfg.frames_per_latent, cfg.frame_width)  # [B, T, C, F, W]
        out = self.head(f.transpose(1, 2))  # [B, C, T, F, 2K]
        out = out.reshape(b, cfg.audio_channels, t * cfg.frames_per_latent, 2, cfg.n_bins)  # [B, C, T*F, 2, K]
        return out[:, :, :, 0].clamp(max=cfg.max_log_magnitude), out[:, :, :, 1], tuple(tails)

    def normalise(self, z: torch.Tensor) -> torch.Tensor:
        return (z - self.latent_mean) / self.latent_std

    def denormalise(self, z: torch.Tensor) -> torch.Tensor:
        return z * self.latent_std + self.latent_mean


def to_complex(log_mag: torch.Tensor, phase: torch.Tensor) -> torch.Tensor:
    """Log-magnitude and phase angle [..., K] → complex spectrum (float32 unless given float64)."""
    mag = torch.exp(log_mag)
    return torch.complex(mag * torch.cos(phase), mag * torch.sin(phase))


def flops_per_latent_frame(cfg: Codec2Config) -> dict[str, float]:
    """Multiply-adds × 2 of the matrix products (the cost that matters on a CPU), per latent frame."""
    we, wd, r = cfg.encoder_width, cfg.decoder_width, cfg.mlp_ratio
    enc = cfg.frame_dim * we + cfg.encoder_blocks * (2 * r * we * we + cfg.encoder_kernel * we) + we * cfg.latent_channels
    frames = cfg.audio_channels * cfg.frames_per_latent
    head = wd * frames * cfg.frame_width + frames * cfg.frame_width * 2 * cfg.n_bins
    dec = cfg.latent_channels * wd + cfg.decoder_blocks * (2 * r * wd * wd + cfg.decoder_kernel * wd) + head
    fft = frames * 2.5 * cfg.n_fft * max(1, cfg.n_fft.bit_length() - 1)  # one real FFT per STFT frame
    return {"encoder": 2.0 * enc + fft, "decoder": 2.0 * dec + fft, "decoder_head": 2.0 * head}
