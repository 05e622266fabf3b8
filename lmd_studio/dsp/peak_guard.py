"""A zero-latency guard for sums that must not clip: the generated output plus the monitored input.

The output limiter (limiter.py) delays the audio by its look-ahead, which is fine for the generated part
but not where the input is added: in the device callback the monitored input must not wait, and in a
recorded mix every track must stay sample-aligned. So this guard looks at one buffer at a time: when the
buffer's peak would pass the ceiling, the whole buffer is scaled down at once (no overshoot is possible),
and the gain then rises back linearly at `release_per_s` across later buffers — never above what each
buffer allows. Below the ceiling, with the gain back at 1, the audio passes bit for bit.

The price is a gain step at the buffer where an over starts (a soft click on a sudden loud input), which
a monitoring path may pay; the output never exceeds the ceiling. Allocation-free (buffers preallocated).
"""

from __future__ import annotations

import numpy as np


class PeakGuard:
    __slots__ = ("ceiling", "release_per_frame", "_gain", "_abs", "_ramp", "_ramp_scratch",
                 "reduced_buffers", "min_gain")

    def __init__(self, ceiling: float, sample_rate_hz: int, channels: int, max_frames: int = 8192,
                 release_s: float = 0.3) -> None:
        if not 0.0 < ceiling <= 1.0 or sample_rate_hz <= 0 or channels < 1 or release_s <= 0.0:
            raise ValueError(f"bad peak guard: ceiling {ceiling}, rate {sample_rate_hz}, channels {channels}, "
                             f"release {release_s} s")
        self.ceiling = float(ceiling)
        self.release_per_frame = 1.0 / (release_s * sample_rate_hz)  # gain units per frame, 0 → 1 in release_s
        self._gain = 1.0
        self._abs = np.zeros((max_frames, channels), np.float32)
        self._ramp = np.arange(1, max_frames + 1, dtype=np.float32) / np.float32(max_frames)
        self._ramp_scratch = np.zeros(max_frames, np.float32)
        self.reduced_buffers = 0  # buffers that needed a gain below 1
        self.min_gain = 1.0  # the deepest reduction applied (1 = never)

    @property
    def gain(self) -> float:
        return self._gain

    def process(self, block: np.ndarray) -> None:
        """Scale `block` ([frames, channels] float32, frames <= max_frames) in place so no sample exceeds
        the ceiling."""
        n = block.shape[0]
        if n == 0:
            return
        a = self._abs[:n]
        np.abs(block, out=a)
        peak = float(a.max())
        safe = self.ceiling / peak if peak > self.ceiling else 1.0
        g0 = self._gain
        if safe < g0:  # attack: the whole buffer at the safe gain
            block *= np.float32(safe)
            self._gain = safe
        else:
            g1 = min(safe, g0 + self.release_per_frame * n)
            if g0 == 1.0 and g1 == 1.0:
                return
            # a ramp from g0 to g1 (both <= safe): never above what this buffer allows
            step = self._ramp.shape[0] // n
            r = self._ramp_scratch[:n]
            np.multiply(self._ramp[step - 1::step][:n], np.float32(g1 - g0), out=r)
            r += np.float32(g0)
            np.minimum(r, np.float32(safe), out=r)
            block *= r[:, None]
            self._gain = g1
        if self._gain < 1.0:
            self.reduced_buffers += 1
            if self._gain < self.min_gain:
                self.min_gain = self._gain
        np.clip(block, -self.ceiling, self.ceiling, out=block)  # float rounding only: never audible
