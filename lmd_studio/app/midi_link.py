"""The Session's MIDI link: the MIDI service, the action mailbox it fills, and the seam to the running engine.

Bindings write parameters straight into the engine's ParamMailbox (through `SwitchableSink`, which
follows the Session to a new mailbox when the engine is rebuilt); prompt weights and actions land in an
ActionMailbox that `poll()` collects on the GUI thread and hands to the Session as a `MidiTick`.

The backend is chosen from where the audio runs (midi_route.py); a backend changed in the settings is
applied at once (`MidiService.reopen`), keeping maps and inputs. `MidiLink` satisfies the Session's
`MidiLinkApi` (midi_seam.py), whose GUI half is `MidiApi` (session_api.py).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lmd_studio.app.midi_route import (
    JACK_HOST_API,
    MIDI_SETTINGS_ACTION,
    AudioRoute,
    MidiHost,
    audio_runs_on_jack,
    backend_label,
    midi_off_message,
)
from lmd_studio.app.tempo_sync import EngineBeats, TempoSync
from lmd_studio.app.values import BindingRow, MidiTick, Notice
from lmd_studio.midi import (
    JACK_BACKEND,
    ClockConfig,
    MailboxSink,
    MidiConfig,
    MidiMapError,
    MidiService,
    TargetCatalog,
    resolve_backend_name,
)
from lmd_studio.rt.actions import ActionMailbox
from lmd_studio.rt.mailbox import ParamMailbox
from lmd_studio.settings.schema import MidiSettings

PROMPT_WEIGHT_SLOTS = 8


class SwitchableSink:
    """A ControlSink that forwards to the current engine's MailboxSink (swapped on a model switch)."""

    def __init__(self, inner: MailboxSink) -> None:
        self.inner = inner

    def set_value(self, target: str, value: float) -> None:
        self.inner.set_value(target, value)

    def get_value(self, target: str) -> float:
        return self.inner.get_value(target)

    def trigger(self, action: str) -> None:
        self.inner.trigger(action)

    def set_held_notes(self, notes: tuple[tuple[int, int], ...]) -> None:
        self.inner.set_held_notes(notes)

    def set_bpm(self, bpm: float | None) -> None:
        self.inner.set_bpm(bpm)


class MidiLink:
    """`audio_route` tells where the audio runs now (asked when MIDI starts, and on each poll until the
    opened device shows whether it is a JACK one); `host` answers questions about the machine. `tempo`
    shares the studio's tempo out (MIDI clock out, Ableton Link; tempo_sync.py): by default one reading
    and writing this link's mailbox, its clock out on the engine's beats as heard and the engine's bars kept
    on Link's (`engine_beats`). Link runs whether or not MIDI is on; clock out only with MIDI."""

    def __init__(self, mailbox: ParamMailbox, maps_dir: Path, settings: MidiSettings,
                 audio_route: Callable[[], AudioRoute] = AudioRoute, notify: Callable[..., None] = lambda *a: None,
                 host: MidiHost | None = None, tempo: TempoSync | None = None,
                 engine_beats: EngineBeats | None = None) -> None:
        self._mailbox = mailbox
        self.tempo = tempo or TempoSync(lambda: self._mailbox.bpm, lambda bpm: self._mailbox.set_bpm(bpm),
                                        engine=engine_beats)
        self._notify = notify
        self._audio_route = audio_route
        self._host = host or MidiHost()
        self.actions = ActionMailbox(prompt_slots=PROMPT_WEIGHT_SLOTS)
        self.catalog = TargetCatalog.build(mailbox.registry, prompt_slots=PROMPT_WEIGHT_SLOTS)
        self.sink = SwitchableSink(MailboxSink(mailbox, self.actions, self.catalog))
        self._settings = settings
        clock = ClockConfig(enabled=settings.follow_clock, follow_transport=settings.transport_from_midi)
        self.service = MidiService(self.sink, maps_dir, None, MidiConfig(clock=clock), self.catalog)
        self._started = False
        self._reported_backend_error = False
        self._pending: list[Notice] = []

    # --- lifecycle --------------------------------------------------------------------------------
    def start(self, settings: MidiSettings | None = None) -> None:
        if settings is not None:
            self._settings = settings
        if self._settings.enabled and not self._started:
            self.service.backend_name = self._choose_backend()
            self.service.start()
            self._started = True
            self.service.set_inputs(self._settings.inputs)
        self.tempo.configure(self._settings, self.service if self._started else None)

    @property
    def backend_name(self) -> str:
        """The mido backend MIDI runs on (or tried to), "" before it starts."""
        return self.service.backend_name or ""

    def _automatic(self) -> bool:
        """No backend chosen (settings, $MIDO_BACKEND): JACK MIDI if the audio runs through JACK."""
        setting = self._settings.backend
        return resolve_backend_name(setting, use_jack=False) != resolve_backend_name(setting, use_jack=True)

    def _choose_backend(self) -> str:
        use_jack = self._automatic() and audio_runs_on_jack(self._audio_route(), self._host.jack_running)
        return resolve_backend_name(self._settings.backend, use_jack=use_jack)

    def _reopen(self, backend: str) -> None:
        """Another backend, now: ports and backend torn down and opened again, maps and inputs kept."""
        self._reported_backend_error = False
        self.tempo.close_clock_out()  # its port lives on the old backend
        self.service.reopen(backend)
        self.service.set_inputs(self._settings.inputs)
        self.tempo.configure(self._settings, self.service)
        if not self.service.backend_error:
            self._pending.append(Notice("info", f"MIDI is on: {backend_label(backend)}"))

    def _follow_audio_to_jack(self) -> None:
        """The audio device opened after MIDI started and it is a JACK one: MIDI moves to JACK too."""
        if self.backend_name == JACK_BACKEND or not self._automatic():
            return
        if JACK_HOST_API.lower() in self._audio_route().opened.lower():
            self._reopen(JACK_BACKEND)

    def close(self) -> None:
        self.tempo.close()
        self._close_midi()

    def _close_midi(self) -> None:
        self.tempo.close_clock_out()
        if self._started:
            self.service.close()
            self._started = False

    def set_transport(self, playing: bool) -> None:
        """The Session's play/stop: MIDI clock out sends Start/Continue or Stop."""
        self.tempo.set_playing(playing)

    @property
    def available(self) -> bool:
        return self._started and not self.service.backend_error

    def configure(self, settings: MidiSettings) -> None:
        """Apply changed MIDI settings, all at once: a new backend reopens MIDI (maps and inputs kept)."""
        old, self._settings = self._settings, settings
        if not settings.enabled:
            self._close_midi()
            self.tempo.configure(settings, None)
            return
        if not self._started:
            self.start()
            return
        if settings.backend != old.backend:
            self._reopen(self._choose_backend())
        elif settings.inputs != old.inputs:
            self.service.set_inputs(settings.inputs)
        self.service.set_follow_clock(settings.follow_clock)
        self.service.set_follow_transport(settings.transport_from_midi)
        self.tempo.configure(settings, self.service)

    def rebind(self, mailbox: ParamMailbox) -> None:
        """The engine was rebuilt with a new mailbox (maybe a model with other parameters): bindings now
        drive that one, and the new model's own parameters become learnable."""
        self.catalog = TargetCatalog.build(mailbox.registry, prompt_slots=PROMPT_WEIGHT_SLOTS)
        self._mailbox = mailbox
        self.sink.inner = MailboxSink(mailbox, self.actions, self.catalog)
        self.service.set_catalog(self.catalog)

    # --- GUI timer ------------------------------------------------------------------------------------
    def poll(self) -> MidiTick:
        if self._started:
            self._follow_audio_to_jack()
        notices, self._pending = self._pending, []
        notices += self.tempo.poll()
        if self._started:
            polled = self.service.poll()
            for e in polled.events:
                if e.kind == "backend":
                    if not self._reported_backend_error:
                        notices.append(Notice("warning", midi_off_message(self.backend_name, e.message, self._host),
                                              action=MIDI_SETTINGS_ACTION))
                        self._reported_backend_error = True
                elif e.kind == "port" and e.controller == self.service.config.virtual_port_name:
                    continue  # our own virtual input opening is not news
                else:
                    level = "warning" if e.kind == "map_error" else "info"
                    notices.append(Notice(level, f"MIDI {'learned' if e.kind == 'learned' else e.kind}: {e.message}"))
        done = self.actions.poll()
        return MidiTick(tuple(notices), done.prompt_weights, done.actions)

    @property
    def learning_target(self) -> str:
        if not self._started:
            return ""
        state = self.service.learn_state()
        return state.target or "" if state.armed else ""

    def learn(self, target: str) -> None:
        self.service.arm_learn(target)

    def cancel_learn(self) -> None:
        self.service.cancel_learn()

    def sync_prompt_weight(self, slot: int, weight: float) -> None:
        if slot < PROMPT_WEIGHT_SLOTS:
            self.actions.sync_prompt_weight(slot, weight)

    def panic(self) -> None:
        if self._started:
            self.service.panic()

    def input_names(self) -> tuple[str, ...]:
        return self.service.available_inputs() if self._started else ()

    # --- map editor ----------------------------------------------------------------------------------
    def controllers(self) -> tuple[str, ...]:
        """Controllers seen this session plus every one with a saved map (connected or not)."""
        if not self._started:
            return ()
        names = list(self.service.controllers())
        names += [name for name, _, _ in self.service.saved_controllers() if name not in names]
        return tuple(names)

    def bindings(self, controller: str) -> list[BindingRow]:
        rows = []
        for info in self.service.bindings(controller):
            b = info.binding
            rows.append(BindingRow(controller, b.source.id, info.source_label, b.target, info.target_label,
                                   info.active, b.range_lo, b.range_hi, b.invert, b.curve, b.takeover,
                                   b.smoothing_ms, b.mode, b.source.is_button))
        return rows

    def update_binding(self, controller: str, source_id: str, **changes: Any) -> bool:
        """Edit one binding's transfer (range_lo/hi, invert, curve, takeover, smoothing_ms, mode, target).
        False (and a message with the reason) for a bad value or an unknown binding."""
        current = next((i.binding for i in self.service.bindings(controller) if i.binding.source.id == source_id),
                       None)
        try:
            if current is None:
                raise KeyError(f"{controller} has no binding for {source_id}")
            self.service.set_binding(controller, dataclasses.replace(current, **changes))
        except (KeyError, ValueError) as exc:
            self._notify("error", f"MIDI binding not changed: {exc}")
            return False
        return True

    def remove_binding(self, controller: str, source_id: str) -> None:
        self.service.remove_binding(controller, source_id)

    def clear_map(self, controller: str) -> None:
        self.service.clear_map(controller)

    def export_map(self, controller: str, path: Path) -> bool:
        try:
            self.service.export_map(controller, path)
        except OSError as exc:
            self._notify("error", f"MIDI map not exported to {path}: {exc.strerror or exc}")
            return False
        return True

    def import_map(self, controller: str, path: Path) -> bool:
        """Replace the controller's map by a file's; a refused file changes nothing (with a message)."""
        try:
            self.service.import_map(controller, path)
        except MidiMapError as exc:
            self._notify("error", f"MIDI map not imported: {exc}")
            return False
        return True

    def targets(self) -> list[tuple[str, str]]:
        """(name, label) of everything a binding may drive."""
        return [(t.name, t.label) for t in self.catalog]

    def port_lines(self) -> list[str]:
        return [f"{s.name}: {s.state}" + (f" ({s.error})" if s.error else "") + f", {s.messages} messages"
                for s in self.service.port_statuses()] if self._started else []
