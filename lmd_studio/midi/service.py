"""`MidiService`: the one object the app's Session talks to for everything MIDI (API in the package doc).

Threads: the caller's (the GUI thread, through Session) for every public method; each input port's MIDI
thread runs a `PortRouter`; one housekeeping thread steps glides (~100 Hz, only while some binding
glides) and rescans ports for hot-plug (every `scan_interval_s`); with no MIDI system open it sleeps until
woken (it costs nothing: `housekeeping_passes` counts its wake-ups). Map files are read and written on the
caller's thread only.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from lmd_studio.midi.backend import MidiBackend, MidiBackendError
from lmd_studio.midi.bindings import Binding
from lmd_studio.midi.clock import ClockConfig, ClockFollower, ClockState
from lmd_studio.midi.keyboard import Keyboard, KeyboardConfig
from lmd_studio.midi.learn import LearnCapture, LearnResult, LearnState
from lmd_studio.midi.mapfile import MapStore, MidiMap, MidiMapError, load_map, save_map
from lmd_studio.midi.ports import PortManager, PortStatus
from lmd_studio.midi.router import PortRouter, RouterContext, compile_table
from lmd_studio.midi.runtime import Glider
from lmd_studio.midi.sink import ControlSink
from lmd_studio.midi.targets import TargetCatalog


@dataclass(frozen=True, slots=True)
class MidiConfig:
    virtual_port: bool = True
    virtual_port_name: str = "LMD Studio"
    scan_interval_s: float = 1.0
    glide_interval_s: float = 0.01
    learn_settle_s: float = 0.3
    program_change_scenes: bool = True  # program p (0..15) recalls scene p unless a binding claims it
    rtmidi_poll_interval_s: float | None = 0.001  # rtmidi inputs: polled (see rtmidi_poll); None: callbacks
    keyboard: KeyboardConfig = field(default_factory=KeyboardConfig)
    clock: ClockConfig = field(default_factory=ClockConfig)

    def __post_init__(self) -> None:
        if not 0.05 <= self.scan_interval_s <= 60.0:
            raise ValueError(f"MIDI scan_interval_s must be in [0.05, 60], got {self.scan_interval_s}")
        if not 0.001 <= self.glide_interval_s <= 0.1:
            raise ValueError(f"MIDI glide_interval_s must be in [0.001, 0.1], got {self.glide_interval_s}")
        if self.virtual_port and not self.virtual_port_name.strip():
            raise ValueError("MIDI virtual_port_name must not be empty")


@dataclass(frozen=True, slots=True)
class BindingInfo:
    """A row of the map editor. `active` is False when this app has no such target."""

    binding: Binding
    source_label: str
    target_label: str
    active: bool


@dataclass(frozen=True, slots=True)
class MidiEvent:
    """Something to tell the user. kind: 'learned', 'port', 'map_error', 'backend'."""

    kind: str
    message: str
    controller: str = ""
    binding: Binding | None = None


@dataclass(frozen=True, slots=True)
class MidiPoll:
    events: tuple[MidiEvent, ...]
    learn: LearnState
    held_notes: tuple[tuple[int, int], ...]
    clock: ClockState


class MidiService:
    def __init__(self, sink: ControlSink, maps_dir: Path, backend_name: str | None = None,
                 config: MidiConfig | None = None, catalog: TargetCatalog | None = None) -> None:
        self.config = config or MidiConfig()
        self.catalog = catalog or TargetCatalog.build()
        self.sink = sink
        self.backend_name = backend_name
        self._store = MapStore(maps_dir)
        self._glider = Glider()
        self.keyboard = Keyboard(self.config.keyboard, sink, self.catalog)
        self.clock = ClockFollower(self.config.clock, sink)
        self._learn = LearnCapture(self.config.learn_settle_s)
        self._ctx = RouterContext(sink, self.keyboard, self.clock, self._learn, self.config.program_change_scenes)
        self._maps: dict[str, MidiMap] = {}
        self._map_errors: dict[str, str] = {}
        self._routers: dict[str, PortRouter] = {}
        self._backend: MidiBackend | None = None
        self._ports: PortManager | None = None
        self._own_outputs: set[str] = set()  # our virtual outputs (clock out): never listened to
        self.backend_error = ""
        self._events: list[MidiEvent] = []
        self._last_states: dict[str, str] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._passes = 0

    # ---- lifecycle ---------------------------------------------------------------------------------
    def start(self) -> None:
        """Load the backend, open the virtual port, start hot-plug supervision. Never raises for a
        missing MIDI system: `backend_error` and a 'backend' event say what is wrong."""
        if self._thread is not None:
            return
        try:
            self._backend = MidiBackend(self.backend_name, self.config.rtmidi_poll_interval_s)
            self._ports = PortManager(self._backend, self._make_router)
            if self.config.virtual_port:
                status = self._ports.open_virtual(self.config.virtual_port_name)
                if status.error:
                    self._events.append(MidiEvent("port", status.error, status.controller))
        except MidiBackendError as exc:
            self.backend_error = str(exc)
            self._events.append(MidiEvent("backend", self.backend_error))
        self._stop.clear()
        self._thread = threading.Thread(target=self._housekeeping, name="midi-housekeeping", daemon=True)
        self._thread.start()

    def reopen(self, backend_name: str | None) -> None:
        """Switch to another MIDI backend without a restart: close every port and the backend, load
        `backend_name` and listen to the same inputs again. Maps, bindings, learn state and the catalog
        are kept; held notes are released (their note-offs would never arrive). Like `start`, never raises
        for an unusable backend: `backend_error` and a 'backend' event say what is wrong."""
        wanted = self._ports.wanted() if self._ports is not None else ()
        self.close()
        self.keyboard.release_all()
        for router in self._routers.values():
            self._glider.forget(router.table.runtimes)
        self._routers.clear()
        self._last_states.clear()
        self._events = [e for e in self._events if e.kind not in ("backend", "port")]  # about the old one
        self.backend_name = backend_name
        self.backend_error = ""
        self.start()
        self.set_inputs(wanted)

    @property
    def housekeeping_passes(self) -> int:
        """How often the housekeeping thread has woken up since it was created (a health check: with no
        binding gliding it wakes once per `scan_interval_s`, and not at all with no MIDI system open)."""
        return self._passes

    def close(self) -> None:
        self._stop.set()
        self._glider.wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5.0)
            self._thread = None
        if self._ports is not None:
            self._ports.close_all()
            self._ports = None
        if self._backend is not None:
            self._backend.close()
            self._backend = None

    def __enter__(self) -> MidiService:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _housekeeping(self) -> None:
        interval_s = self.config.scan_interval_s
        next_scan_s = time.perf_counter() + interval_s
        while not self._stop.is_set():
            self._passes += 1
            now = time.perf_counter()
            try:
                if self._glider.active:
                    self._glider.step(now)
                if now >= next_scan_s:
                    try:
                        if self._ports is not None:
                            self._ports.scan()
                    finally:  # a failing or slow scan waits a whole interval too: never back to back
                        next_scan_s = time.perf_counter() + interval_s
            except Exception as exc:  # noqa: BLE001 — supervision must outlive one bad pass
                self.backend_error = f"MIDI housekeeping: {type(exc).__name__}: {exc}"
            timeout: float | None
            if self._glider.active:
                timeout = self.config.glide_interval_s
            elif self._ports is None:
                timeout = None  # no MIDI system: nothing to rescan; wait for close() (or a glide)
            else:
                timeout = max(0.0, next_scan_s - time.perf_counter())
            self._glider.wake.wait(timeout)
            self._glider.wake.clear()

    # ---- ports ------------------------------------------------------------------------------------
    def available_inputs(self) -> tuple[str, ...]:
        """Ports we may listen to: other programs' and devices' outputs, never our own (clock out)."""
        if self._ports is None:
            return ()
        try:
            return tuple(n for n in self._ports.available() if not self.is_own_output(n))
        except MidiBackendError as exc:
            self.backend_error = str(exc)
            return ()

    def open_input(self, port_name: str) -> PortStatus:
        """Listen to a port (several may be open); it is reopened whenever it reappears. Our own outputs
        are refused (state 'error'): following our own clock would feed the tempo back into itself."""
        if self._ports is None:
            raise MidiBackendError(self.backend_error or "MIDI service not started")
        if self.is_own_output(port_name):
            return PortStatus(port_name, port_name, "error", error="LMD Studio's own output: not listened to")
        return self._ports.want(port_name)

    def open_virtual_output(self, name: str) -> Any:
        """A virtual output port other programs can listen to (clock out), on this service's backend. It
        never shows among `available_inputs`. Raises MidiBackendError (no backend, no virtual ports);
        reopening the backend closes nothing of it: close it before `reopen`/`close` and open it again."""
        if self._backend is None:
            raise MidiBackendError(self.backend_error or "MIDI service not started")
        self._own_outputs.add(name)
        return self._backend.open_output(name, virtual=True)

    def is_own_output(self, port_name: str) -> bool:
        """Whether a listed port is one of our virtual outputs ("NAME", or "NAME:…" as JACK and ALSA list it)."""
        return any(port_name == n or port_name.startswith(n + ":") for n in self._own_outputs)

    def close_input(self, port_name: str) -> None:
        if self._ports is not None:
            self._ports.unwant(port_name)

    def set_inputs(self, port_names: list[str] | tuple[str, ...]) -> tuple[PortStatus, ...]:
        """Listen to exactly these ports (the settings' list); the virtual port stays."""
        if self._ports is None:
            return ()
        for name in set(self._ports.wanted()) - set(port_names):
            self._ports.unwant(name)
        for name in port_names:
            if not self.is_own_output(name):
                self._ports.want(name)
        return self.port_statuses()

    def port_statuses(self) -> tuple[PortStatus, ...]:
        return () if self._ports is None else self._ports.statuses()

    def set_catalog(self, catalog: TargetCatalog) -> None:
        """A new model with other parameters: bindings are recompiled against its targets (bindings to
        targets it lacks stay in the maps, inactive). Soft-takeover state starts afresh."""
        self.catalog = catalog
        self.keyboard.set_catalog(catalog)
        for controller, router in self._routers.items():
            old = router.table
            router.table = compile_table(self._get_map(controller), catalog, self.sink, self._glider)
            self._glider.forget(old.runtimes)

    def received_messages(self) -> int:
        """Messages seen by every port's callback since the start (health checks, the benchmark)."""
        return sum(r.messages for r in self._routers.values())

    def _make_router(self, controller: str) -> PortRouter:
        router = PortRouter(controller, compile_table(self._get_map(controller), self.catalog, self.sink,
                                                      self._glider), self._ctx)
        self._routers[controller] = router
        return router

    # ---- learn ------------------------------------------------------------------------------------
    def arm_learn(self, target: str) -> None:
        """Wait for the next hardware control moved; `poll` reports the binding it makes."""
        self.catalog.info(target)  # unknown targets fail here, in the caller's thread
        self._learn.arm(target)

    def cancel_learn(self) -> None:
        self._learn.cancel()

    def learn_state(self) -> LearnState:
        return self._learn.state()

    def _commit_learn(self, result: LearnResult) -> None:
        info = self.catalog.info(result.target)
        kind = result.source.kind
        binding = Binding(result.source, result.target,
                          takeover="jump" if not info.continuous or result.source.is_button else "soft")
        midi_map = self._get_map(result.controller).without_target(result.target).with_binding(binding)
        self._set_map(result.controller, midi_map)
        self._events.append(MidiEvent("learned", f"{binding.source.label} → {info.label}"
                                      + (" (14-bit)" if kind == "cc14" else ""), result.controller, binding))

    # ---- maps -------------------------------------------------------------------------------------
    def controllers(self) -> tuple[str, ...]:
        """Controllers with a map in memory (every port opened so far, plus edited ones)."""
        return tuple(self._maps)

    def saved_controllers(self) -> tuple[tuple[str, Path, str], ...]:
        """(controller, file, error) for every saved map, connected or not (the map editor's list)."""
        return self._store.saved()

    def midi_map(self, controller: str) -> MidiMap:
        return self._get_map(controller)

    def map_error(self, controller: str) -> str | None:
        """Why the controller's saved map could not be read (it is then left untouched on disk and
        changes stay in memory until `discard_broken_map`)."""
        self._get_map(controller)
        return self._map_errors.get(controller)

    def bindings(self, controller: str) -> tuple[BindingInfo, ...]:
        rows = []
        for b in self._get_map(controller).bindings:
            info = self.catalog.get(b.target)
            rows.append(BindingInfo(b, b.source.label, info.label if info else f"{b.target} (not in this model)",
                                    info is not None))
        return tuple(rows)

    def set_binding(self, controller: str, binding: Binding) -> None:
        """Add, or replace the binding of the same source (the map editor's add/edit)."""
        self.catalog.info(binding.target)
        self._set_map(controller, self._get_map(controller).with_binding(binding))

    def remove_binding(self, controller: str, source_id: str) -> None:
        self._set_map(controller, self._get_map(controller).without(source_id))

    def clear_map(self, controller: str) -> None:
        self._set_map(controller, MidiMap(controller))

    def discard_broken_map(self, controller: str) -> None:
        """The user chose to replace a malformed map file: the next change overwrites it."""
        self._map_errors.pop(controller, None)

    def export_map(self, controller: str, path: Path) -> None:
        save_map(self._get_map(controller), Path(path))

    def import_map(self, controller: str, path: Path) -> MidiMap:
        """Replace the controller's map by a file's. A malformed file raises MidiMapError and changes
        nothing."""
        loaded = replace(load_map(Path(path)), controller=controller)
        self._map_errors.pop(controller, None)
        self._set_map(controller, loaded)
        return loaded

    def _get_map(self, controller: str) -> MidiMap:
        m = self._maps.get(controller)
        if m is None:
            try:
                m = self._store.load(controller)
            except MidiMapError as exc:
                self._map_errors[controller] = str(exc)
                self._events.append(MidiEvent("map_error", str(exc), controller))
                m = MidiMap(controller)
            self._maps[controller] = m
        return m

    def _set_map(self, controller: str, midi_map: MidiMap) -> None:
        self._get_map(controller)  # loads (and records errors) before the first change
        self._maps[controller] = midi_map
        router = self._routers.get(controller)
        if router is not None:
            old = router.table
            router.table = compile_table(midi_map, self.catalog, self.sink, self._glider)
            self._glider.forget(old.runtimes)
        if controller in self._map_errors:
            self._events.append(MidiEvent("map_error", f"not saved: {self._map_errors[controller]}", controller))
        else:
            self._store.save(midi_map)

    # ---- state ------------------------------------------------------------------------------------
    def active_notes(self) -> tuple[tuple[int, int], ...]:
        return self.keyboard.held_notes

    def clock_state(self) -> ClockState:
        return self.clock.state(time.perf_counter())

    def set_follow_transport(self, enabled: bool) -> None:
        """MIDI start/continue → "play", stop → "stop" actions (settings: transport_from_midi)."""
        self.clock.config = replace(self.clock.config, follow_transport=enabled)

    def set_follow_clock(self, enabled: bool) -> None:
        """Follow MIDI clock tempo or ignore it (settings: follow_clock). Turning it off leaves the
        mailbox's BPM as it is: the app decides what tempo to use then."""
        if enabled and not self.clock.config.enabled:
            self.clock.reset()
        self.clock.config = replace(self.clock.config, enabled=enabled)

    def panic(self) -> None:
        """Release every held note (and the pedal)."""
        self.keyboard.release_all()

    def poll(self) -> MidiPoll:
        """Call from the GUI timer (30–60 Hz): completes learning, reports port changes and problems."""
        result = self._learn.decide(time.perf_counter())
        if result is not None:
            self._commit_learn(result)
        for status in self.port_statuses():
            if self._last_states.get(status.controller) != status.state:
                self._last_states[status.controller] = status.state
                text = {"open": "connected", "missing": "disconnected (waiting for it to come back)",
                        "error": status.error}[status.state]
                self._events.append(MidiEvent("port", f"{status.name}: {text}", status.controller))
        events, self._events = tuple(self._events), []
        return MidiPoll(events, self._learn.state(), self.keyboard.held_notes, self.clock_state())
