"""Streaming conversion from the generator's rate/channels to the device's, outside the callback.

soxr's stream resampler compensates its own filter delay (output frame i sits at input time i / ratio),
so positions can be computed from frame counts; its output only lags a few hundred frames behind the
input, which the next chunk flushes.
"""

from __future__ import annotations

import numpy as np
import soxr


class StreamConverter:
    def __init__(self, in_rate_hz: int, out_rate_hz: int, in_channels: int, out_channels: int) -> None:
        self.in_rate_hz = int(in_rate_hz)
        self.out_rate_hz = int(out_rate_hz)
        self.in_channels = int(in_channels)
        self.out_channels = int(out_channels)
        self._resampler = (None if self.in_rate_hz == self.out_rate_hz else
                           soxr.ResampleStream(self.in_rate_hz, self.out_rate_hz, self.out_channels,
                                               dtype="float32", quality="HQ"))

    @property
    def ratio(self) -> float:
        return self.out_rate_hz / self.in_rate_hz

    def _map_channels(self, audio: np.ndarray) -> np.ndarray:
        if audio.shape[1] == self.out_channels:
            return audio
        if audio.shape[1] == 1:
            return np.repeat(audio, self.out_channels, axis=1)
        if self.out_channels == 1:
            return audio.mean(axis=1, keepdims=True, dtype=np.float32)
        return audio[:, : self.out_channels] if audio.shape[1] > self.out_channels else np.pad(
            audio, ((0, 0), (0, self.out_channels - audio.shape[1])))

    def process(self, audio: np.ndarray) -> np.ndarray:
        """[frames, in_channels] → [≈ frames·ratio, out_channels] float32, C-contiguous."""
        mapped = np.ascontiguousarray(self._map_channels(audio), dtype=np.float32)
        if self._resampler is None:
            return mapped
        return self._resampler.resample_chunk(mapped)
