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

from lmd_studio.engine.sinks import AlignedTracks, CaptureSink, TrackSink


class CaptureFanout:
    def __init__(self) -> None:
        self._sinks: tuple[CaptureSink, ...] = ()
        self._track_sinks: tuple[TrackSink, ...] = ()  # those of the sinks that take aligned input tracks
        self._lock = threading.Lock()  # sink list changes only
        self._offset = 0
        self._end = 0  # continuous position just past the newest frame forwarded
        self.sink_errors = 0
        self.last_error = ""

    def add(self, sink: CaptureSink) -> None:
        with self._lock:
            if sink not in self._sinks:
                self._sinks = (*self._sinks, sink)
                if isinstance(sink, TrackSink):
                    self._track_sinks = (*self._track_sinks, sink)

    def remove(self, sink: CaptureSink) -> None:
        with self._lock:
            self._sinks = tuple(s for s in self._sinks if s is not sink)
            self._track_sinks = tuple(t for t in self._track_sinks if id(t) != id(sink))  # a sink may be both kinds

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

    def consume_tracks(self, tracks: AlignedTracks, start_position: int) -> None:
        """Aligned input tracks, on the same continuous timeline as `consume`."""
        pos = self._offset + int(start_position)
        for sink in self._track_sinks:
            try:
                sink.consume_tracks(tracks, pos)
            except Exception as exc:  # noqa: BLE001 — one broken sink must not starve the others
                self.sink_errors += 1
                self.last_error = f"{type(sink).__name__}: {exc}"


class PositionMap:
    """stream position → capture position, as a step function of confirmed offsets."""

    def __init__(self, max_steps: int = 4096) -> None:
        self._starts: deque[int] = deque(maxlen=max_steps)
        self._offsets: deque[int] = deque(maxlen=max_steps)
        self._candidate: int | None = None
        self._change_from: int | None = None  # stream position of the first sample off the kept offset

    def sample(self, stream_position: int, capture_position: int) -> None:
        """Record the pair seen now. An offset is kept once two samples in a row agree (the two counters
        are read a few instructions apart and the audio thread may run in between). It applies from the
        first sample that left the previous offset: while the stream stalls (priming, an underrun) the
        capture runs on and the offset keeps changing, and all of that happened *at* the stream position
        where the stall began — not where the stream moved again (which put the stall's silence inside a
        selection starting there: 4.6 s selected, 7.9 s saved)."""
        stream_position = int(stream_position)
        offset = int(capture_position) - stream_position
        if self._offsets and offset < self._offsets[-1]:
            # The capture runs on while the stream stalls, never the other way round, so the offset only
            # grows: a smaller one is a read that straddled a device callback (under load, two in a row;
            # kept, it made ranges that overlap and a saved loop that repeated a buffer)
            self._candidate = self._change_from = None
            return
        if self._offsets and self._offsets[-1] == offset:
            self._candidate = self._change_from = None
            return
        if self._change_from is None:
            self._change_from = stream_position
        if self._candidate == offset:
            self._starts.append(self._change_from)
            self._offsets.append(offset)
            self._candidate = self._change_from = None
        else:
            self._candidate = offset

    def spans(self, start: int, end: int) -> list[tuple[int, int]]:
        """The capture ranges that hold stream [start, end): one per stretch of constant offset, so what
        the device played while the stream stood still (priming, dropouts) is left out and the ranges add
        up to exactly end - start frames."""
        if not self._starts or end <= start:
            return []
        out: list[tuple[int, int]] = []
        i = max(bisect.bisect_right(self._starts, start) - 1, 0)
        pos = start
        while pos < end:
            nxt = self._starts[i + 1] if i + 1 < len(self._starts) else end
            stop = min(end, max(nxt, pos))
            if stop > pos:
                a, b = pos + self._offsets[i], stop + self._offsets[i]
                if out and out[-1][1] == a:
                    a = out.pop()[0]  # contiguous in the capture too: one range
                out.append((a, b))
            pos = stop
            i += 1
            if i >= len(self._starts):
                break
        if pos < end:
            out.append((pos + self._offsets[-1], end + self._offsets[-1]))
        return out

    def to_capture(self, stream_position: int) -> int | None:
        if not self._starts:
            return None
        i = bisect.bisect_right(self._starts, stream_position) - 1
        return int(stream_position) + self._offsets[max(i, 0)]
