"""Resampling and level helpers (soxr): one-shot for files, streaming for live paths.

The corpus builder reads sources at 22.05–96 kHz and writes 44.1 kHz; the studio's live input will need the
streaming form (device rate → model rate) without clicks at buffer boundaries, which soxr's ResampleStream
provides.
"""

from __future__ import annotations

import numpy as np
import soxr


def resample(audio: np.ndarray, from_hz: int, to_hz: int, quality: str = "HQ") -> np.ndarray:
    """audio [N] or [N, C] (soundfile layout) → resampled float32, same layout."""
    if from_hz <= 0 or to_hz <= 0:
        raise ValueError(f"sample rates must be positive, got {from_hz} → {to_hz}")
    x = np.asarray(audio, dtype=np.float32)
    if from_hz == to_hz:
        return x.copy()
    return soxr.resample(x, from_hz, to_hz, quality=quality).astype(np.float32)


class StreamingResampler:
    """Chunked resampling whose concatenated output equals the one-shot result (up to the filter delay)."""

    def __init__(self, from_hz: int, to_hz: int, channels: int = 1, quality: str = "HQ") -> None:
        if channels < 1:
            raise ValueError(f"channels must be >= 1, got {channels}")
        self.channels = channels
        self._stream = soxr.ResampleStream(from_hz, to_hz, channels, dtype="float32", quality=quality)

    def process(self, chunk: np.ndarray, last: bool = False) -> np.ndarray:
        x = np.asarray(chunk, dtype=np.float32)
        if x.ndim == 1 and self.channels > 1:
            raise ValueError(f"expected [N, {self.channels}] frames, got a 1-D array")
        return self._stream.resample_chunk(x, last=last)


def to_mono(audio: np.ndarray) -> np.ndarray:
    """[N] or [N, C] → [N] (mean of channels)."""
    x = np.asarray(audio, dtype=np.float32)
    return x.mean(axis=1) if x.ndim == 2 else x


def rms_db(audio: np.ndarray) -> float:
    x = np.asarray(audio, dtype=np.float64)
    return float(10 * np.log10(np.mean(x * x) + 1e-20))


def level_gain(audio: np.ndarray, target_rms_db: float = -20.0, peak_ceiling: float = 0.95) -> float:
    """The gain `normalise_level` applies: to a target RMS level, lowered if the peak would exceed
    `peak_ceiling`; 1.0 for (near-)silence. Stems of a mix are scaled by the mix's gain with it."""
    x = np.asarray(audio, dtype=np.float32)
    level = rms_db(x)
    if level < -90.0:
        return 1.0
    gain = 10 ** ((target_rms_db - level) / 20)
    peak = float(np.max(np.abs(x))) * gain
    if peak > peak_ceiling:
        gain *= peak_ceiling / peak
    return float(gain)


def normalise_level(audio: np.ndarray, target_rms_db: float = -20.0, peak_ceiling: float = 0.95) -> np.ndarray:
    """Scale to a target RMS level, then lower the gain if the peak would exceed `peak_ceiling`."""
    x = np.asarray(audio, dtype=np.float32)
    gain = level_gain(x, target_rms_db, peak_ceiling)
    return x.copy() if gain == 1.0 else (x * gain).astype(np.float32)
