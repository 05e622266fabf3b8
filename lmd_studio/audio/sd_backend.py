"""Audio output through a real device (sounddevice/PortAudio), supervised.

The stream callback only calls `render` (the engine's OutputStage). A supervisor thread watches the
stream: if the device vanishes (stream stops or its callbacks stall), output switches to a software-paced
Null clock so generation, meters and recording carry on, and the supervisor keeps trying to reopen the
device; when it is back, the stream restarts. At no time do two threads call `render` at once (the
playback ring has a single consumer).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from lmd_studio.audio.backend import AudioStatus, NullAudioBackend, RenderFn
from lmd_studio.audio.devices import find_output_device, load_sounddevice


def _silence(outdata: np.ndarray, device_underflow: bool) -> None:
    outdata.fill(0.0)


class SoundDeviceBackend:
    def __init__(self, device: str | int | None = None, sample_rate_hz: int | None = None, channels: int = 2,
                 buffer_frames: int = 256, supervise_s: float = 0.25, reopen_every_s: float = 1.0,
                 stall_s: float = 0.5, notify: Callable[[str], None] | None = None) -> None:
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

    def _open_stream(self, refresh: bool) -> bool:
        try:
            sd = load_sounddevice(refresh)
            info = find_output_device(self._device_spec)
            if info is None:
                self._message = (f"audio device {self._device_spec!r} not found" if self._device_spec
                                 else "no audio output device")
                return False
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
        self._latency_s = float(stream.latency)
        self._message = ""
        return True

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
            self._fallback.start(self._render)
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
                        self._fallback.start(self._render)
