"""Single-producer single-consumer float32 ring buffer for audio frames.

Positions are monotonic frame counters (never wrapped); the storage index is `pos & mask` with a
power-of-two capacity. The producer owns `_write`, the consumer owns `_read`; each only ever stores its
own counter, after the data it guards (the GIL orders those stores), so no lock is needed.

The consumer side (`read_into`) runs in the audio callback: it allocates no buffers (only the transient
slice views numpy creates), never blocks, never raises for an underrun — it zero-fills and counts.
"""

from __future__ import annotations

import numpy as np

from lmd_studio.core.units import next_power_of_two


class SpscRing:
    __slots__ = ("_buf", "_mask", "_capacity", "_channels", "_write", "_read",
                 "underrun_count", "underrun_frames", "max_read_frames")

    def __init__(self, min_capacity_frames: int, channels: int) -> None:
        if min_capacity_frames < 1 or channels < 1:
            raise ValueError(f"ring needs capacity >= 1 and channels >= 1, got {min_capacity_frames}, {channels}")
        self._capacity = next_power_of_two(int(min_capacity_frames))
        self._mask = self._capacity - 1
        self._channels = int(channels)
        self._buf = np.zeros((self._capacity, self._channels), dtype=np.float32)
        self._write = 0
        self._read = 0
        self.underrun_count = 0  # callbacks that found fewer frames than they needed
        self.underrun_frames = 0  # frames zero-filled in total
        self.max_read_frames = 0  # largest single read seen (bounds safe truncation)

    # --- shared, read-only views ----------------------------------------------------------------
    @property
    def capacity_frames(self) -> int:
        return self._capacity

    @property
    def channels(self) -> int:
        return self._channels

    @property
    def write_position(self) -> int:
        return self._write

    @property
    def read_position(self) -> int:
        return self._read

    @property
    def readable_frames(self) -> int:
        return self._write - self._read

    @property
    def writable_frames(self) -> int:
        return self._capacity - (self._write - self._read)

    # --- producer ---------------------------------------------------------------------------------
    def write(self, frames: np.ndarray) -> int:
        """Copy as many frames as fit; return how many were written (0 when full)."""
        if frames.ndim != 2 or frames.shape[1] != self._channels:
            raise ValueError(f"ring expects [frames, {self._channels}] arrays, got shape {frames.shape}")
        n = min(frames.shape[0], self.writable_frames)
        if n <= 0:
            return 0
        w = self._write
        i = w & self._mask
        first = min(n, self._capacity - i)
        self._buf[i:i + first] = frames[:first]
        if n > first:
            self._buf[:n - first] = frames[first:n]
        self._write = w + n  # publish after the data is in place
        return n

    def peek(self, position: int, n_frames: int) -> np.ndarray:
        """Copy of `n_frames` queued frames starting at absolute `position` (producer side only)."""
        if not (self._read <= position and position + n_frames <= self._write):
            raise ValueError(
                f"peek [{position}, {position + n_frames}) outside queued [{self._read}, {self._write})")
        idx = (np.arange(position, position + n_frames) & self._mask)
        return self._buf[idx].copy()

    def truncate(self, position: int) -> int:
        """Drop queued frames from absolute `position` on (producer only). Returns frames dropped.

        Safe against a concurrent `read_into` as long as `position >= read_position + max_read_frames`:
        the consumer can then never advance past the new write position.
        """
        if position > self._write:
            raise ValueError(f"truncate position {position} beyond write position {self._write}")
        if position < self._read + self.max_read_frames:
            raise ValueError(
                f"truncate position {position} too close to the read position {self._read} "
                f"(needs a margin of at least {self.max_read_frames} frames)")
        dropped = self._write - position
        self._write = position
        return dropped

    def flush(self) -> int:
        """Producer-side: drop everything queued beyond what the consumer may be reading right now.

        Only the consumer moves `_read`, so at most `max_read_frames` of old audio still play out.
        Returns frames dropped.
        """
        keep_until = min(self._write, self._read + self.max_read_frames)
        dropped = self._write - keep_until
        self._write = keep_until
        return dropped

    # --- consumer (audio callback) ---------------------------------------------------------------
    def read_into(self, out: np.ndarray) -> int:
        """Fill `out` ([frames, channels] float32); zero-fill the shortfall. Returns frames read."""
        n = out.shape[0]
        if n > self.max_read_frames:
            self.max_read_frames = n
        r = self._read
        avail = self._write - r
        k = n if avail >= n else (avail if avail > 0 else 0)
        if k:
            i = r & self._mask
            first = k if k <= self._capacity - i else self._capacity - i
            out[:first] = self._buf[i:i + first]
            if k > first:
                out[first:k] = self._buf[:k - first]
        if k < n:
            out[k:] = 0.0
            self.underrun_count += 1
            self.underrun_frames += n - k
        self._read = r + k
        return k
