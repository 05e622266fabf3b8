"""The mido backend: which one (settings, MIDO_BACKEND, JACK), listing ports cheaply, opening inputs.

Backend names are mido's: "mido.backends.rtmidi" (mido's default; rtmidi picks ALSA/CoreMIDI/WinMM),
"mido.backends.rtmidi/UNIX_JACK" (through a JACK server: the only rtmidi API that works on machines
without an ALSA sequencer), or any module path with mido's backend interface (tests use an in-process
one). Listing through mido's rtmidi backend creates and destroys two MIDI clients per call (≈ 40 ms and
two JACK graph changes each time under JACK), so for rtmidi backends we keep one port-less rtmidi client
for listing. Gotcha: mido's rtmidi backend turns any port opened with `client_name=` into a virtual port,
so only the virtual input is opened with a client name.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any

import mido
import rtmidi

from lmd_studio.midi.rtmidi_poll import RtmidiPoller

MIDO_DEFAULT_BACKEND = "mido.backends.rtmidi"
JACK_BACKEND = "mido.backends.rtmidi/UNIX_JACK"
_RTMIDI_MODULE = "mido.backends.rtmidi"


class MidiBackendError(RuntimeError):
    """The MIDI backend cannot be loaded or used; the message says which backend and why."""


def resolve_backend_name(setting: str | None = None, *, use_jack: bool = False,
                         environ: Mapping[str, str] | None = None) -> str:
    """The backend to use: the settings value if given, else $MIDO_BACKEND, else rtmidi's JACK API when
    the app runs its audio through JACK, else mido's default."""
    env = os.environ if environ is None else environ
    if setting and setting.strip():
        return setting.strip()
    if env.get("MIDO_BACKEND", "").strip():
        return env["MIDO_BACKEND"].strip()
    return JACK_BACKEND if use_jack else MIDO_DEFAULT_BACKEND


class _RtmidiLister:
    """One rtmidi client without ports, kept open, for cheap live port listing."""

    def __init__(self, api_name: str | None) -> None:
        api = getattr(rtmidi, f"API_{api_name}") if api_name else rtmidi.API_UNSPECIFIED
        self._in = rtmidi.MidiIn(rtapi=api)
        try:
            self._out = rtmidi.MidiOut(rtapi=self._in.get_current_api())
        except BaseException:
            self._in.delete()
            raise
        names = {getattr(rtmidi, n): n[4:] for n in dir(rtmidi) if n.startswith("API_")}
        self.api: int = self._in.get_current_api()
        self.api_name: str = names[self.api]

    def inputs(self) -> list[str]:
        return list(self._in.get_ports())

    def outputs(self) -> list[str]:
        return list(self._out.get_ports())

    def close(self) -> None:
        self._in.delete()
        self._out.delete()


class MidiBackend:
    """A loaded mido backend. Every failure surfaces as MidiBackendError naming the backend.

    `rtmidi_poll_interval_s`: for rtmidi backends, inputs are read by a polling thread at this interval
    (see rtmidi_poll: no Python runs in the MIDI system's thread); None uses mido's callbacks instead.
    """

    def __init__(self, name: str | None = None, rtmidi_poll_interval_s: float | None = 0.001) -> None:
        name = resolve_backend_name(name)
        self._backend = mido.Backend(name, use_environ=False)
        self._lister: _RtmidiLister | None = None
        self._poller: RtmidiPoller | None = None
        try:
            self._backend.load()
            if self._backend.name == _RTMIDI_MODULE:
                self._lister = _RtmidiLister(self._backend.api)
                # pin rtmidi's choice so the ports we open live where we list them
                self._backend.api = self._lister.api_name
                if rtmidi_poll_interval_s is not None:
                    self._poller = RtmidiPoller(self._lister.api, rtmidi_poll_interval_s)
        except (ImportError, OSError, AttributeError, ValueError) as exc:
            raise MidiBackendError(f"MIDI backend {name!r} is unavailable: {exc}") from exc
        self.name = name

    @property
    def api(self) -> str | None:
        return self._backend.api

    def input_names(self) -> tuple[str, ...]:
        """Ports we can listen to (other programs' and devices' outputs)."""
        try:
            if self._lister is not None:
                return tuple(self._lister.inputs())
            return tuple(self._backend.get_input_names())
        except (OSError, RuntimeError) as exc:
            raise MidiBackendError(f"MIDI backend {self.name!r}: cannot list inputs: {exc}") from exc

    def output_names(self) -> tuple[str, ...]:
        try:
            if self._lister is not None:
                return tuple(self._lister.outputs())
            return tuple(self._backend.get_output_names())
        except (OSError, RuntimeError) as exc:
            raise MidiBackendError(f"MIDI backend {self.name!r}: cannot list outputs: {exc}") from exc

    def open_input(self, name: str, callback: Callable[[Any], None]) -> Any:
        try:
            if self._poller is not None:
                return self._poller.open(name, callback)
            return self._backend.open_input(name, callback=callback)
        except (OSError, RuntimeError, ValueError) as exc:
            raise MidiBackendError(f"cannot open MIDI input {name!r}: {exc}") from exc

    def open_virtual_input(self, name: str, callback: Callable[[Any], None]) -> Any:
        """A port other programs can send to. Raises MidiBackendError where the backend has none
        (rtmidi on Windows)."""
        try:
            if self._poller is not None:
                return self._poller.open_virtual(name, callback)
            return self._backend.open_input(name, virtual=True, callback=callback, client_name=name)
        except (OSError, RuntimeError, ValueError, NotImplementedError, TypeError) as exc:
            raise MidiBackendError(f"MIDI backend {self.name!r} cannot open a virtual input {name!r}: "
                                   f"{exc}") from exc

    def open_output(self, name: str | None = None, *, virtual: bool = False) -> Any:
        """An output port (the scripted player and tests use it; the studio itself only listens)."""
        try:
            if virtual:
                return self._backend.open_output(name, virtual=True, client_name=name)
            return self._backend.open_output(name)
        except (OSError, RuntimeError, ValueError, NotImplementedError, TypeError) as exc:
            raise MidiBackendError(f"cannot open MIDI output {name!r}: {exc}") from exc

    def close(self) -> None:
        if self._poller is not None:
            self._poller.close()
            self._poller = None
        if self._lister is not None:
            self._lister.close()
            self._lister = None
