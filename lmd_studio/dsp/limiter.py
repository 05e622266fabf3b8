"""A look-ahead peak limiter for the output path: nothing leaves the studio above the ceiling.

Per frame (all channels share one gain, so the stereo image does not wander) the limiter computes the
attenuation in dB that would bring that frame's peak down to the ceiling, then
1. holds the largest attenuation seen over the look-ahead window (`window_frames` = look-ahead + 1),
2. averages the held values over the same window (a boxcar): the gain ramps down over the look-ahead
   *before* a peak and is fully down when the peak comes out of the delay line,
3. releases at a constant rate in dB per second (A[n] = max(target[n], A[n-1] - r)), smooth and
   click-free, and exactly back to unity once the release has finished,
and delays the audio by the look-ahead so the gain meets the peak it was computed for.

Below the ceiling every attenuation is exactly 0 dB, the gain exactly 1.0 and the output the input,
delayed by `latency_frames`, bit for bit. A final clip at the ceiling only guards against rounding in
the envelope (it never touches a sample below the ceiling).

Real-time: every buffer is allocated in the constructor; `process` uses numpy with `out=` only (no
Python loop per sample: the sliding maximum is log2(window) passes of `np.maximum`, the release a
running maximum, `np.maximum.accumulate`), so it may run inside the audio callback.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, slots=True)
class LimiterConfig:
    ceiling_db: float = -1.0  # dBFS; 1 dB below full scale leaves room for inter-sample peaks
    lookahead_ms: float = 2.0  # added to the output latency
    release_db_per_s: float = 40.0  # 6 dB of reduction recovers in 150 ms

    def __post_init__(self) -> None:
        if not (math.isfinite(self.ceiling_db) and -40.0 <= self.ceiling_db <= 0.0):
            raise ValueError(f"ceiling_db must be in [-40, 0] dBFS, got {self.ceiling_db}")
        if not (math.isfinite(self.lookahead_ms) and 0.0 <= self.lookahead_ms <= 50.0):
            raise ValueError(f"lookahead_ms must be in [0, 50], got {self.lookahead_ms}")
        if not (math.isfinite(self.release_db_per_s) and self.release_db_per_s > 0.0):
            raise ValueError(f"release_db_per_s must be > 0, got {self.release_db_per_s}")

    @property
    def ceiling(self) -> float:
        """The ceiling as a linear amplitude."""
        return 10.0 ** (self.ceiling_db / 20.0)

    def lookahead_frames(self, sample_rate_hz: int) -> int:
        return int(round(self.lookahead_ms * 1e-3 * sample_rate_hz))


class PeakLimiter:
    """`process(block)` limits [frames, channels] float32 audio in place (any number of frames)."""

    __slots__ = ("config", "sample_rate_hz", "channels", "max_frames", "latency_frames", "window_frames",
                 "clipped_samples_pre_limiter", "over_full_scale_samples", "gain_reduction_db", "input_peak",
                 "_ceiling32", "_inv_ceiling", "_x_hist", "_x_work", "_abs", "_flags", "_peak32",
                 "_a_hist", "_a_ext", "_ping", "_pong", "_h_hist", "_h_ext", "_csum", "_env", "_tmp",
                 "_ramp", "_gain32", "_att_prev")

    def __init__(self, config: LimiterConfig, sample_rate_hz: int, channels: int, max_frames: int = 8192) -> None:
        if sample_rate_hz <= 0 or channels < 1 or max_frames < 1:
            raise ValueError(f"limiter needs rate > 0, channels >= 1, max_frames >= 1; got "
                             f"{sample_rate_hz}, {channels}, {max_frames}")
        self.config = config
        self.sample_rate_hz = int(sample_rate_hz)
        self.channels = int(channels)
        self.max_frames = int(max_frames)
        lookahead = config.lookahead_frames(sample_rate_hz)
        self.latency_frames = lookahead  # the output is the input delayed by this much
        self.window_frames = lookahead + 1
        self.clipped_samples_pre_limiter = 0  # samples with |x| > 1.0 arriving (would have clipped)
        self.over_full_scale_samples = 0  # samples with |y| >= 1.0 leaving (must stay 0)
        self.gain_reduction_db = 0.0  # at the end of the last block
        self.input_peak = 0.0  # largest |x| that arrived (what the output would have peaked at)
        self._ceiling32 = np.float32(config.ceiling)
        self._inv_ceiling = 1.0 / config.ceiling
        m, hist = self.max_frames, self.window_frames - 1
        f32, f64 = np.float32, np.float64
        self._x_hist = np.zeros((lookahead, channels), f32)
        self._x_work = np.zeros((lookahead + m, channels), f32)
        self._abs = np.zeros((m, channels), f32)
        self._flags = np.zeros((m, channels), np.bool_)
        self._peak32 = np.zeros(m, f32)
        self._a_hist = np.zeros(hist, f64)  # attenuation (dB) of the last window-1 input frames
        self._a_ext = np.zeros(hist + m, f64)
        self._ping = np.zeros(hist + m, f64)
        self._pong = np.zeros(hist + m, f64)
        self._h_hist = np.zeros(hist, f64)  # held attenuation of the last window-1 frames
        self._h_ext = np.zeros(hist + m, f64)
        self._csum = np.zeros(hist + 1 + m, f64)
        self._env = np.zeros(m, f64)
        self._tmp = np.zeros(m, f64)
        release_db_per_frame = config.release_db_per_s / sample_rate_hz
        self._ramp = release_db_per_frame * np.arange(1, m + 1, dtype=f64)
        self._gain32 = np.ones(m, f32)
        self._att_prev = 0.0

    def reset(self) -> None:
        """Forget the delay line and the envelope (not the counters)."""
        for buf in (self._x_hist, self._a_hist, self._h_hist):
            buf.fill(0.0)
        self._att_prev = 0.0
        self.gain_reduction_db = 0.0

    def process(self, block: np.ndarray) -> None:
        """Limit `block` ([frames, channels] float32, C-contiguous) in place."""
        start = 0
        total = block.shape[0]
        while start < total:
            n = min(self.max_frames, total - start)
            self._process_chunk(block[start:start + n], n)
            start += n

    def _process_chunk(self, x: np.ndarray, n: int) -> None:
        lookahead, hist = self.latency_frames, self.window_frames - 1
        absx, flags = self._abs[:n], self._flags[:n]
        np.abs(x, out=absx)
        np.greater(absx, 1.0, out=flags)
        self.clipped_samples_pre_limiter += int(np.count_nonzero(flags))
        # attenuation needed per frame: 20·log10(max(peak / ceiling, 1)), exactly 0 below the ceiling
        peak = self._peak32[:n]
        np.copyto(peak, absx[:, 0])
        for ch in range(1, self.channels):  # per channel: a reduction over axis 1 buffers internally
            np.maximum(peak, absx[:, ch], out=peak)
        block_peak = float(np.maximum.reduce(peak))
        if block_peak > self.input_peak:
            self.input_peak = block_peak
        a_ext = self._a_ext[:hist + n]
        a_ext[:hist] = self._a_hist
        a_new = a_ext[hist:]
        np.copyto(a_new, peak)
        np.multiply(a_new, self._inv_ceiling, out=a_new)
        np.maximum(a_new, 1.0, out=a_new)
        np.log10(a_new, out=a_new)
        np.multiply(a_new, 20.0, out=a_new)
        self._a_hist[:] = a_ext[n:n + hist]
        # 1. hold: h[i] = max(a_ext[i : i + window]), by doubling windows (ping-pong, no overlap)
        h_ext = self._h_ext[:hist + n]
        h_ext[:hist] = self._h_hist
        self._sliding_max(a_ext, h_ext[hist:], n)
        self._h_hist[:] = h_ext[n:n + hist]
        # 2. boxcar over the window: env[i] = mean(h_ext[i : i + window])
        window = self.window_frames
        csum = self._csum[:hist + 1 + n]
        csum[0] = 0.0
        np.add.accumulate(h_ext, out=csum[1:])
        env = self._env[:n]
        np.subtract(csum[window:window + n], csum[:n], out=env)
        np.multiply(env, 1.0 / window, out=env)
        # 3. release at a constant dB rate: A[i] = max(A[i-1] - r, env[i]) as one running maximum
        ramp, tmp = self._ramp[:n], self._tmp[:n]
        np.add(env, ramp, out=tmp)
        np.maximum.accumulate(tmp, out=tmp)
        np.maximum(tmp, self._att_prev, out=tmp)
        np.subtract(tmp, ramp, out=env)
        self._att_prev = float(env[n - 1])
        self.gain_reduction_db = self._att_prev
        # gain = 10^(-A/20): exactly 1.0 where A == 0
        np.multiply(env, -math.log(10.0) / 20.0, out=env)
        np.exp(env, out=env)
        gain = self._gain32[:n]
        np.copyto(gain, env, casting="same_kind")
        # delay by the look-ahead and apply
        work = self._x_work[:lookahead + n]
        work[:lookahead] = self._x_hist
        work[lookahead:] = x
        for ch in range(self.channels):  # per channel: a broadcast multiply buffers internally
            np.multiply(work[:n, ch], gain, out=x[:, ch])
        self._x_hist[:] = work[n:n + lookahead]
        np.minimum(x, self._ceiling32, out=x)
        np.maximum(x, -self._ceiling32, out=x)
        np.abs(x, out=absx)
        np.greater_equal(absx, 1.0, out=flags)
        self.over_full_scale_samples += int(np.count_nonzero(flags))

    def _sliding_max(self, src: np.ndarray, dst: np.ndarray, n: int) -> None:
        """dst[i] = max(src[i : i + window]) for i < n (src holds n + window - 1 values)."""
        window = self.window_frames
        if window == 1:
            dst[:] = src[:n]
            return
        valid, span, cur = src.shape[0], 1, src
        bufs = (self._ping, self._pong)
        k = 0
        while 2 * span <= window:  # cur[i] = max of `span` values from i, valid for i < valid
            nxt = bufs[k & 1]
            k += 1
            np.maximum(cur[:valid - span], cur[span:valid], out=nxt[:valid - span])
            valid -= span
            span *= 2
            cur = nxt
        if span == window:
            dst[:] = cur[:n]
        else:  # two overlapping windows of `span` > window / 2 cover [i, i + window)
            np.maximum(cur[:n], cur[window - span:window - span + n], out=dst)
