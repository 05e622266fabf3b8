"""Which MIDI backend, from where the audio runs, and what to tell the player when MIDI cannot open.

Which MIDI backend: the settings' (or $MIDO_BACKEND); else JACK MIDI when the audio runs through JACK —
decided from the audio device the backend opened (PortAudio's host API "JACK Audio Connection Kit"), or,
for the default device, from a JACK server answering — else the system's (ALSA on Linux). A backend that
cannot open becomes one banner saying what is wrong and how to fix it (`midi_off_message`).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from lmd_studio.core.jack_server import jack_server_running
from lmd_studio.midi import JACK_BACKEND

JACK_HOST_API = "JACK Audio Connection Kit"  # PortAudio's name for it; devices read "NAME (HOST API)"
ALSA_SEQUENCER = Path("/dev/snd/seq")
SYSTEM_BACKEND = "mido.backends.rtmidi"  # mido's default: rtmidi's ALSA / CoreMIDI / WinMM
MIDI_SETTINGS_ACTION = "midi_settings"  # a Notice action: open Settings → MIDI


@dataclass(frozen=True, slots=True)
class AudioRoute:
    """Where the audio goes, as far as choosing a MIDI backend is concerned."""

    backend: str = "null"  # AudioSettings.backend: "auto" (a sound device) | "null" (silent)
    device_setting: str = ""  # AudioSettings.device: "" or "default" = the system's default output
    opened: str = ""  # the device in use, as the audio backend reports it ("NAME (HOST API)"); "" or
    #                   "none (silent)" while none is open


@dataclass(frozen=True, slots=True)
class MidiHost:
    """Questions about this machine's MIDI plumbing, asked only when needed (tests answer them)."""

    jack_running: Callable[[], bool] = jack_server_running
    alsa_sequencer: Callable[[], bool] = ALSA_SEQUENCER.exists
    platform: str = sys.platform


def audio_runs_on_jack(route: AudioRoute, jack_running: Callable[[], bool]) -> bool:
    """Whether the audio goes through JACK: the opened device is on PortAudio's JACK host API, or the
    audio uses the default device while a JACK server runs. (The device *setting* says nothing: it is
    usually empty.) `jack_running` is asked only in the second case."""
    if route.backend == "null":
        return False
    if JACK_HOST_API.lower() in route.opened.lower():
        return True
    return route.device_setting.strip().lower() in ("", "default") and jack_running()


def midi_off_message(backend: str, error: str, host: MidiHost) -> str:
    """One sentence for the banner: what is wrong with MIDI and how to fix it (the raw error only when
    there is nothing better to say)."""
    fix = "Choose another MIDI backend in Settings → MIDI"
    if backend == JACK_BACKEND and not host.jack_running():
        return (f"MIDI is off: JACK MIDI needs a running JACK server and none answers. Start JACK "
                f"(e.g. with QjackCtl), or {fix[0].lower()}{fix[1:]}.")
    if backend == SYSTEM_BACKEND and host.platform.startswith("linux") and not host.alsa_sequencer():
        jack = ("A JACK server is running: choose JACK MIDI in Settings → MIDI" if host.jack_running()
                else "Choose JACK MIDI in Settings → MIDI (with a JACK server running)")
        return (f"MIDI is off: this system has no ALSA sequencer ({ALSA_SEQUENCER}). {jack}, or load the "
                f"snd-seq module (sudo modprobe snd-seq) and restart LMD Studio.")
    return f"MIDI is off: {error.rstrip('.')}. {fix}."


def backend_label(backend: str) -> str:
    return {JACK_BACKEND: "JACK MIDI", SYSTEM_BACKEND: "system MIDI"}.get(backend, backend)
