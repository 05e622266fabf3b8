"""Keep the studio's tempo and the Link session's equal, in both directions.

The studio's tempo is whatever its parameter mailbox holds (set by the BPM control, tap tempo or MIDI
clock in; None = none chosen). At each Link sample (every 5 ms, in the Link thread) `TempoBridge.step`
compares both with what it saw last time:
- the studio's changed → publish it to the session (the studio leads);
- else the session's changed (a peer moved it) → the studio follows it;
- on joining a session that already has peers → the studio takes the session's tempo; alone, it publishes
  its own (or, with none, leaves the studio without one until a peer shows up or someone sets one).
If both changed within one sample, the studio's own change wins (the user just moved it). Differences
under `TOLERANCE_BPM` are not changes (Link carries tempo as whole microseconds per beat).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from lmd_studio.link.session import LinkState

TOLERANCE_BPM = 1e-3


@dataclass(frozen=True, slots=True)
class BridgeAction:
    """`publish`: set the session's tempo to `bpm`; `follow`: set the studio's."""

    kind: str
    bpm: float


def _differs(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return (a is None) != (b is None)
    return abs(a - b) > TOLERANCE_BPM


class TempoBridge:
    """`studio_bpm()` / `set_studio_bpm(bpm)` read and write the studio's tempo (the mailbox, through the
    app so a rebuilt engine is followed); `publish(bpm)` sets the session's. Not thread-safe: one caller
    (the Link thread)."""

    def __init__(self, studio_bpm: Callable[[], float | None], set_studio_bpm: Callable[[float], None],
                 publish: Callable[[float], None]) -> None:
        self._studio_bpm = studio_bpm
        self._set_studio_bpm = set_studio_bpm
        self._publish = publish
        self._last_studio: float | None = None
        self._last_link: float | None = None
        self._had_peers = False
        self.published = 0
        self.followed = 0

    def decide(self, studio: float | None, state: LinkState) -> BridgeAction | None:
        """The pure rule (see the module doc); updates what was seen."""
        joined = state.peers > 0 and not self._had_peers
        self._had_peers = state.peers > 0
        first = self._last_link is None
        action: BridgeAction | None = None
        if not first and studio is not None and _differs(studio, self._last_studio):
            action = BridgeAction("publish", studio)
        elif (not first and _differs(state.bpm, self._last_link)) or ((first or joined) and state.peers > 0):
            action = BridgeAction("follow", state.bpm)  # a peer moved it, or we just joined a session
        elif first and studio is not None:
            action = BridgeAction("publish", studio)
        self._last_studio = studio
        self._last_link = state.bpm
        if action is not None:
            if action.kind == "publish":
                self._last_link = action.bpm
            else:
                self._last_studio = action.bpm
        return action

    def step(self, state: LinkState) -> None:
        """Called with each Link sample (LinkSession's `on_state`)."""
        if not state.running:
            return
        action = self.decide(self._studio_bpm(), state)
        if action is None:
            return
        if action.kind == "publish":
            self._publish(action.bpm)
            self.published += 1
        else:
            self._set_studio_bpm(action.bpm)
            self.followed += 1
