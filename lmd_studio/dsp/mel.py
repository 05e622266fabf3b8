"""Mel filterbanks (our own, Slaney-style: linear below 1 kHz, logarithmic above, area-normalised).

Used by the codec loss, the mel-L1 metric and the control features; numpy for the builder, torch for
training. Filters are cached per configuration because they are reused for every clip.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import torch

_F_SP = 200.0 / 3.0  # Hz per mel below the break frequency
_BREAK_HZ = 1000.0
_LOG_STEP = math.log(6.4) / 27.0


def hz_to_mel(f_hz: np.ndarray | float) -> np.ndarray:
    f = np.asarray(f_hz, dtype=np.float64)
    lin = f / _F_SP
    brk = _BREAK_HZ / _F_SP
    return np.where(f < _BREAK_HZ, lin, brk + np.log(np.maximum(f, 1e-9) / _BREAK_HZ) / _LOG_STEP)


def mel_to_hz(m: np.ndarray | float) -> np.ndarray:
    m = np.asarray(m, dtype=np.float64)
    brk = _BREAK_HZ / _F_SP
    return np.where(m < brk, m * _F_SP, _BREAK_HZ * np.exp(_LOG_STEP * (m - brk)))


@lru_cache(maxsize=16)
def _filterbank(sample_rate_hz: int, n_fft: int, n_mels: int, f_min_hz: float, f_max_hz: float) -> np.ndarray:
    if n_mels < 1:
        raise ValueError(f"n_mels must be >= 1, got {n_mels}")
    if not 0.0 <= f_min_hz < f_max_hz <= sample_rate_hz / 2:
        raise ValueError(f"need 0 <= f_min_hz < f_max_hz <= Nyquist, got {f_min_hz}, {f_max_hz}")
    bins_hz = np.arange(n_fft // 2 + 1) * sample_rate_hz / n_fft
    edges = mel_to_hz(np.linspace(hz_to_mel(f_min_hz), hz_to_mel(f_max_hz), n_mels + 2))
    lower, centre, upper = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rise = (bins_hz[None, :] - lower) / (centre - lower)
    fall = (upper - bins_hz[None, :]) / (upper - centre)
    fb = np.maximum(0.0, np.minimum(rise, fall))  # [n_mels, K] triangles
    fb *= (2.0 / (upper - lower))  # equal area, so a flat spectrum gives a flat mel spectrum
    fb.setflags(write=False)
    return fb


def mel_filterbank(sample_rate_hz: int, n_fft: int, n_mels: int = 80, f_min_hz: float = 0.0,
                   f_max_hz: float | None = None) -> np.ndarray:
    """[n_mels, n_fft // 2 + 1] triangular filters (read-only float64)."""
    return _filterbank(int(sample_rate_hz), int(n_fft), int(n_mels), float(f_min_hz),
                       float(f_max_hz if f_max_hz is not None else sample_rate_hz / 2))


def mel_filterbank_torch(sample_rate_hz: int, n_fft: int, n_mels: int = 80, f_min_hz: float = 0.0,
                         f_max_hz: float | None = None, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    return torch.as_tensor(np.array(mel_filterbank(sample_rate_hz, n_fft, n_mels, f_min_hz, f_max_hz)),
                           dtype=dtype)
