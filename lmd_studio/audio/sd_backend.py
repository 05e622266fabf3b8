"""Audio output through a real device (sounddevice/PortAudio), supervised.

The stream callback only calls `render` (the engine's OutputStage). A supervisor thread watches the
stream: if the device vanishes (stream stops or its callbacks stall), output switches to a software-paced
Null clock so generation, meters and recording carry on, and the supervisor keeps trying to reopen the
device; when it is back, the stream restarts. At no time do two threads call `render` at once (the
playback ring has a single consumer).

With an audio input (`input_path`) the stream is duplex: the callback renders, places the period's input in
the engine's InputTap at the output position it lines up with, and mixes it into the output when monitoring
(monitor.py). On the software clock the tap moves on with silence.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from lmd_studio.audio.backend import AudioStatus, NullAudioBackend, RenderFn
from lmd_studio.audio.devices import (
    find_input_device,
    find_output_device,
    load_sounddevice,
    set_jack_client_name,
)
from lmd_studio.audio.input_path import InputConfig, InputPath
from lmd_studio.audio.monitor import MonitorMix

_SETTLE_CALLBACKS = 4  # device periods to learn the round trip before the input is placed


def _silence(outdata: np.ndarray, device_underflow: bool) -> None:
    outdata.fill(0.0)


class SoundDeviceBackend:
    def __init__(self, device: str | int | None = None, sample_rate_hz: int | None = None, channels: int = 2,
                 buffer_frames: int = 256, supervise_s: float = 0.25, reopen_every_s: float = 1.0,
                 stall_s: float = 0.5, notify: Callable[[str], None] | None = None,
                 input_config: InputConfig | None = None) -> None:
        self._device_spec = device
        self._channels = int(channels)
        self._frames = int(buffer_frames)
        self._supervise_s = supervise_s
        self._reopen_every_s = reopen_every_s
        self._stall_s = stall_s
        self._notify = notify or (lambda msg: None)
        self._lock = threading.Lock()  # serialises stream/fallback switches (never taken by callbacks)
        self._stream: Any | None = None  # a sounddevice.OutputStream (untyped) while on a device
        self._device_name = "none"
        self._message = ""
        self._reopen_attempts = 0
        self._render: RenderFn = _silence  # the engine's render, from start() on
        self._callbacks = 0
        self._latency_s = 0.0
        self._stop = threading.Event()
        self._supervisor: threading.Thread | None = None
        info = None
        try:
            info = find_output_device(device)
        except RuntimeError as exc:
            self._message = str(exc)
        self._rate = int(sample_rate_hz or (info.default_sample_rate_hz if info else 48000))
        self._fallback = NullAudioBackend(self._rate, self._channels, self._frames)
        self._using_fallback = False
        self._wedged = False
        self._reopen_timeout_s = 3.0
        self._rendered = 0  # output position: frames rendered so far (stream and software clock)
        self._input = input_path = InputPath.make(input_config, self._rate) if input_config is not None else None
        self._in_buf = np.zeros((max(8192, 4 * self._frames), input_path.config.channel_count if input_path else 1),
                                np.float32)
        self._monitor = (MonitorMix(input_path.config.columns, self._channels, self._rate, self._in_buf.shape[0])
                         if input_path is not None else None)
        self._named = False
        self._settle = 0  # device periods until the input opens (set when a duplex stream starts)
        self._in_name = ""
        self._reported_frames = 0
        if input_path is not None:
            input_path.closed("the audio device is opening")

    # --- format ---------------------------------------------------------------------------------
    @property
    def sample_rate_hz(self) -> int:
        return self._rate

    @property
    def channels(self) -> int:
        return self._channels

    @property
    def buffer_frames(self) -> int:
        return self._frames

    @property
    def on_device(self) -> bool:
        return self._stream is not None

    @property
    def input(self) -> InputPath | None:
        return self._input

    # --- lifecycle ------------------------------------------------------------------------------
    def start(self, render: RenderFn) -> None:
        self._render = render
        self._stop.clear()
        if not self._open_stream(refresh=False):
            self._start_fallback(self._message or "no audio device")
        self._supervisor = threading.Thread(target=self._supervise, name="lmd-audio-supervisor", daemon=True)
        self._supervisor.start()

    def stop(self) -> None:
        self._stop.set()
        if self._supervisor is not None:
            self._supervisor.join(3.0)
            self._supervisor = None
        with self._lock:
            self._close_stream()
            self._fallback.stop()
            self._using_fallback = False

    def status(self) -> AudioStatus:
        return AudioStatus("sounddevice" if self._stream is not None else "null",
                           self._device_name if self._stream is not None else "none (silent)",
                           self._rate, self._channels, self._frames,
                           self._stream is not None or self._using_fallback, self._message,
                           self._reopen_attempts, self._latency_s)

    # --- internals ------------------------------------------------------------------------------------
    # sounddevice ships no types: time_info is a cffi struct, status a CallbackFlags
    def _callback(self, outdata: np.ndarray, frames: int, time_info: Any, status: Any) -> None:
        self._callbacks += 1
        self._render(outdata, bool(status.output_underflow))
        self._rendered += frames

    def _duplex_callback(self, indata: np.ndarray, outdata: np.ndarray, frames: int, time_info: Any,
                         status: Any) -> None:
        self._callbacks += 1
        self._render(outdata, bool(status.output_underflow))
        path, monitor = self._input, self._monitor
        if path is not None and monitor is not None:
            if status.input_overflow:
                path.device_overflows += 1
            path.click.apply(outdata, self._rendered)
            if self._settle > 0:  # the first periods: the device's round trip, from its own clock
                self._settle -= 1
                roundtrip_s = time_info.outputBufferDacTime - time_info.inputBufferAdcTime
                if roundtrip_s > 0.0:
                    self._reported_frames = int(round(roundtrip_s * self._rate))
                if self._settle == 0:
                    path.opened(self._in_name, self._reported_frames)
            else:
                picked = self._in_buf[:frames]
                for j, col in enumerate(path.config.columns):
                    picked[:, j] = indata[:, col]
                path.place(self._rendered, picked)
            monitor.process(outdata, indata, path.monitoring, path.monitor_gain)
        self._rendered += frames

    def _render_fallback(self, outdata: np.ndarray, device_underflow: bool) -> None:
        """The software clock's render: the output position and the input tap move on as on a device."""
        self._render(outdata, device_underflow)
        self._rendered += outdata.shape[0]
        if self._input is not None:
            self._input.silence_to(self._rendered)

    def _open_stream(self, refresh: bool) -> bool:
        try:
            sd = load_sounddevice(refresh)
            info = find_output_device(self._device_spec)
            if info is None:
                self._message = (f"audio device {self._device_spec!r} not found" if self._device_spec
                                 else "no audio output device")
                return False
            if not self._named:  # JACK shows the studio by name (PortAudio re-initialises for it)
                set_jack_client_name()
                self._named = True
                info = find_output_device(self._device_spec) or info
            stream, in_name = self._duplex(sd, info)
            if in_name and stream is not None:  # the input opens once the callback has read the round trip off the device clock
                self._in_name = in_name
                latency = stream.latency
                self._reported_frames = int(round((latency[0] + latency[1]) * self._rate))
                self._settle = _SETTLE_CALLBACKS
            if stream is None:
                stream = sd.OutputStream(samplerate=self._rate, blocksize=self._frames, device=info.index,
                                         channels=self._channels, dtype="float32", callback=self._callback)
            # the software clock stops only now, so a failed reopen leaves no gap in the recording
            self._fallback.stop()
            self._using_fallback = False
            stream.start()
        except Exception as exc:  # noqa: BLE001 — PortAudioError, ValueError, OSError: all mean "no device"
            self._message = f"cannot open audio device: {exc}"
            return False
        self._stream = stream
        self._device_name = f"{info.name} ({info.host_api})"
        latency = stream.latency
        self._latency_s = float(latency[1] if isinstance(latency, tuple) else latency)
        self._message = ""
        return True

    def _duplex(self, sd: Any, info: Any) -> tuple[Any | None, str]:
        """A duplex stream for the input and the output, or (None, "") having told the InputPath why not."""
        path = self._input
        if path is None:
            return None, ""
        wanted = path.config.open_channels
        in_info = find_input_device(path.config.device or None, info, wanted)
        if in_info is None:
            path.closed(f"no input device with {wanted} input channel{'s' if wanted > 1 else ''}")
            return None, ""
        try:
            stream = sd.Stream(samplerate=self._rate, blocksize=self._frames, device=(in_info.index, info.index),
                               channels=(wanted, self._channels), dtype="float32", callback=self._duplex_callback)
        except Exception as exc:  # noqa: BLE001 — PortAudioError, ValueError: play without the input
            path.closed(f"cannot open the input {in_info.name}: {exc}")
            return None, ""
        return stream, f"{in_info.name} ({in_info.host_api})"

    def _close_stream(self, wait: bool = True) -> None:
        """Close the stream. A stream whose device vanished can block forever in abort() (seen with
        JACK when the server dies), so then it is closed on a throw-away thread and abandoned."""
        stream, self._stream = self._stream, None
        if stream is None:
            return

        def close() -> None:
            try:
                stream.abort()
                stream.close()
            except Exception:  # noqa: BLE001 — a vanished device may fail to close; it is gone anyway
                pass

        closer = threading.Thread(target=close, name="lmd-audio-close", daemon=True)
        closer.start()
        closer.join(1.0 if wait else 0.0)

    def _try_reopen(self) -> bool:
        """Re-initialise PortAudio and reopen the device, on a helper thread with a time limit.

        After a JACK server dies, PortAudio's JACK host API can block forever in close/terminate (seen
        here); then this process cannot get audio back. We stop trying, keep the software clock running
        (generation and recording go on) and say so, instead of freezing the supervisor."""
        result: dict[str, bool] = {}

        def attempt() -> None:
            result["ok"] = self._open_stream(refresh=True)
            if result["ok"] and self._wedged:  # we gave up on this attempt meanwhile: don't double-render
                self._close_stream(wait=False)

        worker = threading.Thread(target=attempt, name="lmd-audio-reopen", daemon=True)
        worker.start()
        worker.join(self._reopen_timeout_s)
        if worker.is_alive():
            self._wedged = True
            self._message = ("audio device lost and the audio system did not restart (PortAudio is stuck): "
                             "playing silently, generation and recording continue; restart LMD Studio for sound")
            self._notify(self._message)
            return False
        return result.get("ok", False)

    def _start_fallback(self, reason: str) -> None:
        if not self._using_fallback:
            self._message = f"{reason}: playing silently; generation and recording continue"
            self._notify(self._message)
            if self._input is not None:
                self._input.closed("audio device lost")
            self._fallback.start(self._render_fallback)
            self._using_fallback = True

    def _supervise(self) -> None:
        last_count = self._callbacks
        last_progress_s = time.monotonic()
        last_try_s = time.monotonic()
        while not self._stop.wait(self._supervise_s):
            now = time.monotonic()
            with self._lock:
                if self._stream is not None:
                    if self._callbacks != last_count:
                        last_count, last_progress_s = self._callbacks, now
                    dead = not self._stream.active or now - last_progress_s > self._stall_s
                    if dead:
                        self._close_stream(wait=False)
                        self._start_fallback("audio device lost")
                        last_try_s = now
                elif now - last_try_s >= self._reopen_every_s and not self._wedged:
                    last_try_s = now
                    self._reopen_attempts += 1
                    if self._try_reopen():
                        self._notify(f"audio device back: {self._device_name}")
                        last_count, last_progress_s = self._callbacks, time.monotonic()
                    elif not self._using_fallback:
                        self._using_fallback = True
                        self._fallback.start(self._render_fallback)
