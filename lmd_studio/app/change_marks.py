"""What follows each change the player makes (a knob, a prompt, a scene): a "heard in …" countdown, a
timeline marker where it will be heard, and an event in the take's sidecar.

Quick runs of changes (a knob turned) are gathered by the ChangeLog and marked once they settle
(`flush`, from the GUI timer); a marker for a one-off event (a scene, a model switch) goes in at once
(`mark`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

from lmd_studio.app.change_log import ChangeLog
from lmd_studio.app.countdown import CountdownTracker
from lmd_studio.app.engine_host import EngineHost


class EventSink(Protocol):
    """Where events for the take's sidecar go (the recording desk)."""

    def note_event(self, event: Mapping[str, Any]) -> None: ...


class ChangeMarks:
    def __init__(self, engine: EngineHost, events: EventSink, clock: Callable[[], float]) -> None:
        self._engine = engine
        self._events = events
        self._clock = clock
        self.countdowns = CountdownTracker()
        self.changes = ChangeLog()

    def note(self, key: str, label: str, event: dict[str, Any]) -> None:
        """A change made now: its countdown starts, and it joins the log (marked once it settles)."""
        now = self._clock()
        m = self._engine.runtime.metrics
        self.countdowns.note_change(key, now, m.pending_change_s, m.playing and m.primed)
        self.changes.note(key, label, event, now)

    def mark(self, label: str, kind: str) -> None:
        """A timeline marker where a change made now will be heard."""
        runtime = self._engine.runtime
        m = runtime.metrics
        at = runtime.stream_play_position + int(m.pending_change_s * runtime.sample_rate_hz if m.playing else 0)
        self._engine.timeline.add_marker(at, label, kind)

    def flush(self, now_s: float) -> None:
        """The changes that have settled become a marker and their sidecar events (the GUI timer)."""
        batch = self.changes.flush(now_s)
        if batch is not None:
            self.mark(batch.label, batch.kind)
            for event in batch.events:
                self._events.note_event(event)
