"""One banner when no audio output works: the studio plays on, on its own clock, and says what to do.

The audio backends never stop the studio for a missing, busy or vanished device: they fall back to a
software clock that drives the engine silently (generation, the timeline, takes and captures go on) and
keep trying the device. The status line's device field shows their message; this turns its first
appearance into one banner a newcomer understands, with a button to the audio settings. It is said once per
outage: the device coming back (the message clears) lets a later loss be said again.
"""

from __future__ import annotations

import platform
from collections.abc import Callable

AUDIO_SETTINGS_ACTION = "audio_settings"  # a Notice action: open Settings → Audio
_SILENT_SUFFIX = ": playing silently"  # how the backends end their fallback messages


def no_sound_text(reason: str, system: str | None = None) -> str:
    """The banner for an audio fallback whose backend message is `reason`."""
    cause = reason.split(_SILENT_SUFFIX, 1)[0].strip() or "no audio output works"
    hint = (" (on Linux one of PipeWire, PulseAudio or JACK must be running)"
            if (system or platform.system()) == "Linux" else "")
    return (f"No sound: {cause}. LMD Studio keeps playing on its own clock, silently — the timeline and "
            f"recording go on. Connect headphones or speakers, or choose an output in Audio settings{hint}.")


class NoSoundNotice:
    """Call `check(message)` with the audio status's message each tick."""

    def __init__(self, notify: Callable[..., None], system: str | None = None) -> None:
        self._notify = notify
        self._system = system
        self._said = False

    def check(self, message: str) -> None:
        if not message:
            self._said = False  # the device is back (or never left)
            return
        if not self._said:
            self._said = True
            self._notify("warning", no_sound_text(message, self._system), action=AUDIO_SETTINGS_ACTION)
