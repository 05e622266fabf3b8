"""Listing audio devices through PortAudio (sounddevice), and the name the studio has on a JACK server."""

from __future__ import annotations

import ctypes
import ctypes.util
from dataclasses import dataclass
from types import ModuleType

JACK_CLIENT_NAME = "LMD Studio"  # what JACK patchbays show instead of PortAudio's "PortAudio"
_client_name_keep: list[bytes] = []  # PortAudio keeps the pointer, not a copy


@dataclass(frozen=True, slots=True)
class AudioDeviceInfo:
    index: int
    name: str
    host_api: str
    max_output_channels: int
    max_input_channels: int
    default_sample_rate_hz: float
    is_default_output: bool


def load_sounddevice(refresh: bool = False) -> ModuleType:
    """Import sounddevice, or raise RuntimeError with the fix when PortAudio is missing.

    PortAudio enumerates devices once at initialisation; `refresh=True` re-initialises it so devices and
    servers that appeared since (a USB interface, a JACK server) are seen.
    """
    try:
        import sounddevice as sd
    except OSError as exc:  # libportaudio2 missing
        raise RuntimeError(f"PortAudio is not installed ({exc}); install it: sudo apt-get install libportaudio2") from None
    if refresh:
        sd._terminate()
        sd._initialize()
    return sd


def list_output_devices(refresh: bool = False) -> list[AudioDeviceInfo]:
    sd = load_sounddevice(refresh)
    apis = sd.query_hostapis()
    try:
        default_out = sd.default.device[1]
    except Exception:  # noqa: BLE001
        default_out = -1
    result = []
    for i, d in enumerate(sd.query_devices()):
        result.append(AudioDeviceInfo(
            index=i, name=str(d["name"]), host_api=str(apis[d["hostapi"]]["name"]),
            max_output_channels=int(d["max_output_channels"]), max_input_channels=int(d["max_input_channels"]),
            default_sample_rate_hz=float(d["default_samplerate"]), is_default_output=(i == default_out)))
    return result


def find_output_device(spec: str | int | None, refresh: bool = False) -> AudioDeviceInfo | None:
    """The device matching `spec` (index, or case-insensitive substring of name or host API); the
    default output when spec is None; None when nothing matches or there is no output device."""
    outputs = [d for d in list_output_devices(refresh) if d.max_output_channels > 0]
    if not outputs:
        return None
    if spec is None or spec == "":
        return next((d for d in outputs if d.is_default_output), outputs[0])
    if isinstance(spec, int) or (isinstance(spec, str) and spec.isdigit()):
        return next((d for d in outputs if d.index == int(spec)), None)
    needle = spec.lower()
    return next((d for d in outputs if needle in d.name.lower() or needle in d.host_api.lower()), None)


def find_input_device(spec: str | int | None, output: AudioDeviceInfo | None, channels: int,
                      refresh: bool = False) -> AudioDeviceInfo | None:
    """The input device for `spec` (index or case-insensitive part of the name or host API) with at least
    `channels` inputs; for no spec, the output device itself when it has them (one clock for both), else the
    system's default input. None when nothing fits."""
    devices = list_output_devices(refresh)
    inputs = [d for d in devices if d.max_input_channels >= channels]
    if spec is None or spec == "":
        if output is not None and output.max_input_channels >= channels:
            return output
        sd = load_sounddevice()
        try:
            default_in = int(sd.default.device[0])
        except Exception:  # noqa: BLE001 — no default input
            default_in = -1
        return next((d for d in inputs if d.index == default_in), inputs[0] if inputs else None)
    if isinstance(spec, int) or (isinstance(spec, str) and spec.isdigit()):
        return next((d for d in inputs if d.index == int(spec)), None)
    needle = spec.lower()
    return next((d for d in inputs if needle in d.name.lower() or needle in d.host_api.lower()), None)


def set_jack_client_name(name: str = JACK_CLIENT_NAME) -> bool:
    """Make PortAudio's JACK client (opened when PortAudio initialises) appear as `name`; re-initialises
    PortAudio, so call it before opening streams. False where PortAudio has no JACK support."""
    sd = load_sounddevice()
    path = ctypes.util.find_library("portaudio") or "libportaudio.so.2"
    try:
        lib = ctypes.CDLL(path)
        setter = lib.PaJack_SetClientName
    except (OSError, AttributeError):
        return False
    raw = name.encode("utf-8")
    _client_name_keep.append(raw)
    if setter(ctypes.c_char_p(raw)) != 0:
        return False
    sd._terminate()
    sd._initialize()
    return True
