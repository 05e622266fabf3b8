"""Short-time Fourier transform helpers shared by the codec, the control features and the metrics.

One framing convention everywhere: frame `m` covers samples `[m * hop, m * hop + n_fft)` (no centring, no
padding inside the transform). The codec groups `n_fft // hop`-sized runs of these frames into one latent
frame, so the frames of latent frame `j` start inside `[j * H, (j + 1) * H)` (H = latent hop). That makes
synthesis causal: audio before `(j + 1) * H` is complete once latent frames `0..j` are known, which is what a
block-by-block decoder needs. The price is a look-ahead of `n_fft - hop` samples in the *analysis*, paid only
by the encoder (offline, or 35 ms in a live input path).

numpy versions serve the corpus builder and the phase reconstruction; torch versions serve training.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch


@dataclass(frozen=True, slots=True)
class StftConfig:
    n_fft: int = 2048
    hop_frames: int = 512
    sample_rate_hz: int = 44100

    def __post_init__(self) -> None:
        if self.n_fft < 16 or self.n_fft % 2:
            raise ValueError(f"n_fft must be an even number >= 16, got {self.n_fft}")
        if self.hop_frames < 1 or self.n_fft % self.hop_frames:
            raise ValueError(f"hop_frames ({self.hop_frames}) must divide n_fft ({self.n_fft})")
        if self.n_fft // self.hop_frames < 2:
            raise ValueError("hop_frames must be at most n_fft / 2 (overlap-add needs overlap)")
        if self.sample_rate_hz <= 0:
            raise ValueError(f"sample_rate_hz must be positive, got {self.sample_rate_hz}")

    @property
    def n_bins(self) -> int:
        return self.n_fft // 2 + 1

    @property
    def overlap(self) -> int:
        """Frames covering each sample (n_fft / hop)."""
        return self.n_fft // self.hop_frames

    @property
    def tail_frames(self) -> int:
        """Samples a frame reaches past its own hop: the analysis look-ahead / synthesis carry."""
        return self.n_fft - self.hop_frames

    @property
    def bin_hz(self) -> float:
        return self.sample_rate_hz / self.n_fft

    def num_frames(self, num_samples: int) -> int:
        """Whole frames that fit in `num_samples` samples."""
        return max(0, 1 + (num_samples - self.n_fft) // self.hop_frames) if num_samples >= self.n_fft else 0


@lru_cache(maxsize=8)
def _hann(n: int) -> np.ndarray:
    # periodic Hann: its squares sum to a constant at hop n/4, so overlap-add needs no position-dependent gain
    w = 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(n) / n)
    w.setflags(write=False)
    return w


def hann_window(n: int) -> np.ndarray:
    """Periodic Hann window (read-only float64 array)."""
    return _hann(int(n))


def ola_gain(cfg: StftConfig) -> float:
    """Sum of squared windows over the overlapping frames (constant for periodic Hann)."""
    w2 = hann_window(cfg.n_fft) ** 2
    return float(w2.reshape(cfg.overlap, cfg.hop_frames).sum(axis=0).mean())


def frame_signal(x: np.ndarray, cfg: StftConfig) -> np.ndarray:
    """[..., L] → [..., T, n_fft] view of overlapping frames (read-only)."""
    t = cfg.num_frames(x.shape[-1])
    if t == 0:
        return np.zeros(x.shape[:-1] + (0, cfg.n_fft), dtype=x.dtype)
    view = np.lib.stride_tricks.sliding_window_view(x, cfg.n_fft, axis=-1)  # [..., L - n_fft + 1, n_fft]
    return view[..., :: cfg.hop_frames, :][..., :t, :]


def stft(x: np.ndarray, cfg: StftConfig) -> np.ndarray:
    """Real signal [..., L] → complex spectrum [..., T, n_bins] (phase relative to each frame's start)."""
    frames = frame_signal(np.asarray(x, dtype=np.float64), cfg)
    return np.fft.rfft(frames * hann_window(cfg.n_fft), axis=-1)


def istft(spec: np.ndarray, cfg: StftConfig) -> np.ndarray:
    """Complex spectrum [..., T, n_bins] → signal [..., (T - 1) * hop + n_fft] by windowed overlap-add."""
    t = spec.shape[-2]
    frames = np.fft.irfft(spec, n=cfg.n_fft, axis=-1) * hann_window(cfg.n_fft)  # [..., T, n_fft]
    r, hop = cfg.overlap, cfg.hop_frames
    out = np.zeros(spec.shape[:-2] + (t + r - 1, hop))
    parts = frames.reshape(frames.shape[:-1] + (r, hop))  # [..., T, R, hop]: the R hop-sized pieces of a frame
    for c in range(r):
        out[..., c:c + t, :] += parts[..., :, c, :]
    return out.reshape(out.shape[:-2] + ((t + r - 1) * hop,)) / ola_gain(cfg)


def pad_for_latents(x: np.ndarray, latent_hop_frames: int, cfg: StftConfig) -> np.ndarray:
    """Trim [..., L] to whole latent frames and add the analysis look-ahead (zeros) at the end, so that
    `stft` yields exactly `(latent_hop / hop) * (L // latent_hop)` frames: a whole number per latent frame."""
    n_lat = x.shape[-1] // latent_hop_frames
    body = x[..., : n_lat * latent_hop_frames]
    pad = [(0, 0)] * (x.ndim - 1) + [(0, cfg.tail_frames)]
    return np.pad(body, pad)


def stft_torch(x: torch.Tensor, cfg: StftConfig) -> torch.Tensor:
    """[B, L] float tensor → complex [B, T, n_bins], same framing and window as `stft`."""
    window = torch.tensor(np.array(hann_window(cfg.n_fft)), dtype=x.dtype, device=x.device)
    spec = torch.stft(x, n_fft=cfg.n_fft, hop_length=cfg.hop_frames, window=window, center=False,
                      return_complex=True)  # [B, K, T]
    return spec.transpose(-1, -2)  # [B, T, K]


def pad_for_latents_torch(x: torch.Tensor, latent_hop_frames: int, cfg: StftConfig) -> torch.Tensor:
    """Torch twin of `pad_for_latents` for [..., L] tensors."""
    n_lat = x.shape[-1] // latent_hop_frames
    return torch.nn.functional.pad(x[..., : n_lat * latent_hop_frames], (0, cfg.tail_frames))
