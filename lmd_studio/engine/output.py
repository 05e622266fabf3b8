"""The body of the audio callback, independent of any audio library.

`OutputStage.render(out)` is what every backend calls once per device buffer: the sounddevice stream's
callback, the Null backend's pacing thread and the offline renderer. It copies frames from the playback
ring, applies the smoothed master gain, limits the peaks (dsp/limiter.py: nothing leaves above -1 dBFS),
feeds the capture ring (recording, retro-capture, the timeline), tracks the peak level, and timestamps
itself so others can tell when a given frame left the device.

It counts the frames it renders: the *output position*, the timeline the audio input is placed on
(rt/input_tap.py). Two offset logs say where the capture ring and the playback (stream) ring stood against
it: `capture_map` turns a capture position into the output position it was rendered at (the recording's
input track, engine/track_align.py), `stream_map` gives the output position at which a frame of the
generated stream leaves the limiter (the jam work's generator reads the input lined up with its blocks).

Real-time rules (ARCHITECTURE.md): no buffer allocation, no locks, no logging, no exceptions escaping,
no Qt, no torch. All arrays it touches are preallocated here; the only Python objects created per call
are transient numpy views and floats.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from lmd_studio.dsp.limiter import PeakLimiter
from lmd_studio.rt.offset_log import OffsetLog
from lmd_studio.rt.ring import SpscRing
from lmd_studio.rt.smoother import GainSmoother

_LATENESS_SLOTS = 8192  # recent callback lateness samples kept for percentiles


class OutputStage:
    __slots__ = ("ring", "capture_ring", "sample_rate_hz", "gain", "playing", "primed",
                 "peak_level", "callback_count", "device_underflows", "errors", "output_latency_s",
                 "_clock", "_lateness_ms", "_lateness_count", "_last_cb_s", "_expected_period_s",
                 "frames_played", "underruns_while_playing", "_scratch", "capture_overflow_frames",
                 "lateness_source", "limiter", "output_position", "capture_map", "stream_map")

    def __init__(self, ring: SpscRing, capture_ring: SpscRing | None, sample_rate_hz: int,
                 max_buffer_frames: int = 8192, initial_gain: float = 0.5,
                 limiter: PeakLimiter | None = None) -> None:
        self.ring = ring
        self.capture_ring = capture_ring
        self.sample_rate_hz = int(sample_rate_hz)
        self.gain = GainSmoother(sample_rate_hz, max_frames=max_buffer_frames, initial_gain=initial_gain)
        self.playing = False  # transport: False → silence, ring untouched
        self.primed = False  # the worker sets this once the first blocks are queued
        self.peak_level = 0.0  # max |sample| since the GUI last reset it
        self.callback_count = 0
        self.device_underflows = 0  # reported by the device (status.output_underflow)
        self.errors = 0  # exceptions caught inside the callback
        self.output_latency_s = 0.0  # the device's reported output latency, set by the backend
        # _clock: [perf_counter at callback start, ring read position at callback start]
        self._clock = np.zeros(2, dtype=np.float64)
        self._lateness_ms = np.zeros(_LATENESS_SLOTS, dtype=np.float64)
        self._lateness_count = 0
        self._last_cb_s = 0.0
        self._expected_period_s = 0.0
        self.frames_played = 0  # frames taken from the ring while playing
        self.underruns_while_playing = 0
        self.capture_overflow_frames = 0
        self._scratch = np.zeros((max_buffer_frames, ring.channels), dtype=np.float32)
        # a backend whose device callback runs elsewhere (another process) reports its lateness here
        self.lateness_source: Callable[[], np.ndarray] | None = None
        # The limiter sits here, after the volume, and not in the worker before the ring: the volume has
        # to act within one buffer, while the ring holds ~1.5 s that gain applied in the worker would
        # only reach after it had played out. Its look-ahead (2 ms) is the only latency it adds.
        self.limiter = limiter
        self.output_position = 0  # frames rendered so far (the backend's output position)
        self.capture_map = OffsetLog()  # capture ring position → output position
        self.stream_map = OffsetLog()  # playback ring (stream) position → output position

    # --- called from the audio thread -----------------------------------------------------------
    def render(self, out: np.ndarray, device_underflow: bool = False) -> None:
        """Fill `out` ([frames, channels] float32). Never raises."""
        n = out.shape[0]
        position = self.output_position
        self.output_position = position + n
        try:
            now = time.perf_counter()
            if self._last_cb_s > 0.0:
                # lateness: how much longer than one buffer period since the previous callback
                period = n / self.sample_rate_hz
                late_ms = (now - self._last_cb_s - period) * 1000.0
                self._lateness_ms[self._lateness_count & (_LATENESS_SLOTS - 1)] = late_ms if late_ms > 0 else 0.0
                self._lateness_count += 1
            self._last_cb_s = now
            self.callback_count += 1
            if device_underflow:
                self.device_underflows += 1
            self._clock[0] = now
            self._clock[1] = self.ring.read_position
            if self.playing and self.primed:
                before = self.ring.underrun_count
                start = self.ring.read_position
                got = self.ring.read_into(out)
                # the stream frame leaves the limiter's delay line that much later
                self.stream_map.note(start, position + self.limiter_latency_frames, got)
                self.frames_played += got
                if self.ring.underrun_count != before:
                    self.underruns_while_playing += 1
                self.gain.process(out)
                if self.limiter is not None:
                    self.limiter.process(out)
            else:
                out.fill(0.0)
                if self.limiter is not None:
                    self.limiter.reset()  # stop means silence now: its delay line is dropped, not played
            if n:
                scratch = self._scratch[:n]
                np.abs(out, out=scratch)  # no temporary array
                peak = float(scratch.max())
            else:
                peak = 0.0
            if peak > self.peak_level:
                self.peak_level = peak
            if self.capture_ring is not None and self.playing:
                start = self.capture_ring.write_position
                written = self.capture_ring.write(out)
                self.capture_map.note(start, position, written)
                if written < n:
                    self.capture_overflow_frames += n - written
        except Exception:  # noqa: BLE001 — the callback must never raise: zero-fill and count
            out.fill(0.0)
            self.errors += 1

    # --- read from other threads -------------------------------------------------------------------
    def frame_play_time_s(self, position: int) -> float:
        """perf_counter time at which ring frame `position` leaves the device (extrapolated from the
        latest callback's clock; includes the device's output latency)."""
        t_cb, pos_cb = float(self._clock[0]), float(self._clock[1])
        return t_cb + (position - pos_cb + self.limiter_latency_frames) / self.sample_rate_hz + self.output_latency_s

    @property
    def limiter_latency_frames(self) -> int:
        return self.limiter.latency_frames if self.limiter is not None else 0

    @property
    def clipped_samples_pre_limiter(self) -> int:
        return self.limiter.clipped_samples_pre_limiter if self.limiter is not None else 0

    @property
    def over_full_scale_samples(self) -> int:
        return self.limiter.over_full_scale_samples if self.limiter is not None else 0

    @property
    def clock_valid(self) -> bool:
        return self._clock[0] > 0.0

    def lateness_ms(self) -> np.ndarray:
        """Copy of the recent device-callback lateness samples (ms)."""
        if self.lateness_source is not None:
            return self.lateness_source()
        n = min(self._lateness_count, _LATENESS_SLOTS)
        return self._lateness_ms[:n].copy()

    def reset_lateness(self) -> None:
        self._lateness_count = 0
        self._last_cb_s = 0.0

    def take_peak(self) -> float:
        """Peak since the last call (for meters)."""
        p = self.peak_level
        self.peak_level = 0.0
        return p
