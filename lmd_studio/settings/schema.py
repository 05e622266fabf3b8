"""The typed settings: frozen dataclasses validated on construction, plus dict conversion for the file.

`settings_from_dict` is the only place a settings dict is read: it checks every value's type and range
and raises `UserFileError` naming the file and the key. Unknown keys are ignored (a newer minor version
may add some); missing keys take their defaults.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lmd_studio.core.musical_clock import QUANTISE_CHOICES
from lmd_studio.settings.jsonfile import UserFileError

SCHEMA_VERSION = 2
BUFFER_FRAMES_CHOICES = (64, 128, 256, 512, 1024, 2048, 4096)
SAMPLE_RATE_CHOICES_HZ = (0, 44100, 48000, 88200, 96000)  # 0 = the device's own rate
RECORD_FORMATS = ("wav", "flac")
THEMES = ("dark", "stage")
AUDIO_BACKENDS = ("auto", "null")
# MidiSettings.backend: mido backend names (any other module path works too), with their labels
MIDI_BACKEND_CHOICES = (
    ("", "Automatic (JACK MIDI when the audio runs through JACK)"),
    ("mido.backends.rtmidi", "System MIDI (ALSA, CoreMIDI, Windows)"),
    ("mido.backends.rtmidi/UNIX_JACK", "JACK MIDI"),
)
MAX_PROMPT_SLOTS = 8
MAX_INPUT_CHANNEL = 64
# audio settings applied to the running input without restarting the audio engine
LIVE_AUDIO_FIELDS = ("input_monitoring", "input_latency_correction_frames")


@dataclass(frozen=True, slots=True)
class AudioSettings:
    backend: str = "auto"  # "auto": the sound device (falls back to a silent clock); "null": always silent
    device: str = ""  # "" = the system's default output; else an index or part of the name
    sample_rate_hz: int = 0
    buffer_frames: int = 256
    input_enabled: bool = False  # the audio input (jam, generative delay, input tracks in takes)
    input_device: str = ""  # "" = the output device when it has inputs, else the default input
    input_channels: tuple[int, ...] = (1,)  # device channels, 1-based: one (mono) or two (stereo)
    input_monitoring: bool = False  # hear the input through the output
    input_latency_correction_frames: int = 0  # measured by a loopback calibration (`lmd devices --calibrate`)

    def __post_init__(self) -> None:
        if len(self.input_channels) not in (1, 2) or len(set(self.input_channels)) != len(self.input_channels) or not all(
                isinstance(c, int) and 1 <= c <= MAX_INPUT_CHANNEL for c in self.input_channels):
            raise ValueError(f"audio.input_channels: one or two different channels in 1..{MAX_INPUT_CHANNEL}, "
                             f"got {list(self.input_channels)}")
        if not -192000 <= self.input_latency_correction_frames <= 192000:
            raise ValueError(f"audio.input_latency_correction_frames must be within ±192000, "
                             f"got {self.input_latency_correction_frames}")
        if self.backend not in AUDIO_BACKENDS:
            raise ValueError(f"audio.backend must be one of {AUDIO_BACKENDS}, got {self.backend!r}")
        if self.sample_rate_hz not in SAMPLE_RATE_CHOICES_HZ:
            raise ValueError(f"audio.sample_rate_hz must be one of {SAMPLE_RATE_CHOICES_HZ}, got {self.sample_rate_hz}")
        if self.buffer_frames not in BUFFER_FRAMES_CHOICES:
            raise ValueError(f"audio.buffer_frames must be one of {BUFFER_FRAMES_CHOICES}, got {self.buffer_frames}")


@dataclass(frozen=True, slots=True)
class MidiSettings:
    enabled: bool = True
    backend: str = ""  # "" = automatic; else a mido backend (MIDI_BACKEND_CHOICES), applied without restart
    inputs: tuple[str, ...] = ()  # port names to open; () = none chosen yet
    follow_clock: bool = True
    transport_from_midi: bool = False  # MIDI start/stop drive play/stop
    clock_out: bool = False  # send MIDI clock + transport on the virtual output "LMD Studio Clock"
    link: bool = False  # Ableton Link: tempo and phase with apps on the local network (opt-in: it talks on it)


@dataclass(frozen=True, slots=True)
class PromptEntry:
    text: str = ""
    weight: float = 1.0
    enabled: bool = True

    def __post_init__(self) -> None:
        if not 0.0 <= self.weight <= 1.0:
            raise ValueError(f"prompt weight must be in [0, 1], got {self.weight}")
        if len(self.text) > 500:
            raise ValueError(f"prompt text longer than 500 characters ({len(self.text)})")


@dataclass(frozen=True, slots=True)
class StudioSettings:
    schema_version: int = SCHEMA_VERSION
    audio: AudioSettings = field(default_factory=AudioSettings)
    midi: MidiSettings = field(default_factory=MidiSettings)
    model: str = ""  # "" = the default model (or test tones until it is trained); "fake"; a folder
    adapter: str = ""  # LoRA adapter file, "" = none
    adapter_strength: float = 1.0
    # 1, not 2: the default model's small matmuls gain nothing from a second OpenMP thread and pay for the
    # hand-offs (`lmd bench model` on the idle VM: block-causal 52.5 ms/block wall clock with 2 threads,
    # 23.4 ms CPU time with `--threads 1 --clock cpu`; full step RTF 0.090 vs 0.058), and the other core
    # stays free for the GUI and the audio pump.
    torch_threads: int = 1
    recordings_dir: str = ""  # "" = StudioPaths.recordings_dir
    record_format: str = "wav"
    theme: str = "dark"
    safe_mode: bool = True
    volume_db: float = -6.0
    morph_s: float = 2.0  # prompt and scene morph time
    # where changes to the knobs, the prompt mix and scene recalls land while a tempo is set: "off" (at once),
    # "beat" or "bar" (the next line the engine can still splice on); a change made with Shift held lands at once
    quantise: str = "bar"
    timeline_span_s: float = 16.0  # visible width of the timeline
    # memory for the generator states kept to rewind (engine/state_history.py): how far back "play from
    # here again" reaches — ~1.8 min of the shipped model at 128 MB, ~35 s of Model v2
    rewind_memory_mb: int = 128
    spectrogram: bool = False
    prompts: tuple[PromptEntry, ...] = ()  # the mix as it was when the app last closed
    params: tuple[tuple[str, float], ...] = ()  # knob values as they were (names the model lacks are kept)
    auto_params: tuple[str, ...] = ()  # controls left to the model
    first_run_done: bool = False

    def __post_init__(self) -> None:
        if self.schema_version != SCHEMA_VERSION:
            raise ValueError(f"schema_version must be {SCHEMA_VERSION} after migration, got {self.schema_version}")
        if not 1 <= self.torch_threads <= 64:
            raise ValueError(f"torch_threads must be in 1..64, got {self.torch_threads}")
        if self.record_format not in RECORD_FORMATS:
            raise ValueError(f"record_format must be one of {RECORD_FORMATS}, got {self.record_format!r}")
        if self.theme not in THEMES:
            raise ValueError(f"theme must be one of {THEMES}, got {self.theme!r}")
        if not 0.0 <= self.adapter_strength <= 2.0:
            raise ValueError(f"adapter_strength must be in [0, 2], got {self.adapter_strength}")
        if not -60.0 <= self.volume_db <= 6.0:
            raise ValueError(f"volume_db must be in [-60, 6], got {self.volume_db}")
        if self.quantise not in QUANTISE_CHOICES:
            raise ValueError(f"quantise must be one of {QUANTISE_CHOICES}, got {self.quantise!r}")
        if not 0.0 <= self.morph_s <= 60.0:
            raise ValueError(f"morph_s must be in [0, 60] s, got {self.morph_s}")
        if not 16 <= self.rewind_memory_mb <= 4096:
            raise ValueError(f"rewind_memory_mb must be in 16..4096, got {self.rewind_memory_mb}")
        if not 2.0 <= self.timeline_span_s <= 600.0:
            raise ValueError(f"timeline_span_s must be in [2, 600] s, got {self.timeline_span_s}")
        if len(self.prompts) > MAX_PROMPT_SLOTS:
            raise ValueError(f"at most {MAX_PROMPT_SLOTS} prompts, got {len(self.prompts)}")
        for name, value in self.params:
            if not name.isidentifier() or not math.isfinite(value):
                raise ValueError(f"params: bad entry {name!r}={value!r}")

    def recordings_path(self, default: Path) -> Path:
        return Path(self.recordings_dir).expanduser() if self.recordings_dir.strip() else default


def audio_needs_restart(old: AudioSettings, new: AudioSettings) -> bool:
    """Whether going from `old` to `new` needs the audio engine rebuilt (LIVE_AUDIO_FIELDS apply as it runs)."""
    return any(getattr(old, f.name) != getattr(new, f.name) for f in dataclasses.fields(AudioSettings)
               if f.name not in LIVE_AUDIO_FIELDS)


def settings_to_dict(settings: StudioSettings) -> dict[str, Any]:
    data = dataclasses.asdict(settings)
    data["audio"]["input_channels"] = list(settings.audio.input_channels)
    data["midi"]["inputs"] = list(settings.midi.inputs)
    data["prompts"] = [dataclasses.asdict(p) for p in settings.prompts]
    data["params"] = {name: value for name, value in settings.params}
    data["auto_params"] = list(settings.auto_params)
    return data


def _coerce(value: Any, default: Any, where: str) -> Any:
    """`value` checked against the type of `default` (ints are accepted where floats are expected)."""
    if isinstance(default, bool):
        if isinstance(value, bool):
            return value
        raise ValueError(f"{where}: expected true/false, got {value!r}")
    if isinstance(default, int):
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise ValueError(f"{where}: expected a whole number, got {value!r}")
    if isinstance(default, float):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        raise ValueError(f"{where}: expected a number, got {value!r}")
    if isinstance(default, str):
        if isinstance(value, str):
            return value
        raise ValueError(f"{where}: expected text, got {value!r}")
    raise TypeError(f"{where}: unsupported settings field type {type(default).__name__}")


def _build(cls: type, data: Any, where: str, special: dict[str, Any] | None = None) -> Any:
    if not isinstance(data, dict):
        raise ValueError(f"{where or 'settings'}: expected an object, got {type(data).__name__}")
    defaults = cls()
    kwargs: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if f.name not in data:
            continue
        key = f"{where}.{f.name}" if where else f.name
        if special and f.name in special:
            kwargs[f.name] = special[f.name](data[f.name], key)
        else:
            kwargs[f.name] = _coerce(data[f.name], getattr(defaults, f.name), key)
    try:
        return cls(**kwargs)
    except ValueError as exc:
        raise ValueError(f"{where + ': ' if where else ''}{exc}") from exc


def _str_tuple(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{where}: expected a list of names, got {value!r}")
    return tuple(value)


def _channel_list(value: Any, where: str) -> tuple[int, ...]:
    if not isinstance(value, list) or not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        raise ValueError(f"{where}: expected a list of channel numbers like [1] or [1, 2], got {value!r}")
    return tuple(value)


def _prompts(value: Any, where: str) -> tuple[PromptEntry, ...]:
    if not isinstance(value, list):
        raise ValueError(f"{where}: expected a list of prompts, got {value!r}")
    out = []
    for i, item in enumerate(value):
        if not isinstance(item, dict) or not isinstance(item.get("text"), str):
            raise ValueError(f"{where}[{i}]: expected {{'text': ..., 'weight': ..., 'enabled': ...}}, got {item!r}")
        out.append(_build(PromptEntry, item, f"{where}[{i}]"))
    return tuple(out)


def _params(value: Any, where: str) -> tuple[tuple[str, float], ...]:
    if not isinstance(value, dict) or not all(
            isinstance(k, str) and isinstance(v, (int, float)) and not isinstance(v, bool) for k, v in value.items()):
        raise ValueError(f"{where}: expected an object of name: number, got {value!r}")
    return tuple((k, float(v)) for k, v in value.items())


def settings_from_dict(data: dict[str, Any], source: Path | str = "settings") -> StudioSettings:
    """Validated settings from an already-migrated dict; UserFileError naming `source` and the key."""
    try:
        return _build(StudioSettings, data, "", special={
            "audio": lambda v, k: _build(AudioSettings, v, k, special={"input_channels": _channel_list}),
            "midi": lambda v, k: _build(MidiSettings, v, k, special={"inputs": _str_tuple}),
            "prompts": _prompts,
            "params": _params,
            "auto_params": _str_tuple,
        })
    except ValueError as exc:
        raise UserFileError(f"{source}: {exc}") from exc
