"""Coalesces control and prompt changes into timeline markers and take/retro sidecar events.

A knob drag produces dozens of values a second; the sidecar wants the values that were heard, and the
timeline one marker per gesture. `note` keeps the newest value per control; `flush` (every
`interval_s`) hands back one batch: a marker label and one event per control.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class ChangeBatch:
    label: str  # short text for the timeline marker
    kind: str  # "prompt" when any prompt changed, else "control"
    events: tuple[dict[str, Any], ...]


class ChangeLog:
    def __init__(self, interval_s: float = 0.4) -> None:
        self.interval_s = interval_s
        self._pending: dict[str, tuple[str, dict[str, Any]]] = {}
        self._first_s: float | None = None

    def note(self, key: str, label: str, event: dict[str, Any], now_s: float) -> None:
        self._pending[key] = (label, event)
        if self._first_s is None:
            self._first_s = now_s

    def flush(self, now_s: float, force: bool = False) -> ChangeBatch | None:
        if not self._pending or self._first_s is None:
            return None
        if not force and now_s - self._first_s < self.interval_s:
            return None
        items = list(self._pending.values())
        self._pending.clear()
        self._first_s = None
        labels = [label for label, _ in items]
        label = labels[0] if len(labels) == 1 else f"{labels[0]} +{len(labels) - 1}"
        kind = "prompt" if any(e.get("type") == "prompt" for _, e in items) else "control"
        return ChangeBatch(label, kind, tuple(e for _, e in items))
