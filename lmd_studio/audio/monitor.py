"""Input monitoring inside the device callback: the chosen input channels added to the output buffer that
leaves in the same period (the shortest way from the player's instrument to their ears), at the monitor
gain (1, or the Dry of generative delay's Dry/Wet), faded over `fade_s` (for a full-scale move) when
monitoring switches or the gain moves, and the sum kept under the output limiter's ceiling by a
zero-latency PeakGuard — the studio's output never clips, whatever comes in.

Used by the device process's callback and by the in-process stream's. Allocation-free after construction.
"""

from __future__ import annotations

import numpy as np

from lmd_studio.dsp.limiter import LimiterConfig
from lmd_studio.dsp.peak_guard import PeakGuard


def routing(columns: tuple[int, ...], out_channels: int) -> tuple[tuple[int, int, float], ...]:
    """(input column, output channel, weight): mono to every output; stereo left/right (summed at half
    level into a mono output)."""
    if len(columns) == 1:
        return tuple((columns[0], j, 1.0) for j in range(out_channels))
    if out_channels == 1:
        return tuple((c, 0, 0.5) for c in columns)
    return tuple((c, j, 1.0) for j, c in enumerate(columns[:out_channels]))


class MonitorMix:
    __slots__ = ("_routes", "_gain", "_step", "_ramp", "_gains", "_scratch", "guard")

    def __init__(self, columns: tuple[int, ...], out_channels: int, sample_rate_hz: int,
                 max_frames: int = 8192, fade_s: float = 0.01) -> None:
        self._routes = routing(columns, out_channels)
        self._gain = 0.0
        self._step = 1.0 / max(1.0, fade_s * sample_rate_hz)  # gain change per frame while fading
        self._ramp = np.arange(1, max_frames + 1, dtype=np.float32)
        self._gains = np.zeros(max_frames, np.float32)
        self._scratch = np.zeros(max_frames, np.float32)
        self.guard = PeakGuard(LimiterConfig().ceiling, sample_rate_hz, out_channels, max_frames)

    @property
    def gain(self) -> float:
        return self._gain

    def process(self, out: np.ndarray, indata: np.ndarray, on: bool, gain: float = 1.0) -> None:
        """Add `indata`'s chosen columns into `out` (both [frames, …] float32) at the monitor gain, which
        moves toward `gain` (clamped to [0, 1]) while `on`, else toward 0, by one fade step per frame."""
        n = out.shape[0]
        g0 = self._gain
        target = (gain if gain < 1.0 else 1.0) if on and gain > 0.0 else 0.0  # (NaN: off)
        if g0 != target:
            g1 = min(target, g0 + self._step * n) if target > g0 else max(target, g0 - self._step * n)
            gains = self._gains[:n]
            # linear from g0 (exclusive) to g1 (inclusive) across the buffer
            np.multiply(self._ramp[:n], np.float32((g1 - g0) / n), out=gains)
            gains += np.float32(g0)
            self._add(out, indata, n, gains)
            self._gain = g1
        elif g0 == 1.0:
            self._add(out, indata, n, None)
        elif g0 > 0.0:
            gains = self._gains[:n]
            gains.fill(g0)
            self._add(out, indata, n, gains)
        elif self.guard.gain == 1.0:
            return  # monitoring off and settled: the output passes untouched
        self.guard.process(out)

    def _add(self, out: np.ndarray, indata: np.ndarray, n: int, gains: np.ndarray | None) -> None:
        s = self._scratch[:n]
        for col, ch, weight in self._routes:
            if gains is None:
                np.copyto(s, indata[:n, col])
            else:
                np.multiply(indata[:n, col], gains, out=s)
            if weight != 1.0:
                s *= np.float32(weight)
            column = out[:n, ch]
            np.add(column, s, out=column)
