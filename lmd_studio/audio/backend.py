"""The audio-backend contract and the Null backend.

A backend calls `render(out, device_underflow)` once per buffer from its audio thread (see
engine.output.OutputStage.render). The frames it has asked for so far are its *output position*; with an
audio input (`input`, an InputPath), it places what the input captured at the output position it lines up
with (input_path.py). The Null backend is a software clock: a thread that calls render at real-time pace
into a preallocated buffer, so with no sound card everything (engine, meters, recording) still runs exactly
as with one; its input twin is a fake device (fake_input.LoopbackInput), or none.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from lmd_studio.audio.fake_input import LoopbackInput
from lmd_studio.audio.input_path import InputConfig, InputPath

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

    @property
    def input(self) -> InputPath | None:
        """The audio input's shared state (tap, monitoring, latency), or None when input is off."""
        ...


class NullAudioBackend:
    """Software-paced output: calls `render` every buffer period on an absolute schedule; audio is dropped."""

    def __init__(self, sample_rate_hz: int = 48000, channels: int = 2, buffer_frames: int = 256,
                 message: str = "", input_config: InputConfig | None = None,
                 fake_input: LoopbackInput | None = None) -> None:
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
        self._input = input_path = InputPath.make(input_config, self._rate) if input_config is not None else None
        self._fake = fake_input
        channels_in = input_path.config.channel_count if input_path is not None else 1
        self._in_buf = np.zeros((self._frames, channels_in), dtype=np.float32)
        self.output_position = 0
        if input_path is not None and fake_input is None:
            input_path.closed("no input device (silent audio)")

    @property
    def input(self) -> InputPath | None:
        return self._input

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
            # no device: a wake-up later than a period is this thread's scheduling, not a buffer a listener
            # lost, so it is not reported as a device underflow (the panel's "device N" would read as a fault)
            render(self._buf, False)
            if self._input is not None:
                self._take_input(self._input)
            self.output_position += self._frames
            self.callbacks += 1
            next_s += period_s
            delay = next_s - time.perf_counter()
            if delay > 0:
                self._stop.wait(delay)
            elif delay < -0.5:
                next_s = time.perf_counter()  # we were suspended: don't try to catch up in a burst

    def _take_input(self, path: InputPath) -> None:
        path.click.apply(self._buf, self.output_position)
        fake = self._fake
        if fake is None or not fake.connected:
            if fake is not None and path.running:
                path.closed("input device lost")
            path.silence_to(self.output_position + self._frames)
            return
        if not path.running:
            path.opened(fake.name, fake.reported_frames)
        fake.capture(self._buf, self._in_buf)
        path.place(self.output_position, self._in_buf)

    def status(self) -> AudioStatus:
        return AudioStatus("null", "none (silent)", self._rate, self._channels, self._frames,
                           self._thread is not None, self._message)
