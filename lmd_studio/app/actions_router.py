"""Triggered actions by name — MIDI buttons, program changes, MIDI start/stop — run on the GUI thread.

A toggle pressed twice between two polls (the action mailbox counts presses) ends where it started; any
other action runs once however often it fired; "scene_N" recalls scene N.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any


class ActionRouter:
    def __init__(self, actions: Mapping[str, Callable[[], Any]], toggles: Mapping[str, Callable[[], Any]],
                 scene: Callable[[int], Any], notify: Callable[..., None]) -> None:
        self._actions = dict(actions)
        self._toggles = dict(toggles)
        self._scene = scene
        self._notify = notify

    @property
    def names(self) -> tuple[str, ...]:
        return (*self._toggles, *self._actions)

    def run(self, name: str, count: int = 1) -> bool:
        if name in self._toggles:
            if count % 2:
                self._toggles[name]()
        elif name in self._actions:
            self._actions[name]()
        elif name.startswith("scene_") and name[6:].isdigit():
            self._scene(int(name[6:]))
        else:
            self._notify("warning", f"MIDI action {name!r} is not known to this version")
            return False
        return True
