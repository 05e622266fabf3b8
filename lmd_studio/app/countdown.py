"""When will a change be heard? Per-control countdowns for the GUI, in seconds and, with a tempo, in beats.

The engine publishes `pending_change_s`: how long until a change made *now* reaches the speakers (the
splice margin while playing low-latency, the next beat or bar line it can still meet while quantised, else
the queued audio). A control changed at `t` is heard at `t + pending_change_s(t)`; until then the GUI shows
the remaining time next to the control, then "heard" for a moment.

A quantised change waits in the engine for its grid line; while it does, the engine says where that line
is (`Landing`), and every change still counting down lands there with it: their countdowns follow it, in
beats, and say when the nearest line was too close to the playhead and the change goes to the next one.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Countdown:
    remaining_s: float  # 0 once heard
    heard: bool
    remaining_beats: float | None = None  # with a tempo: beats to go
    skipped: int = 0  # grid lines let pass: they were too close to the playhead to regenerate for
    per_bar: bool = False  # it lands on a bar line (else a beat line, or at once)


@dataclass(frozen=True, slots=True)
class Landing:
    """The change waiting in the engine for its grid line, as the tracker needs it."""

    remaining_s: float
    remaining_beats: float | None
    skipped: int
    per_bar: bool


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

    def hurry(self, now_s: float, pending_s: float) -> None:
        """The changes still counting down land at once (the "now" modifier): heard after `pending_s`."""
        for name, at in self._heard_at.items():
            if at > now_s:
                self._heard_at[name] = min(at, now_s + max(0.0, pending_s))

    def clear(self) -> None:
        self._heard_at.clear()

    def current(self, now_s: float, landing: Landing | None = None,
                beats_per_s: float | None = None) -> dict[str, Countdown]:
        """The countdowns now. `landing`: the change waiting for its line, which the ones still counting
        down land with; `beats_per_s`: the tempo, to count the others in beats too."""
        out = {}
        for name, at in list(self._heard_at.items()):
            left = at - now_s
            if left > 0 and landing is not None:
                self._heard_at[name] = now_s + landing.remaining_s
                out[name] = Countdown(landing.remaining_s, False, landing.remaining_beats, landing.skipped,
                                      landing.per_bar)
            elif left > 0:
                out[name] = Countdown(left, False, left * beats_per_s if beats_per_s else None)
            elif -left <= self.show_heard_s:
                out[name] = Countdown(0.0, True)
            else:
                del self._heard_at[name]
        return out
