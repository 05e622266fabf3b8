"""Allocation-free gain smoothing for the audio callback."""

from __future__ import annotations

import numpy as np


class GainSmoother:
    """Per-buffer one-pole smoothing toward a target gain, applied as a linear ramp within each buffer.

    `time_constant_s` sets how fast a volume move lands (≈ 63% after that long) without zipper noise.
    Scratch memory is preallocated for buffers up to `max_frames`.
    """

    __slots__ = ("target_gain", "_gain", "_alpha_per_frame", "_ramp", "_scratch")

    def __init__(self, sample_rate_hz: int, max_frames: int = 8192, time_constant_s: float = 0.02,
                 initial_gain: float = 1.0) -> None:
        self.target_gain = float(initial_gain)
        self._gain = float(initial_gain)
        self._alpha_per_frame = 1.0 / max(1.0, time_constant_s * sample_rate_hz)
        self._ramp = np.linspace(1.0 / max_frames, 1.0, max_frames, dtype=np.float32)
        self._scratch = np.empty(max_frames, dtype=np.float32)

    @property
    def gain(self) -> float:
        return self._gain

    def process(self, out: np.ndarray) -> None:
        """Multiply `out` ([frames, channels]) in place by the smoothed gain."""
        n = out.shape[0]
        g0 = self._gain
        alpha = min(1.0, self._alpha_per_frame * n)
        g1 = g0 + (self.target_gain - g0) * alpha
        if g0 == g1:
            if g0 != 1.0:
                out *= g0
        else:
            # ramp[k] over this buffer goes from g0 (exclusive) to g1 (inclusive)
            step = self._ramp.shape[0] // n if n <= self._ramp.shape[0] else 1
            scratch = self._scratch[:n]
            np.multiply(self._ramp[step - 1::step][:n], g1 - g0, out=scratch)
            scratch += g0
            out *= scratch[:, None]
        self._gain = g1
