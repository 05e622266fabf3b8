"""Embedding space 2 of the evaluation: a small contrastive audio–text encoder trained on our corpus.

Audio: log-mel (64 bands, 44.1 kHz, hop 1024) → 4 strided 1-D convolutions over time → mean+max pooling
→ linear → L2-normalised 128-d embedding. Text: the pooled all-MiniLM-L6-v2 sentence vector (384-d,
frozen, offline) → 2-layer MLP → 128-d. Trained CLIP-style (symmetric InfoNCE, learnable temperature) on
the corpus's train split, then frozen: it scores FD in a learned space and prompt adherence (is a clip
closer to its own prompt than to another one?), and can later power "audio prompts".
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

from lmd_studio.dsp.mel import mel_filterbank_torch
from lmd_studio.model.checkpoint import load_checkpoint, save_checkpoint

FORMAT = "lmd-audio-text"
FORMAT_VERSION = 1


@dataclass(frozen=True, slots=True)
class AudioTextConfig:
    sample_rate_hz: int = 44100
    clip_s: float = 4.0
    n_fft: int = 2048
    hop_frames: int = 1024
    n_mels: int = 64
    width: int = 192
    embed_dim: int = 128
    text_dim: int = 384
    dropout: float = 0.1  # before both projections, training only
    time_masks: int = 2  # SpecAugment-style masks on the log-mel, training only: the corpus is ~1 h and
    freq_masks: int = 2  # the encoder otherwise memorises its clips within a few hundred steps

    def __post_init__(self) -> None:
        if self.clip_s <= 0 or self.n_mels < 8 or self.width < 8 or self.embed_dim < 2:
            raise ValueError(f"bad AudioTextConfig: {self}")
        if not 0 <= self.dropout < 1 or self.time_masks < 0 or self.freq_masks < 0:
            raise ValueError(f"need 0 <= dropout < 1 and mask counts >= 0, got {self}")
        if self.hop_frames <= 0 or self.n_fft < self.hop_frames:
            raise ValueError(f"need 0 < hop_frames <= n_fft, got {self.hop_frames}, {self.n_fft}")

    @property
    def clip_frames(self) -> int:
        return int(round(self.clip_s * self.sample_rate_hz))


class AudioTextEncoder(nn.Module):
    def __init__(self, cfg: AudioTextConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.register_buffer("mel_fb", mel_filterbank_torch(cfg.sample_rate_hz, cfg.n_fft, cfg.n_mels),
                             persistent=False)
        self.register_buffer("window", torch.hann_window(cfg.n_fft), persistent=False)
        self.norm = nn.LayerNorm(cfg.n_mels)
        layers: list[nn.Module] = []
        channels = cfg.n_mels
        for _ in range(4):
            layers += [nn.Conv1d(channels, cfg.width, kernel_size=5, stride=2, padding=2), nn.GELU()]
            channels = cfg.width
        self.convs = nn.Sequential(*layers)
        self.drop = nn.Dropout(cfg.dropout)
        self.audio_proj = nn.Linear(2 * cfg.width, cfg.embed_dim)
        self.text_proj = nn.Sequential(nn.Linear(cfg.text_dim, cfg.width), nn.GELU(),
                                       nn.Linear(cfg.width, cfg.embed_dim))
        self.logit_scale = nn.Parameter(torch.tensor(2.66))  # exp(2.66) ≈ 14, CLIP's usual start

    def log_mel(self, audio: torch.Tensor) -> torch.Tensor:
        """[B, N] audio → [B, T, n_mels] log-mel."""
        spec = torch.stft(audio, self.cfg.n_fft, self.cfg.hop_frames, window=self.window, center=True,
                          return_complex=True)  # [B, bins, T]
        power = spec.real**2 + spec.imag**2
        mel = torch.einsum("mf,bft->btm", self.mel_fb, power)  # [B, T, mels]
        return torch.log(mel + 1e-6)

    def _mask(self, h: torch.Tensor) -> torch.Tensor:
        """Zero random time spans (≤ 15% each) and mel bands (≤ 8 each) of normalised log-mels [B, T, M]."""
        b, t, m = h.shape
        keep = torch.ones(b, t, m, dtype=torch.bool, device=h.device)
        for count, size, max_width, dim in ((self.cfg.time_masks, t, max(1, int(0.15 * t)), 1),
                                            (self.cfg.freq_masks, m, min(8, m // 4), 2)):
            for _ in range(count):
                width = torch.randint(0, max_width + 1, (b, 1))
                start = (torch.rand(b, 1) * (size - width + 1)).long()
                pos = torch.arange(size)[None]  # [1, size]
                span = (pos >= start) & (pos < start + width)  # [B, size]
                keep &= ~(span[:, :, None] if dim == 1 else span[:, None, :])
        return h * keep

    def embed_audio(self, audio: torch.Tensor) -> torch.Tensor:
        """[B, N] mono audio at cfg.sample_rate_hz → [B, E] unit vectors."""
        h = self.norm(self.log_mel(audio))  # [B, T, mels]
        if self.training:
            h = self._mask(h)
        h = self.convs(h.transpose(1, 2))  # [B, mels, T] → [B, W, T']
        pooled = torch.cat([h.mean(-1), h.amax(-1)], dim=-1)  # [B, 2W]
        return F.normalize(self.audio_proj(self.drop(pooled)), dim=-1)

    def embed_text(self, sentence: torch.Tensor) -> torch.Tensor:
        """[B, 384] pooled MiniLM vectors → [B, E] unit vectors."""
        first, act, last = self.text_proj
        return F.normalize(last(self.drop(act(first(sentence)))), dim=-1)

    def contrastive_loss(self, audio_emb: torch.Tensor, text_emb: torch.Tensor,
                         same_text: torch.Tensor) -> torch.Tensor:
        """Symmetric InfoNCE; clips sharing a description are all positives (`same_text` [B, B] bool)."""
        logits = self.logit_scale.clamp(max=4.6).exp() * audio_emb @ text_emb.T  # [B, B]
        targets = same_text.float() / same_text.float().sum(1, keepdim=True)
        loss_a = -(targets * F.log_softmax(logits, dim=1)).sum(1).mean()
        loss_t = -(targets.T * F.log_softmax(logits.T, dim=1)).sum(1).mean()
        return 0.5 * (loss_a + loss_t)


def save_audio_text(model: AudioTextEncoder, path: str | Path, extra: dict[str, str] | None = None) -> Path:
    return save_checkpoint(path, model.state_dict(), fmt=FORMAT, format_version=FORMAT_VERSION,
                           config=asdict(model.cfg), extra=extra)


def load_audio_text(path: str | Path) -> AudioTextEncoder:
    tensors, config, _ = load_checkpoint(path, fmt=FORMAT, supported_versions=(FORMAT_VERSION,))
    model = AudioTextEncoder(AudioTextConfig(**config))
    model.load_state_dict(tensors)
    return model.eval()
