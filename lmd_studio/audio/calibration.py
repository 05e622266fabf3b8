"""Measuring the round trip: play a click, find it in the input, and correct what the device did not report.

With the output looped back to the input (a cable from the interface's output to its input, or on JACK the
studio's output ports connected to its own input ports), a click played at output position p comes back
and, once the input is placed on the output's timeline (input_path.py), should read back at tap position p
exactly. Where it reads back at p + e, the latency the device reported was off by e frames: `calibrate`
adds e to the correction, and a second click checks the result.

The click is 10 ms of Hann-windowed white noise rather than a single-sample impulse: its cross-correlation
peak is one sample wide, and it still finds itself after an analogue path has filtered it or when the room
adds noise. Monitoring is held off while a click is out (a loopback plus monitoring would feed back).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from lmd_studio.audio.input_path import InputPath

MIN_CONFIDENCE = 0.5  # normalised correlation below this: the click did not come back


def make_click(sample_rate_hz: int, duration_s: float = 0.01, peak: float = 0.5, seed: int = 17) -> np.ndarray:
    n = max(16, int(round(duration_s * sample_rate_hz)))
    noise = np.random.default_rng(seed).standard_normal(n) * np.hanning(n)
    return (noise * (peak / np.abs(noise).max())).astype(np.float32)


@dataclass(frozen=True, slots=True)
class RoundtripMeasurement:
    click_position: int  # output position the click started at (-1: it never started)
    error_frames: int  # where it read back minus where it should have: what the compensation missed
    confidence: float  # the normalised correlation peak, 0..1
    sample_rate_hz: int
    message: str = ""  # why there is no measurement ("" when found)

    @property
    def found(self) -> bool:
        return not self.message and self.confidence >= MIN_CONFIDENCE

    @property
    def error_ms(self) -> float:
        return 1000.0 * self.error_frames / self.sample_rate_hz


@dataclass(frozen=True, slots=True)
class CalibrationResult:
    before: RoundtripMeasurement  # with the correction there was
    after: RoundtripMeasurement | None  # with the new one (None when the first click was not found)
    correction_frames: int  # what the path uses now

    @property
    def ok(self) -> bool:
        return self.before.found and self.after is not None and self.after.found


def _wait_until(predicate: Callable[[], bool], timeout_s: float, sleep: Callable[[float], object]) -> bool:
    waited = 0.0
    while not predicate():
        if waited >= timeout_s:
            return False
        sleep(0.01)
        waited += 0.01
    return True


def measure_roundtrip(path: InputPath, search_s: float = 0.5, timeout_s: float = 5.0,
                      sleep: Callable[[float], object] | None = None) -> RoundtripMeasurement:
    """Play one click and find it in the input (see the module docstring)."""
    sleep = sleep or threading.Event().wait
    rate = path.sample_rate_hz
    if not path.running:
        return RoundtripMeasurement(-1, 0, 0.0, rate, f"no input: {path.message or 'not running'}")
    click = make_click(rate)
    search = int(search_s * rate)
    monitoring, path.monitoring = path.monitoring, False
    try:
        sleep(0.05)  # the monitor fades out within a buffer or two
        path.click.arm(click)
        if not _wait_until(lambda: path.click.start_position >= 0, timeout_s, sleep):
            return RoundtripMeasurement(-1, 0, 0.0, rate, "the click was not played (is the output running?)")
        start = path.click.start_position
        end = start + click.shape[0] + search
        if not _wait_until(lambda: path.tap.end_position >= end, timeout_s, sleep):
            return RoundtripMeasurement(start, 0, 0.0, rate, "the input stopped arriving")
    finally:
        path.monitoring = monitoring
    heard = path.tap.read(end, 2 * search + click.shape[0]).sum(axis=1)  # from start - search
    corr = np.correlate(heard, click, mode="valid")  # lag 0 ↔ start - search
    lag = int(np.argmax(np.abs(corr)))
    energy = float(np.linalg.norm(click) * np.linalg.norm(heard[lag:lag + click.shape[0]]))
    confidence = abs(float(corr[lag])) / energy if energy > 0 else 0.0
    error = lag - search
    if confidence < MIN_CONFIDENCE:
        return RoundtripMeasurement(start, error, confidence, rate,
                                    "the click did not come back: connect the output to the input")
    return RoundtripMeasurement(start, error, confidence, rate)


def calibrate(path: InputPath, search_s: float = 0.5, sleep: Callable[[float], object] | None = None) -> CalibrationResult:
    """Measure, correct `path.correction_frames` by the error found, and measure again to check."""
    before = measure_roundtrip(path, search_s, sleep=sleep)
    if not before.found:
        return CalibrationResult(before, None, path.correction_frames)
    path.correction_frames += before.error_frames
    after = measure_roundtrip(path, search_s, sleep=sleep)
    return CalibrationResult(before, after, path.correction_frames)
