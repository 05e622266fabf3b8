"""The audio-backend contract and the Null backend.

A backend calls `render(out, device_underflow)` once per buffer from its audio thread (see
engine.output.OutputStage.render). The Null backend is a software clock: a thread that calls render at
real-time pace into a preallocated buffer, so with no sound card everything (engine, meters, recording)
still runs exactly as with one.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np

RenderFn = Callable[[np.ndarray, bool], None]


@dataclass(frozen=True, slots=True)
class AudioStatus:
    backend: str  # "sounddevice" | "null"
    device_name: str
    sample_rate_hz: int
    channels: int
    buffer_frames: int
    running: bool
    message: str = ""  # e.g. "no audio device: playing silently; recording still works"
    reopen_attempts: int = 0
    output_latency_s: float = 0.0

    @property
    def buffer_period_ms(self) -> float:
        return 1000.0 * self.buffer_frames / self.sample_rate_hz


class AudioBackend(Protocol):
    @property
    def sample_rate_hz(self) -> int: ...

    @property
    def channels(self) -> int: ...

    @property
    def buffer_frames(self) -> int: ...

    def start(self, render: RenderFn) -> None: ...

    def stop(self) -> None: ...

    def status(self) -> AudioStatus: ...


class NullAudioBackend:
    """Software-paced output: calls `render` every buffer period on an absolute schedule; audio is dropped."""

    def __init__(self, sample_rate_hz: int = 48000, channels: int = 2, buffer_frames: int = 256,
                 message: str = "") -> None:
        if sample_rate_hz <= 0 or channels < 1 or buffer_frames < 1:
            raise ValueError(f"bad Null backend format {sample_rate_hz} Hz, {channels} ch, {buffer_frames} frames")
        self._rate = int(sample_rate_hz)
        self._channels = int(channels)
        self._frames = int(buffer_frames)
        self._message = message
        self._buf = np.zeros((self._frames, self._channels), dtype=np.float32)
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self.callbacks = 0

    @property
    def sample_rate_hz(self) -> int:
        return self._rate

    @property
    def channels(self) -> int:
        return self._channels

    @property
    def buffer_frames(self) -> int:
        return self._frames

    def start(self, render: RenderFn) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, args=(render,), name="lmd-null-audio", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._thread is None:
            return
        self._stop.set()
        self._thread.join(2.0)
        self._thread = None

    def _run(self, render: RenderFn) -> None:
        period_s = self._frames / self._rate
        next_s = time.perf_counter()
        while not self._stop.is_set():
            late = time.perf_counter() - next_s > period_s
            render(self._buf, late)
            self.callbacks += 1
            next_s += period_s
            delay = next_s - time.perf_counter()
            if delay > 0:
                self._stop.wait(delay)
            elif delay < -0.5:
                next_s = time.perf_counter()  # we were suspended: don't try to catch up in a burst

    def status(self) -> AudioStatus:
        return AudioStatus("null", "none (silent)", self._rate, self._channels, self._frames,
                           self._thread is not None, self._message)
