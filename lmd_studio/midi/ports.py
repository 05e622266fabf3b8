"""MIDI input ports: several at once, a virtual "LMD Studio" input, and hot-plug.

The user picks ports by name; the manager remembers them as *wanted*. `scan()` (called by the MIDI
service's housekeeping thread about once a second) opens every wanted port that is present, and closes
the handle of any port that vanished, marking it missing; when the device comes back it is reopened with
the same router (same map, same counters). Names are matched without ALSA's trailing client:port numbers,
which change when a device is replugged. Nothing here raises into the caller's thread for a device
problem: failures become a port's status.
"""

from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from lmd_studio.midi.backend import MidiBackend, MidiBackendError
from lmd_studio.midi.router import PortRouter

PortState = Literal["open", "missing", "error"]
_ALSA_SUFFIX = re.compile(r"\s+\d+:\d+$")


def controller_name(port_name: str) -> str:
    """A port's stable identity (and its map's name): the name without ALSA's client:port numbers."""
    return _ALSA_SUFFIX.sub("", port_name)


def list_midi_ports(backend_name: str | None = None) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(inputs, outputs) of the backend (settings value, else $MIDO_BACKEND, else mido's default), for
    `lmd devices`. Raises MidiBackendError with the reason when the backend is unusable."""
    backend = MidiBackend(backend_name)
    try:
        return backend.input_names(), backend.output_names()
    finally:
        backend.close()


@dataclass(frozen=True, slots=True)
class PortStatus:
    """`messages`/`errors`: counted by the port's callback (an activity light and a health check)."""

    name: str
    controller: str
    state: PortState
    virtual: bool = False
    error: str = ""
    messages: int = 0
    errors: int = 0


@dataclass(slots=True)
class _Entry:
    controller: str
    router: PortRouter
    virtual: bool = False
    port: Any = None
    name: str = ""  # the name it is open under now
    error: str = ""


class PortManager:
    def __init__(self, backend: MidiBackend, make_router: Callable[[str], PortRouter]) -> None:
        self._backend = backend
        self._make_router = make_router
        self._entries: dict[str, _Entry] = {}  # controller → entry
        self._lock = threading.RLock()

    def available(self) -> tuple[str, ...]:
        """Input ports present now (our own virtual port is not one of them)."""
        with self._lock:
            virtual = {e.name for e in self._entries.values() if e.virtual}
        return tuple(n for n in self._backend.input_names() if n not in virtual)

    def routers(self) -> tuple[PortRouter, ...]:
        with self._lock:
            return tuple(e.router for e in self._entries.values())

    def want(self, port_name: str) -> PortStatus:
        """Listen to `port_name` from now on (reopened whenever it reappears). Returns its status."""
        controller = controller_name(port_name)
        with self._lock:
            entry = self._entries.get(controller)
            if entry is None:
                entry = _Entry(controller, self._make_router(controller), name=port_name)
                self._entries[controller] = entry
            self._scan_entry(entry, self._safe_names())
            return self._status(entry)

    def unwant(self, port_name: str) -> None:
        with self._lock:
            entry = self._entries.pop(controller_name(port_name), None)
            if entry is not None:
                self._close(entry)

    def wanted(self) -> tuple[str, ...]:
        with self._lock:
            return tuple(e.name for e in self._entries.values() if not e.virtual)

    def open_virtual(self, name: str) -> PortStatus:
        """Open the virtual input other programs can send to (status 'error' where unsupported)."""
        with self._lock:
            entry = self._entries.get(name)
            if entry is None:
                entry = _Entry(name, self._make_router(name), virtual=True, name=name)
                self._entries[name] = entry
            if entry.port is None:
                try:
                    entry.port = self._backend.open_virtual_input(name, entry.router)
                    entry.error = ""
                except MidiBackendError as exc:
                    entry.error = str(exc)
            return self._status(entry)

    def scan(self) -> None:
        """One supervisor pass: reopen what came back, close what vanished."""
        with self._lock:
            names = self._safe_names()
            for entry in self._entries.values():
                if not entry.virtual:
                    self._scan_entry(entry, names)

    def statuses(self) -> tuple[PortStatus, ...]:
        with self._lock:
            return tuple(self._status(e) for e in self._entries.values())

    def close_all(self) -> None:
        with self._lock:
            for entry in self._entries.values():
                self._close(entry)
            self._entries.clear()

    # ---- internals (called with the lock held) ---------------------------------------------------
    def _safe_names(self) -> tuple[str, ...] | None:
        try:
            return self._backend.input_names()
        except MidiBackendError:
            return None  # the MIDI system itself is gone (e.g. the JACK server stopped): keep states

    def _scan_entry(self, entry: _Entry, names: tuple[str, ...] | None) -> None:
        if names is None:
            return
        present = next((n for n in names if controller_name(n) == entry.controller), None)
        if present is None:
            if entry.port is not None:
                self._close(entry)
            entry.error = ""
            return
        if entry.port is not None and present == entry.name:
            return
        if entry.port is not None:
            self._close(entry)  # renumbered by ALSA: reconnect under the new name
        try:
            entry.port = self._backend.open_input(present, entry.router)
            entry.name = present
            entry.error = ""
        except MidiBackendError as exc:
            entry.error = str(exc)

    @staticmethod
    def _close(entry: _Entry) -> None:
        port, entry.port = entry.port, None
        if port is not None:
            # a vanished device may fail to close; it is gone anyway
            with contextlib.suppress(Exception):
                port.close()

    @staticmethod
    def _status(entry: _Entry) -> PortStatus:
        state: PortState = "open" if entry.port is not None else ("error" if entry.error else "missing")
        return PortStatus(entry.name, entry.controller, state, entry.virtual, entry.error,
                          entry.router.messages, entry.router.errors)
