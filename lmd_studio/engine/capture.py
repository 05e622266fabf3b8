"""The capture thread: drains what the audio callback played into recording sinks.

The callback copies every played buffer into the engine's capture ring (allocation-free); this thread
empties it every ~20 ms and hands the frames to each sink (Recorder, RetroBuffer, the timeline's level
history). Sinks must return quickly; slow work (disk) belongs on the sink's own thread.

With an audio input, a TrackAligner (track_align.py) rides along: it gets every captured stretch too and,
at each poll, sends the stretches whose input has come back to the track sinks (the recorder's input and
generated tracks).
"""

from __future__ import annotations

import threading

import numpy as np

from lmd_studio.engine.sinks import CaptureSink, TrackSink
from lmd_studio.engine.track_align import TrackAligner
from lmd_studio.rt.ring import SpscRing


class CaptureHub:
    def __init__(self, capture_ring: SpscRing, poll_s: float = 0.02, aligner: TrackAligner | None = None) -> None:
        self._ring = capture_ring
        self.aligner = aligner
        self._poll_s = poll_s
        self._sinks: tuple[CaptureSink, ...] = ()
        self._lock = threading.Lock()  # guards sink list changes only (never held by the callback)
        self._buf = np.zeros((capture_ring.capacity_frames, capture_ring.channels), dtype=np.float32)
        self._position = 0  # absolute index of the next captured frame
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self.sink_errors = 0
        self.last_sink_error = ""

    @property
    def position(self) -> int:
        return self._position

    def add_sink(self, sink: CaptureSink) -> None:
        with self._lock:
            if sink not in self._sinks:
                self._sinks = (*self._sinks, sink)

    def remove_sink(self, sink: CaptureSink) -> None:
        with self._lock:
            self._sinks = tuple(s for s in self._sinks if s is not sink)

    def add_track_sink(self, sink: TrackSink) -> None:
        """Aligned (generated, input, mix) stretches for `sink`; nothing comes without an audio input."""
        if self.aligner is not None:
            self.aligner.add_sink(sink)

    def remove_track_sink(self, sink: TrackSink) -> None:
        if self.aligner is not None:
            self.aligner.remove_sink(sink)

    def drain(self) -> int:
        """Move everything captured so far to the sinks; returns frames moved."""
        n = self._ring.readable_frames
        if n <= 0:
            return 0
        self._ring.read_into(self._buf[:n])
        chunk = self._buf[:n].copy()  # sinks may keep it; the scratch buffer is reused next drain
        chunk.setflags(write=False)
        start = self._position
        self._position += n
        for sink in self._sinks:
            try:
                sink.consume(chunk, start)
            except Exception as exc:  # noqa: BLE001 — one broken sink must not stop the others
                self.sink_errors += 1
                self.last_sink_error = f"{type(sink).__name__}: {exc}"
        if self.aligner is not None:
            self.aligner.consume(chunk, start)
            self.aligner.pump()
        return n

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="lmd-capture", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._thread is None:
            return
        self._stop.set()
        self._thread.join(2.0)
        self._thread = None
        self.drain()
        if self.aligner is not None:
            self.aligner.flush(wait_s=0.5)  # the device still runs: the last input is on its way

    def _run(self) -> None:
        while not self._stop.wait(self._poll_s):
            self.drain()
            if self.aligner is not None:
                self.aligner.pump()
