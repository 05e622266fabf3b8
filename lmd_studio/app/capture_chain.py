"""Captured audio on one continuous timeline, whichever engine is running, and where each moment of the
timeline view lies in it.

`CaptureFanout` is the only sink the app registers on an engine's CaptureHub; it forwards to the
Recorder, the RetroBuffer (and anything else) with positions that continue across engine rebuilds
(model switch, audio settings), so a take or the retro buffer never sees time run backwards.

`PositionMap` converts timeline (stream) positions to capture positions. The two advance together while
audio plays, but not always: the device keeps capturing while the ring runs dry (underrun) or before the
first blocks are primed. The session samples the offset every GUI tick and the map keeps each change.
"""

from __future__ import annotations

import bisect
import threading
from collections import deque

import numpy as np


class CaptureFanout:
    def __init__(self) -> None:
        self._sinks: tuple = ()
        self._lock = threading.Lock()  # sink list changes only
        self._offset = 0
        self._end = 0  # continuous position just past the newest frame forwarded
        self.sink_errors = 0
        self.last_error = ""

    def add(self, sink) -> None:
        with self._lock:
            if sink not in self._sinks:
                self._sinks = (*self._sinks, sink)

    def remove(self, sink) -> None:
        with self._lock:
            self._sinks = tuple(s for s in self._sinks if s is not sink)

    @property
    def end_position(self) -> int:
        return self._end

    @property
    def offset(self) -> int:
        """Continuous position of the current hub's position 0."""
        return self._offset

    def restart(self) -> None:
        """The next hub counts from 0 again: continue from where the previous one ended."""
        self._offset = self._end

    def consume(self, frames: np.ndarray, start_position: int) -> None:
        pos = self._offset + int(start_position)
        for sink in self._sinks:
            try:
                sink.consume(frames, pos)
            except Exception as exc:  # noqa: BLE001 — one broken sink must not starve the others
                self.sink_errors += 1
                self.last_error = f"{type(sink).__name__}: {exc}"
        self._end = pos + int(frames.shape[0])


class PositionMap:
    """stream position → capture position, as a step function of confirmed offsets."""

    def __init__(self, max_steps: int = 4096) -> None:
        self._starts: deque[int] = deque(maxlen=max_steps)
        self._offsets: deque[int] = deque(maxlen=max_steps)
        self._candidate: int | None = None

    def sample(self, stream_position: int, capture_position: int) -> None:
        """Record the pair seen now. An offset is kept once two samples in a row agree (the two counters
        are read a few instructions apart and the audio thread may run in between)."""
        offset = int(capture_position) - int(stream_position)
        if self._offsets and self._offsets[-1] == offset:
            self._candidate = None
            return
        if self._candidate == offset:
            self._starts.append(int(stream_position))
            self._offsets.append(offset)
            self._candidate = None
        else:
            self._candidate = offset

    def to_capture(self, stream_position: int) -> int | None:
        if not self._starts:
            return None
        i = bisect.bisect_right(self._starts, stream_position) - 1
        return int(stream_position) + self._offsets[max(i, 0)]
