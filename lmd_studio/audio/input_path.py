"""The audio input on the backend side: what was asked for (`InputConfig`), what the backend reports
(`InputStatus`), and `InputPath`, the state a backend shares with the engine while input runs.

Every backend (the device process, the in-process stream, the Null clock with a fake input) does the same
per buffer: it renders output position x, and the input frames captured in that same device period are
placed into the engine's InputTap at `x - roundtrip_frames` (`place`); with no input device it moves the
tap on with silence (`silence_to`). `roundtrip_frames` is what the device reports (its input plus output
latency) plus `correction_frames`, measured by a loopback calibration (calibration.py): what no driver
reports, such as a converter's delay or a JACK graph's extra period, is taken out by that.

Threads: `place`/`silence_to`/`click.apply` run on the backend's audio thread or pump; the engine side
reads `status()` and sets `monitoring`, `monitor_gain` and `correction_frames` (plain stores, read once per
buffer).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lmd_studio.rt.input_tap import InputTap

MAX_INPUT_CHANNEL = 64


@dataclass(frozen=True, slots=True)
class InputConfig:
    device: str = ""  # "" = the output device when it has inputs, else the system's default input
    channels: tuple[int, ...] = (1, 2)  # device channels, 1-based: one (mono) or two (stereo)
    monitoring: bool = False  # hear the input through the output
    latency_correction_frames: int = 0  # from a loopback calibration, added to the reported round trip
    history_s: float = 20.0  # how much aligned input the engine can read back

    def __post_init__(self) -> None:
        if len(self.channels) not in (1, 2) or len(set(self.channels)) != len(self.channels) or not all(
                1 <= c <= MAX_INPUT_CHANNEL for c in self.channels):
            raise ValueError(f"input channels: one or two different device channels in 1..{MAX_INPUT_CHANNEL}, "
                             f"got {self.channels}")
        if not -192000 <= self.latency_correction_frames <= 192000:
            raise ValueError(f"latency_correction_frames out of range: {self.latency_correction_frames}")
        if not 1.0 <= self.history_s <= 600.0:
            raise ValueError(f"history_s must be in [1, 600], got {self.history_s}")

    @property
    def channel_count(self) -> int:
        return len(self.channels)

    @property
    def open_channels(self) -> int:
        """Channels to open on the device: up to the highest one chosen."""
        return max(self.channels)

    @property
    def columns(self) -> tuple[int, ...]:
        """0-based columns of the chosen channels in the device's input buffer."""
        return tuple(c - 1 for c in self.channels)


@dataclass(frozen=True, slots=True)
class InputStatus:
    running: bool  # input frames arrive from a device now
    device_name: str
    channels: tuple[int, ...]
    sample_rate_hz: int
    message: str  # why there is no input ("" when running)
    monitoring: bool
    reported_roundtrip_frames: int  # the device's input + output latency
    correction_frames: int  # measured by calibration
    overruns: int  # times input frames were lost before the engine took them (the `input_overruns` figure)
    overrun_frames: int
    device_overflows: int  # periods the device itself reported an input overflow

    @property
    def roundtrip_frames(self) -> int:
        return self.reported_roundtrip_frames + self.correction_frames

    @property
    def roundtrip_ms(self) -> float:
        return 1000.0 * self.roundtrip_frames / self.sample_rate_hz


class ClickInjector:
    """Replaces the output with a test click for calibration: armed from any thread, started at the next
    buffer the audio thread renders; `start_position` then says at which output position it began."""

    __slots__ = ("_click", "_armed", "start_position")

    def __init__(self) -> None:
        self._click: np.ndarray | None = None
        self._armed = False
        self.start_position = -1

    def arm(self, click: np.ndarray) -> None:
        """Play `click` (mono float32) on every output channel from the next buffer on."""
        self.start_position = -1
        self._click = np.ascontiguousarray(click, np.float32)
        self._armed = True

    def apply(self, out: np.ndarray, output_position: int) -> None:
        """Audio thread: write the part of the click that falls into `out` (output positions
        [output_position, output_position + len(out)))."""
        click = self._click
        if click is None:
            return
        if self._armed:
            self.start_position = output_position
            self._armed = False
        s = self.start_position
        a = s if s > output_position else output_position
        b = min(s + click.shape[0], output_position + out.shape[0])
        if b > a:
            out[a - output_position:b - output_position] = click[a - s:b - s, None]
        if b >= s + click.shape[0]:
            self._click = None


class InputPath:
    """The input's shared state between one backend and the engine (see the module docstring)."""

    def __init__(self, config: InputConfig, tap: InputTap, sample_rate_hz: int) -> None:
        if tap.channels != config.channel_count:
            raise ValueError(f"input tap has {tap.channels} channels, the input {config.channel_count}")
        self.config = config
        self.tap = tap
        self.sample_rate_hz = int(sample_rate_hz)
        self.monitoring = config.monitoring  # the engine side flips it; the audio side follows within a buffer
        # the monitor's level while monitoring is on (the Dry of generative delay's Dry/Wet; 1 otherwise)
        self.monitor_gain = 1.0
        self.correction_frames = config.latency_correction_frames
        self.reported_roundtrip_frames = 0
        self.click = ClickInjector()
        self.running = False
        self.device_name = "none"
        self.message = "input not opened yet"
        self.overruns = 0
        self.overrun_frames = 0
        self.device_overflows = 0

    @staticmethod
    def make(config: InputConfig, sample_rate_hz: int, max_buffer_frames: int = 8192) -> InputPath:
        """A path with a fresh tap holding `config.history_s` of input."""
        tap = InputTap(max(int(config.history_s * sample_rate_hz), 2 * max_buffer_frames), config.channel_count,
                       max_write_frames=max_buffer_frames)
        return InputPath(config, tap, sample_rate_hz)

    @property
    def roundtrip_frames(self) -> int:
        return self.reported_roundtrip_frames + self.correction_frames

    # --- backend side ------------------------------------------------------------------------------------
    def opened(self, device_name: str, reported_roundtrip_frames: int) -> None:
        self.device_name = device_name
        self.reported_roundtrip_frames = int(reported_roundtrip_frames)
        self.message = ""
        self.running = True

    def closed(self, message: str) -> None:
        self.running = False
        self.device_name = "none"
        self.message = message

    def place(self, output_position: int, frames: np.ndarray) -> None:
        """Input captured while output positions [output_position, +len(frames)) left the device."""
        self.tap.write(output_position - self.roundtrip_frames, frames)

    def silence_to(self, output_position: int) -> None:
        """No input up to the output rendered so far: the tap moves on with silence."""
        self.tap.fill_silence_to(output_position - self.roundtrip_frames)

    @property
    def monitor_level(self) -> float:
        """The gain the input is heard at through the output: `monitor_gain` while monitoring, else 0."""
        return min(1.0, max(0.0, self.monitor_gain)) if self.monitoring else 0.0

    # --- engine side ---------------------------------------------------------------------------------------
    def status(self) -> InputStatus:
        return InputStatus(self.running, self.device_name, self.config.channels, self.sample_rate_hz,
                           self.message, self.monitoring, self.reported_roundtrip_frames, self.correction_frames,
                           self.overruns, self.overrun_frames, self.device_overflows)
