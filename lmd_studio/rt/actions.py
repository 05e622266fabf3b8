"""Latest-value mailbox for what MIDI (or any non-GUI thread) asks of the app: prompt weights and actions.

The writer is the MIDI input thread; the reader is the app's GUI timer (30–60 Hz), which applies prompt
weights to its prompt mixer and runs triggered actions (play, stop, capture, scene recall, …) on its own
thread. Nothing queues per message: a prompt weight keeps only its newest value, and an action keeps a
count of how often it fired since the last poll, so a flood of messages costs a fixed amount of memory.
The lock is held for a few dict/array operations and never by the audio callback.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, slots=True)
class ActionPoll:
    """What happened since the previous poll.

    `prompt_weights`: (slot, newest weight) for every slot written by a writer since the last poll.
    `actions`: (action name, times fired) in first-fired order.
    """

    prompt_weights: tuple[tuple[int, float], ...] = ()
    actions: tuple[tuple[str, int], ...] = ()

    @property
    def empty(self) -> bool:
        return not self.prompt_weights and not self.actions


class ActionMailbox:
    """Prompt-slot weights and action triggers, written by writers, collected by one polling reader.

    `sync_prompt_weight` lets the app report a weight the user changed elsewhere (GUI, preset) so that a
    MIDI knob's soft takeover compares against the value really in use; it does not mark the slot as new.
    """

    def __init__(self, prompt_slots: int = 8, max_actions: int = 256) -> None:
        if prompt_slots < 1:
            raise ValueError(f"ActionMailbox needs at least one prompt slot, got {prompt_slots}")
        if max_actions < 1:
            raise ValueError(f"ActionMailbox needs max_actions >= 1, got {max_actions}")
        self._weights = np.ones(prompt_slots, dtype=np.float64)
        self._weight_pending = np.zeros(prompt_slots, dtype=bool)
        self._actions: dict[str, int] = {}
        self._max_actions = int(max_actions)
        self._dropped_actions = 0
        self._lock = threading.Lock()
        self._version = 0

    @property
    def prompt_slots(self) -> int:
        return int(self._weights.shape[0])

    @property
    def version(self) -> int:
        """Moves on every write that the next poll will report."""
        return self._version

    @property
    def dropped_actions(self) -> int:
        """Triggers refused because `max_actions` distinct names were already pending (a runaway writer)."""
        return self._dropped_actions

    def _check_slot(self, slot: int) -> int:
        if not 0 <= slot < self._weights.shape[0]:
            raise IndexError(f"prompt slot {slot} out of range 0..{self._weights.shape[0] - 1}")
        return slot

    def set_prompt_weight(self, slot: int, weight: float) -> None:
        """A writer's new weight for `slot`; reported by the next poll (only the newest survives)."""
        i = self._check_slot(slot)
        with self._lock:
            self._weights[i] = float(weight)
            self._weight_pending[i] = True
            self._version += 1

    def sync_prompt_weight(self, slot: int, weight: float) -> None:
        """The weight the app is using now (set from the GUI or a preset); not reported by poll."""
        i = self._check_slot(slot)
        with self._lock:
            self._weights[i] = float(weight)

    def prompt_weight(self, slot: int) -> float:
        return float(self._weights[self._check_slot(slot)])

    def trigger(self, action: str) -> None:
        """Count one firing of `action`; the next poll reports how many times it fired."""
        with self._lock:
            count = self._actions.get(action)
            if count is not None:
                self._actions[action] = count + 1
            elif len(self._actions) < self._max_actions:
                self._actions[action] = 1
            else:
                self._dropped_actions += 1
                return
            self._version += 1

    def poll(self) -> ActionPoll:
        """Everything written since the previous poll (the reader's side; call it from one thread)."""
        with self._lock:
            if not self._actions and not self._weight_pending.any():
                return ActionPoll()
            slots = np.flatnonzero(self._weight_pending).tolist()
            weights = tuple((int(i), float(self._weights[i])) for i in slots)
            self._weight_pending[:] = False
            actions = tuple(self._actions.items())
            self._actions = {}
        return ActionPoll(prompt_weights=weights, actions=actions)
