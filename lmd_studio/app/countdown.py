"""When will a change be heard? Per-control countdowns for the GUI.

The engine publishes `pending_change_s`: how long until a change made *now* reaches the speakers (the
splice margin while playing low-latency, else the queued audio). A control changed at `t` is heard at
`t + pending_change_s(t)`; until then the GUI shows the remaining time next to the control, then
"heard" for a moment.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Countdown:
    remaining_s: float  # 0 once heard
    heard: bool


class CountdownTracker:
    def __init__(self, show_heard_s: float = 1.0) -> None:
        self.show_heard_s = show_heard_s
        self._heard_at: dict[str, float] = {}

    def note_change(self, name: str, now_s: float, pending_s: float, playing: bool) -> None:
        """A control moved. While stopped nothing is heard until play: no countdown is shown."""
        if playing:
            self._heard_at[name] = now_s + max(0.0, pending_s)
        else:
            self._heard_at.pop(name, None)

    def clear(self) -> None:
        self._heard_at.clear()

    def current(self, now_s: float) -> dict[str, Countdown]:
        out = {}
        for name, at in list(self._heard_at.items()):
            left = at - now_s
            if left > 0:
                out[name] = Countdown(left, False)
            elif -left <= self.show_heard_s:
                out[name] = Countdown(0.0, True)
            else:
                del self._heard_at[name]
        return out
