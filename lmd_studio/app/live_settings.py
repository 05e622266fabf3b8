"""The settings in use: changed by the Session's parts as the player works, saved when it matters.

One `LiveSettings` is shared by the parts that remember a choice (volume, safe mode, morph time, model,
adapter, view): each replaces the fields it owns, and the Session saves at the moments the player would
expect (a model switch, the settings dialog, quitting). A save that fails is one message, never an error.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from lmd_studio.settings.schema import StudioSettings
from lmd_studio.settings.store import SettingsStore


class LiveSettings:
    def __init__(self, settings: StudioSettings, store: SettingsStore, notify: Callable[..., None]) -> None:
        self.current = settings
        self._store = store
        self._notify = notify

    def update(self, **changes: Any) -> StudioSettings:
        """Replace these fields (validated by StudioSettings); saved with the next `save()`."""
        self.current = dataclasses.replace(self.current, **changes)
        return self.current

    def save(self) -> None:
        try:
            self._store.save(self.current)
        except OSError as exc:
            self._notify("error", f"Settings not saved: {exc.strerror or exc} ({self._store.path})")
