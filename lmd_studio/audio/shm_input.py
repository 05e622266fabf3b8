"""The parent's side of the audio input from the device process (ProcessAudioBackend's pump thread).

The device process writes each period's input into a shared block at the output ring position that period
played (audio_child.py). This drains it into the engine's InputTap: ring position x was rendered by the pump
at output position x + `offset` (fixed for one device process: the pump writes one buffer per render while
on the device), so the input goes to `InputPath.place(x + offset, …)`. Positions also tell when the pump
fell so far behind that the child overwrote frames it had not taken yet: an input overrun, counted.
"""

from __future__ import annotations

import numpy as np

from lmd_studio.audio import shm_ring as sr
from lmd_studio.audio.input_path import InputPath
from lmd_studio.core.units import next_power_of_two

_CHUNK_FRAMES = 4096  # frames copied per step (the tap's default write limit is 8192)
_SETTLE_CALLBACKS = 4  # wait this many device periods for the reported latency before taking input


def monitor_word(level: float) -> int:
    """The monitor level (0..1) as the shared-memory word the device process reads: thousandths, 0 = off.
    A level on but under half a thousandth rounds to off, which sounds the same."""
    return int(round(min(1.0, max(0.0, level)) * 1000.0))


class ShmInputPump:
    def __init__(self, path: InputPath, sample_rate_hz: int, buffer_frames: int, fill_frames: int) -> None:
        self.path = path
        self._rate = int(sample_rate_hz)
        self._guard = int(buffer_frames)  # the child may be writing one buffer past the published end
        capacity = next_power_of_two(max(65536, 16 * fill_frames))
        self.ring = sr.ShmAudioRing(capacity, path.config.channel_count)
        self._buf = np.zeros((_CHUNK_FRAMES, path.config.channel_count), np.float32)
        self._read = 0
        self._offset = 0
        self._overflows_before = 0
        self._callbacks_at_start = 0
        self._said = ""

    def child_args(self) -> list[str]:
        cfg = self.path.config
        return ["--in-shm", self.ring.name, "--in-capacity", str(self.ring.capacity_frames),
                "--in-channels", ",".join(str(c) for c in cfg.channels), "--in-device", cfg.device]

    def spawned(self, ring_position: int) -> None:
        """A new device process starts reading the output ring at `ring_position`."""
        self.path.device_overflows = self._overflows_before = self.path.device_overflows
        ints = self.ring.ints
        ints[sr.STATE] = sr.STATE_STARTING
        ints[sr.IN_DEVICE_OVERFLOWS] = 0
        ints[sr.IN_UNPLAYED_FRAMES] = 0
        self.ring.floats[sr.IN_ROUNDTRIP_S] = 0.0
        self.ring.floats[sr.IN_STREAM_LATENCY_S] = 0.0
        ints[sr.WRITE_POS] = ring_position
        self._read = ring_position
        self._said = ""

    def on_device(self, render_position: int, ring_write_position: int, callbacks: int) -> None:
        """The pump starts writing the output ring at `ring_write_position` for render `render_position`
        (`callbacks`: the device's callback count now)."""
        self._offset = render_position - ring_write_position
        self._callbacks_at_start = callbacks

    def lost(self, message: str) -> None:
        if self.path.running:
            self.path.closed(message)

    def pump(self, out_ring: sr.ShmAudioRing, callbacks: int, monitor_level: float) -> None:
        """On the device: pass the monitor level down (InputPath.monitor_level: 0 = off), take the input that
        arrived (or, without input, move the tap on with silence up to what has played)."""
        out_ring.ints[sr.MONITOR] = monitor_word(monitor_level)
        path = self.path
        state = int(self.ring.ints[sr.STATE])
        if state == sr.STATE_FAILED:
            message = self.ring.get_message() or "input unavailable"
            if message != self._said:
                path.closed(message)
                self._said = message
            path.silence_to(int(out_ring.ints[sr.READ_POS]) + self._offset)
            return
        if state != sr.STATE_RUNNING:
            return
        if not path.running:
            if callbacks - self._callbacks_at_start < _SETTLE_CALLBACKS:
                return  # the input waits in the shared block until the device reported its latency
            path.opened(self.ring.get_message(), self._reported_frames())
        path.device_overflows = self._overflows_before + int(self.ring.ints[sr.IN_DEVICE_OVERFLOWS])
        self._drain()

    def _reported_frames(self) -> int:
        """The device's round trip: output DAC time − input ADC time of one period (exact on JACK), else
        PortAudio's stream latencies."""
        seconds = float(self.ring.floats[sr.IN_ROUNDTRIP_S])
        if seconds <= 0.0:
            seconds = float(self.ring.floats[sr.IN_STREAM_LATENCY_S])
        return int(round(seconds * self._rate))

    def _drain(self) -> None:
        path, ring = self.path, self.ring
        end = int(ring.ints[sr.WRITE_POS])
        keep = ring.capacity_frames - self._guard
        if end - self._read > keep:  # lapped: the oldest of it is gone already
            path.overruns += 1
            path.overrun_frames += end - keep - self._read
            self._read = end - keep
        while self._read < end:
            n = min(end - self._read, _CHUNK_FRAMES)
            chunk = self._buf[:n]
            lost = ring.copy_at(self._read, chunk, self._guard)
            if lost:
                path.overruns += 1
                path.overrun_frames += lost
            path.place(self._read + self._offset, chunk)
            self._read += n

    def close(self) -> None:
        self.ring.close()
