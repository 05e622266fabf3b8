"""A fake input device for the Null backend: a loopback cable from the output to the input.

It hears what the output played `delay_frames` earlier (the true round trip, which a real device never
tells exactly) and reports `reported_frames` as its latency (what a driver would claim), so tests can set
the two apart and check that calibration finds the difference and the recording lines up sample-exact.
`connected = False` unplugs it (input device loss); setting it back plugs it in again.
"""

from __future__ import annotations

import numpy as np

from lmd_studio.core.units import next_power_of_two


class LoopbackInput:
    def __init__(self, delay_frames: int, channels: int = 1, reported_frames: int | None = None,
                 gain: float = 1.0, max_frames: int = 8192, name: str = "fake loopback") -> None:
        if delay_frames < 0 or channels < 1:
            raise ValueError(f"loopback needs delay >= 0 and channels >= 1, got {delay_frames}, {channels}")
        self.delay_frames = int(delay_frames)
        self.reported_frames = self.delay_frames if reported_frames is None else int(reported_frames)
        self.channels = int(channels)
        self.gain = np.float32(gain)
        self.name = name
        self.connected = True
        size = next_power_of_two(self.delay_frames + max_frames + 1)
        self._line = np.zeros(size, np.float32)  # the output's first channel, by position
        self._mask = size - 1
        self._pos = 0

    def capture(self, played: np.ndarray, into: np.ndarray) -> None:
        """`played` left the output in this period; fill `into` ([n, channels]) with what the input heard
        in it: the output from `delay_frames` before (each input channel the same)."""
        n = played.shape[0]
        size = self._mask + 1
        i = self._pos & self._mask
        first = min(n, size - i)
        self._line[i:i + first] = played[:first, 0]
        self._line[:n - first] = played[first:n, 0]
        src = self._pos - self.delay_frames
        into[:] = 0.0
        lead = min(n, max(0, -src))  # before the output started: silence
        j = (src + lead) & self._mask
        k = n - lead
        first = min(k, size - j)
        into[lead:lead + first] = self._line[j:j + first, None] * self.gain
        into[lead + first:] = self._line[:k - first, None] * self.gain
        self._pos += n
