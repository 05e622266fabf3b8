"""Lining the recorded input up with the recorded output, sample for sample.

The capture thread hands every captured (generated) stretch to `TrackAligner.consume` with its capture
position. The output stage's `capture_map` says at which output position it was rendered; the input the
player played while hearing it sits at the same positions in the InputTap (the round trip is taken out
there) — but only once it has come back through the device, some tens of milliseconds after the capture.
So stretches wait in a queue, and `pump` (called by the capture thread at every poll) sends each one on as
soon as the tap has covered it: `AlignedTracks(generated, input, mix)` to every TrackSink, with the same
capture position as the generated audio had. A stretch whose input never comes (the backend stopped) goes
on after `wait_s` with silence for the missing input, so a take never stalls.

The mix is generated + input at the monitor level (0 while monitoring is off; the Dry of generative
delay's Dry/Wet while it plays; mono input to every channel), under the same
zero-latency PeakGuard as the live monitor, so it never clips and never shifts against the other tracks.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

import numpy as np

from lmd_studio.dsp.limiter import LimiterConfig
from lmd_studio.dsp.peak_guard import PeakGuard
from lmd_studio.engine.sinks import AlignedTracks, TrackSink
from lmd_studio.rt.input_tap import InputTap
from lmd_studio.rt.offset_log import OffsetLog

_GUARD_FRAMES = 8192


def upmix(inp: np.ndarray, channels: int) -> np.ndarray:
    """The input as `channels` output channels: mono to each, stereo left/right (summed at half level
    into mono)."""
    if inp.shape[1] == channels:
        return inp
    if inp.shape[1] == 1:
        return np.repeat(inp, channels, axis=1)
    if channels == 1:
        return inp.mean(axis=1, keepdims=True)
    out = np.zeros((inp.shape[0], channels), np.float32)
    out[:, :inp.shape[1]] = inp[:, :channels]
    return out


class TrackAligner:
    def __init__(self, tap: InputTap, capture_map: OffsetLog, monitor_level: Callable[[], float],
                 sample_rate_hz: int, channels: int, wait_s: float = 2.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.tap = tap
        self._map = capture_map
        self._monitor_level = monitor_level  # the input's gain in the mix, as heard live (0: not heard)
        self._channels = int(channels)
        self._wait_s = wait_s
        self._clock = clock
        self._pending: deque[tuple[int, int, np.ndarray, float]] = deque()  # capture pos, output pos, frames, when
        self._sinks: tuple[TrackSink, ...] = ()
        self._lock = threading.Lock()  # sink list changes only
        self._guard = PeakGuard(LimiterConfig().ceiling, sample_rate_hz, channels, _GUARD_FRAMES)
        self.unmapped_frames = 0  # captured frames with no output position (must stay 0)
        self.late_frames = 0  # frames sent on without their input (it never arrived)
        self.sink_errors = 0
        self.last_sink_error = ""

    def add_sink(self, sink: TrackSink) -> None:
        with self._lock:
            if sink not in self._sinks:
                self._sinks = (*self._sinks, sink)

    def remove_sink(self, sink: TrackSink) -> None:
        with self._lock:
            self._sinks = tuple(s for s in self._sinks if s is not sink)

    @property
    def pending_frames(self) -> int:
        return sum(len(item[2]) for item in self._pending)

    # --- capture thread ---------------------------------------------------------------------------------
    def consume(self, frames: np.ndarray, start_position: int) -> None:
        now = self._clock()
        mapped = 0
        for start, n, output_position in self._map.segments(start_position, frames.shape[0]):
            offset = start - start_position
            self._pending.append((start, output_position, frames[offset:offset + n], now))
            mapped += n
        self.unmapped_frames += frames.shape[0] - mapped

    def pump(self, force: bool = False) -> int:
        """Send on every waiting stretch whose input has arrived (all of them with `force`); returns frames
        sent."""
        sent = 0
        while self._pending:
            capture_position, output_position, generated, since = self._pending[0]
            n = generated.shape[0]
            missing = output_position + n - self.tap.end_position
            if missing > 0 and not force and self._clock() - since < self._wait_s:
                break
            self._pending.popleft()
            if missing > 0:
                self.late_frames += min(n, missing)
            self._send(capture_position, output_position, generated)
            sent += n
        return sent

    def flush(self, wait_s: float) -> None:
        """Before the capture stops: give the input up to `wait_s` to arrive, then send everything."""
        deadline = self._clock() + wait_s
        idle = threading.Event()
        while self._pending and self._clock() < deadline:
            self.pump()
            idle.wait(0.01)
        self.pump(force=True)

    def _send(self, capture_position: int, output_position: int, generated: np.ndarray) -> None:
        n = generated.shape[0]
        inp = self.tap.read(output_position + n, n)
        mix = np.array(generated, np.float32, copy=True)
        level = self._monitor_level()
        if level == 1.0:
            mix += upmix(inp, self._channels)
        elif level > 0.0:
            mix += np.float32(level) * upmix(inp, self._channels)
        for start in range(0, n, _GUARD_FRAMES):
            self._guard.process(mix[start:start + _GUARD_FRAMES])
        tracks = AlignedTracks(generated, inp, mix, output_position)
        for sink in self._sinks:
            try:
                sink.consume_tracks(tracks, capture_position)
            except Exception as exc:  # noqa: BLE001 — one broken sink must not stop the others
                self.sink_errors += 1
                self.last_sink_error = f"{type(sink).__name__}: {exc}"
