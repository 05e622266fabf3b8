"""Where MIDI values go: the `ControlSink` protocol and its default, mailbox-backed implementation.

Every method is called from the MIDI input thread (and, for smoothed bindings, the MIDI service's
housekeeping thread), so each must be non-blocking and cheap: store the latest value and return. No Qt,
no torch, no files, no queues that grow per message.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from lmd_studio.midi.targets import TargetCatalog
from lmd_studio.rt.actions import ActionMailbox
from lmd_studio.rt.mailbox import ParamMailbox


@runtime_checkable
class ControlSink(Protocol):
    def set_value(self, target: str, value: float) -> None:
        """Store `value` (in the target's own units, e.g. dB) as the newest value of a continuous target."""
        ...

    def get_value(self, target: str) -> float:
        """The value a continuous target has now, whoever set it (soft takeover compares against it)."""
        ...

    def trigger(self, action: str) -> None:
        """Fire a momentary action once (the app runs it on its own thread)."""
        ...

    def set_held_notes(self, notes: tuple[tuple[int, int], ...]) -> None:
        """The (note, velocity) pairs sounding on the keyboard now, sustain pedal included."""
        ...

    def set_bpm(self, bpm: float | None) -> None:
        """Tempo followed from MIDI clock (None: unknown)."""
        ...


class MailboxSink:
    """Parameters go straight into the engine's `ParamMailbox`; prompt weights and actions into an
    `ActionMailbox` that the app's GUI timer polls."""

    __slots__ = ("params", "actions", "_kind", "_slot")

    def __init__(self, params: ParamMailbox, actions: ActionMailbox, catalog: TargetCatalog) -> None:
        self.params = params
        self.actions = actions
        self._kind: dict[str, str] = {}
        self._slot: dict[str, int] = {}
        for t in catalog:
            if t.kind == "param" and t.name not in params.registry:
                continue  # a catalog built for another generator: such targets are simply not routed
            if t.kind == "prompt_weight":
                if t.slot >= actions.prompt_slots:
                    raise ValueError(f"target {t.name!r} needs prompt slot {t.slot}, the action mailbox has "
                                     f"{actions.prompt_slots}")
                self._slot[t.name] = t.slot
            self._kind[t.name] = t.kind

    def set_value(self, target: str, value: float) -> None:
        kind = self._kind.get(target)
        if kind == "param":
            self.params.set(target, value)
        elif kind == "prompt_weight":
            self.actions.set_prompt_weight(self._slot[target], value)

    def get_value(self, target: str) -> float:
        kind = self._kind.get(target)
        if kind == "param":
            return self.params.get(target)
        if kind == "prompt_weight":
            return self.actions.prompt_weight(self._slot[target])
        raise KeyError(f"{target!r} is not a continuous target of this sink")

    def trigger(self, action: str) -> None:
        self.actions.trigger(action)

    def set_held_notes(self, notes: tuple[tuple[int, int], ...]) -> None:
        self.params.set_held_notes(notes)

    def set_bpm(self, bpm: float | None) -> None:
        self.params.set_bpm(bpm)
