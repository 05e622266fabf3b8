"""Tap tempo: the BPM from the last few taps (median interval, so one sloppy tap does not throw it)."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from statistics import median


class TapTempo:
    def __init__(self, clock: Callable[[], float] = time.perf_counter, max_taps: int = 6,
                 reset_after_s: float = 2.0, min_bpm: float = 30.0, max_bpm: float = 300.0) -> None:
        self._clock = clock  # seconds; the session's clock, or a test's
        self.reset_after_s = reset_after_s
        self.min_bpm, self.max_bpm = min_bpm, max_bpm
        self._taps: deque[float] = deque(maxlen=max_taps)

    def tap(self) -> float | None:
        """Record a tap now; the tempo once there are two taps close enough together, else None."""
        now_s = self._clock()
        if self._taps and now_s - self._taps[-1] > self.reset_after_s:
            self._taps.clear()  # a pause starts a new count
        self._taps.append(now_s)
        if len(self._taps) < 2:
            return None
        taps = list(self._taps)
        interval = median(b - a for a, b in zip(taps, taps[1:]))
        if interval <= 0:
            return None
        return min(self.max_bpm, max(self.min_bpm, 60.0 / interval))
