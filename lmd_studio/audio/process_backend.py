"""Audio output through a separate device process (the default backend of the studio).

Why a process: (1) the device callback runs in its own interpreter, so the generation thread's Python
work can never make it wait for the GIL; (2) when a device vanishes, PortAudio can hang in close or
terminate (measured with JACK: abort/stop/close/Pa_Terminate all block forever once the server died), so
we kill the device process and start a fresh one — the only reliable way to get the device back.

A pump thread here keeps a small shared-memory ring `fill_s` seconds (whole device buffers) full by calling
`render` (the engine's OutputStage); the child's callback reads it. While no device process is running,
the pump paces `render` by the clock instead (the Null backend's behaviour), so generation, meters and
recording continue; every `reopen_every_s` a new device process is tried.

With an audio input (`input_path`), the device process runs a duplex stream and the pump also drains the
input into the engine's InputTap (shm_input.py); with no device the tap moves on with silence, so a take's
input track keeps its timeline through a device loss, and the input comes back with the device.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from lmd_studio.audio import shm_ring as sr
from lmd_studio.audio.backend import AudioStatus, RenderFn
from lmd_studio.audio.input_path import InputConfig, InputPath
from lmd_studio.audio.shm_input import ShmInputPump
from lmd_studio.core.units import next_power_of_two


@dataclass(frozen=True, slots=True)
class UnderflowSplit:
    """The device process's late buffers by cause, counted since it started."""

    handoff: int = 0  # the shared ring ran dry: our pump thread fell behind (ours)
    device: int = 0  # the device reported an underflow: the audio server missed its period (machine or us)
    slow_callbacks: int = 0  # the child's callback itself took over half a period (ours)
    callbacks: int = 0


class ProcessAudioBackend:
    def __init__(self, device: str | int | None = None, sample_rate_hz: int | None = None, channels: int = 2,
                 buffer_frames: int = 256, fill_s: float = 0.04, reopen_every_s: float = 1.0,
                 stall_s: float = 0.5, start_timeout_s: float = 10.0,
                 notify: Callable[[str], None] | None = None, input_config: InputConfig | None = None) -> None:
        self._device = "" if device is None else str(device)
        self._channels = int(channels)
        self._frames = int(buffer_frames)
        self._rate = int(sample_rate_hz or self._default_rate())
        # Frames kept ahead of the device: what the pump thread may fall behind (waiting for the GIL, a GC
        # pass) before the device underflows. 3 buffers (16 ms at 256 frames) underflowed 5 times in a 10-
        # minute soak with the GUI animating; 40 ms is inaudible next to a block-sized control latency.
        self._fill_frames = max(3, -(-int(fill_s * self._rate) // self._frames)) * self._frames
        self._reopen_every_s = reopen_every_s
        self._stall_s = stall_s
        self._start_timeout_s = start_timeout_s
        self._notify = notify or (lambda msg: None)
        self._ring = sr.ShmAudioRing(next_power_of_two(max(4096, 8 * self._fill_frames)), self._channels)
        self._buf = np.zeros((self._frames, self._channels), np.float32)
        self._child: subprocess.Popen[bytes] | None = None
        self._child_started_s = 0.0
        self._on_device = False
        self._device_name = "none (silent)"
        self._message = ""
        self._reopen_attempts = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._said_no_device = False
        self._closed = False
        self._last_lateness_ms = np.zeros(0)
        self._last_split = UnderflowSplit()
        self._rendered = 0  # output position: frames rendered so far
        self._input = InputPath.make(input_config, self._rate) if input_config is not None else None
        self._in = ShmInputPump(self._input, self._rate, self._frames, self._fill_frames) if self._input else None
        if self._input is not None:
            self._input.closed("the audio device is opening")

    def _default_rate(self) -> int:
        """The device's own rate (JACK insists on the server's). Asked once, in a short-lived child, so
        PortAudio never initialises in this process."""
        code = ("from lmd_studio.audio.devices import find_output_device as f\n"
                f"d = f({self._device!r} or None)\nprint(int(d.default_sample_rate_hz) if d else 48000)")
        try:
            out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=20)
            return int(out.stdout.strip().splitlines()[-1])
        except (subprocess.SubprocessError, ValueError, IndexError):
            return 48000

    # --- AudioBackend ---------------------------------------------------------------------------
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
        return self._on_device

    @property
    def input(self) -> InputPath | None:
        return self._input

    def start(self, render: RenderFn) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._spawn()
        self._thread = threading.Thread(target=self._pump, args=(render,), name="lmd-audio-pump", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._closed:
            return  # stopping twice (a test's own stop, then its fixture's) finds the memory already gone
        self._stop.set()
        if self._thread is not None:
            self._thread.join(3.0)
            self._thread = None
        self._kill_child(polite=True)
        self._last_lateness_ms = self.callback_lateness_ms()
        self._last_split = self.underflow_split()
        self._closed = True
        self._ring.close()
        if self._in is not None:
            self._in.close()

    def status(self) -> AudioStatus:
        latency = float(self._ring.floats[sr.OUTPUT_LATENCY_S]) if self._on_device else 0.0
        return AudioStatus("process" if self._on_device else "null", self._device_name, self._rate,
                           self._channels, self._frames, self._thread is not None, self._message,
                           self._reopen_attempts, latency + self._fill_frames / self._rate)

    def underflow_split(self) -> UnderflowSplit:
        """Where the device process's late buffers came from (kept after stop)."""
        if self._closed:
            return self._last_split
        ints = self._ring.ints
        return UnderflowSplit(handoff=int(ints[sr.UNDERFLOWS]), device=int(ints[sr.DEVICE_UNDERFLOWS]),
                              slow_callbacks=int(ints[sr.SLOW_CALLBACKS]), callbacks=int(ints[sr.CALLBACKS]))

    def callback_lateness_ms(self) -> np.ndarray:
        """Recent device-callback lateness samples (ms), measured in the device process."""
        if self._closed:
            return self._last_lateness_ms
        n = min(int(self._ring.ints[sr.LATE_COUNT]), sr.LATENESS_SLOTS)
        return self._ring.lateness_ms[:n].copy()

    # --- device process ---------------------------------------------------------------------------
    def _spawn(self) -> None:
        self._ring.ints[sr.STATE] = sr.STATE_STARTING
        self._ring.ints[sr.LATE_COUNT] = 0
        self._ring.ints[sr.READ_POS] = self._ring.ints[sr.WRITE_POS]  # start empty
        self._ring.ints[sr.MONITOR] = 0
        cmd = [sys.executable, "-m", "lmd_studio.audio.audio_child", "--shm", self._ring.name,
               "--capacity", str(self._ring.capacity_frames), "--channels", str(self._channels),
               "--rate", str(self._rate), "--buffer", str(self._frames), "--device", self._device]
        if self._in is not None:
            self._in.spawned(int(self._ring.ints[sr.READ_POS]))
            cmd += self._in.child_args()
        self._child = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                       stderr=subprocess.DEVNULL)
        self._child_started_s = time.monotonic()

    def _kill_child(self, polite: bool) -> None:
        child, self._child = self._child, None
        if child is None:
            return
        if polite and child.poll() is None:
            self._ring.ints[sr.STATE] = sr.STATE_STOPPED
            try:
                child.wait(2.0)
                return
            except subprocess.TimeoutExpired:
                pass
        child.kill()
        child.wait(5.0)

    def _child_state(self) -> str:
        """'running' | 'starting' | 'failed' from the child's flags, liveness and callback progress."""
        if self._child is None or self._child.poll() is not None:
            return "failed"
        state = int(self._ring.ints[sr.STATE])
        if state == sr.STATE_FAILED:
            return "failed"
        if state == sr.STATE_RUNNING:
            return "running"
        if time.monotonic() - self._child_started_s > self._start_timeout_s:
            return "failed"
        return "starting"

    # --- the pump -----------------------------------------------------------------------------------
    @staticmethod
    def _raise_thread_priority() -> None:
        """Best effort: the pump feeds the device, so it gets real-time priority where allowed (it sleeps
        most of the time: 1/4 buffer between checks, microseconds of work)."""
        with contextlib.suppress(AttributeError, PermissionError, OSError):
            os.sched_setscheduler(threading.get_native_id(), os.SCHED_FIFO, os.sched_param(10))

    def _pump(self, render: RenderFn) -> None:
        self._raise_thread_priority()
        period_s = self._frames / self._rate
        next_tick_s = time.perf_counter()
        last_try_s = time.monotonic()
        last_cb, last_cb_change_s = 0, time.monotonic()
        last_underflows = 0
        while not self._stop.is_set():
            state = self._child_state()
            now = time.monotonic()
            if self._on_device:
                callbacks = int(self._ring.ints[sr.CALLBACKS])
                if callbacks != last_cb:
                    last_cb, last_cb_change_s = callbacks, now
                if state != "running" or now - last_cb_change_s > self._stall_s:
                    self._message = "audio device lost: playing silently; generation and recording continue"
                    self._notify(self._message)
                    if self._in is not None:
                        self._in.lost("audio device lost")
                    self._device_name = "none (silent)"
                    self._on_device = False
                    self._kill_child(polite=False)
                    self._said_no_device = True  # retries that fail stay quiet
                    last_try_s = now
                    next_tick_s = time.perf_counter()
                    continue
                # keep the shared ring `fill` frames ahead of the device
                underflows = int(self._ring.ints[sr.UNDERFLOWS] + self._ring.ints[sr.DEVICE_UNDERFLOWS])
                while self._ring.readable_frames + self._frames <= self._fill_frames:
                    render(self._buf, underflows != last_underflows)
                    last_underflows = underflows
                    if self._input is not None:
                        self._input.click.apply(self._buf, self._rendered)
                    self._ring.write(self._buf)
                    self._rendered += self._frames
                if self._in is not None and self._input is not None:
                    self._in.pump(self._ring, callbacks, self._input.monitor_level)
                self._stop.wait(period_s / 4)
                continue
            # no device: the software clock drives the engine
            if state == "running":
                self._on_device = True
                if self._in is not None:
                    self._in.on_device(self._rendered, int(self._ring.ints[sr.WRITE_POS]),
                                       int(self._ring.ints[sr.CALLBACKS]))
                self._device_name = self._ring.get_message()
                self._message = ""
                self._said_no_device = False
                if self._reopen_attempts:
                    self._notify(f"audio device back: {self._device_name}")
                last_cb, last_cb_change_s = int(self._ring.ints[sr.CALLBACKS]), now
                last_underflows = int(self._ring.ints[sr.UNDERFLOWS] + self._ring.ints[sr.DEVICE_UNDERFLOWS])
                continue
            if state == "failed":
                if self._child is not None:
                    reason = self._ring.get_message() or "audio device unavailable"
                    self._kill_child(polite=False)
                    if not self._said_no_device:
                        self._message = f"{reason}: playing silently; generation and recording continue"
                        self._notify(self._message)
                        self._said_no_device = True
                if now - last_try_s >= self._reopen_every_s:
                    last_try_s = now
                    self._reopen_attempts += 1
                    self._spawn()
            render(self._buf, False)
            self._rendered += self._frames
            if self._input is not None:
                self._input.silence_to(self._rendered)
            next_tick_s += period_s
            delay = next_tick_s - time.perf_counter()
            if delay > 0:
                self._stop.wait(delay)
            elif delay < -0.5:
                next_tick_s = time.perf_counter()
