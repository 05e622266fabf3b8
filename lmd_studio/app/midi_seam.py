"""The Session's MIDI seam: what the Session asks of its MIDI link (`MidiLinkApi`: the GUI's `MidiApi`
plus lifecycle, the engine switch and the timer's poll), and `NullMidiLink`, the link when there is no MIDI.

The real link (midi_link.py, over mido) is attached by the composition root; the Session starts with the
null one, so it never imports a MIDI library itself.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from lmd_studio.app.session_api import MidiApi
from lmd_studio.app.values import BindingRow, MidiTick
from lmd_studio.rt.mailbox import ParamMailbox
from lmd_studio.settings.schema import MidiSettings

UNAVAILABLE = "MIDI is not available"


@runtime_checkable
class MidiLinkApi(MidiApi, Protocol):
    def start(self, settings: MidiSettings | None = None) -> None: ...
    def close(self) -> None: ...
    def configure(self, settings: MidiSettings) -> None: ...
    def rebind(self, mailbox: ParamMailbox) -> None: ...
    def set_transport(self, playing: bool) -> None: ...
    def sync_prompt_weight(self, slot: int, weight: float) -> None: ...
    def panic(self) -> None: ...
    def poll(self) -> MidiTick: ...


class NullMidiLink:
    """The Session's MIDI when there is none (tests, `midi=False`, a machine without MIDI): every
    query answers "nothing", every request says MIDI is unavailable."""

    def __init__(self, notify: Callable[..., None] = lambda *a: None) -> None:
        self._notify = notify

    @property
    def available(self) -> bool:
        return False

    @property
    def learning_target(self) -> str:
        return ""

    def start(self, settings: MidiSettings | None = None) -> None: ...
    def close(self) -> None: ...
    def configure(self, settings: MidiSettings) -> None: ...
    def rebind(self, mailbox: ParamMailbox) -> None: ...
    def set_transport(self, playing: bool) -> None: ...
    def sync_prompt_weight(self, slot: int, weight: float) -> None: ...
    def panic(self) -> None: ...
    def cancel_learn(self) -> None: ...

    def poll(self) -> MidiTick:
        return MidiTick((), (), ())

    def learn(self, target: str) -> None:
        self._notify("warning", UNAVAILABLE)

    def input_names(self) -> tuple[str, ...]:
        return ()

    def controllers(self) -> tuple[str, ...]:
        return ()

    def bindings(self, controller: str) -> list[BindingRow]:
        return []

    def targets(self) -> list[tuple[str, str]]:
        return []

    def port_lines(self) -> list[str]:
        return []

    def update_binding(self, controller: str, source_id: str, **changes: Any) -> bool:
        self._notify("warning", UNAVAILABLE)
        return False

    def remove_binding(self, controller: str, source_id: str) -> None:
        self._notify("warning", UNAVAILABLE)

    def clear_map(self, controller: str) -> None:
        self._notify("warning", UNAVAILABLE)

    def export_map(self, controller: str, path: Path) -> bool:
        self._notify("warning", UNAVAILABLE)
        return False

    def import_map(self, controller: str, path: Path) -> bool:
        self._notify("warning", UNAVAILABLE)
        return False
