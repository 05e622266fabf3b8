"""MIDI learn: arm a target, move a hardware control, get a binding.

Split across threads: the MIDI thread only counts candidate sources in a small bounded table
(`capture`); the app's poll (GUI timer) decides (`decide`) once `settle_s` has passed since the first
candidate: the source moved most wins, and CC n seen together with CC n+32 on the same channel becomes a
14-bit pair. Messages captured while armed are swallowed, so moving a control to learn it does not also
drive whatever it was bound to before. Note-offs, clock and transport are never captured.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from lmd_studio.midi.bindings import CC14_PAIR_OFFSET, MidiMessage, MidiSource

MAX_CANDIDATES = 256
_CHANNEL_MODE_FIRST_CC = 120  # CC 120..127 are channel-mode messages (all notes off …), not controls


@dataclass(frozen=True, slots=True)
class LearnState:
    """`armed`: waiting for a control for `target`; `heard`: a label of the leading candidate so far."""

    armed: bool
    target: str | None = None
    heard: str | None = None


@dataclass(frozen=True, slots=True)
class LearnResult:
    controller: str
    target: str
    source: MidiSource


class LearnCapture:
    def __init__(self, settle_s: float = 0.3) -> None:
        if not 0.0 <= settle_s <= 5.0:
            raise ValueError(f"learn settle_s must be in [0, 5], got {settle_s}")
        self.settle_s = settle_s
        self.armed = False  # read without the lock by the MIDI thread: a stale read costs one message
        self._target: str | None = None
        self._first_s: float | None = None
        # (controller, kind, channel, number) → [count, first_seen_s]
        self._seen: dict[tuple[str, str, int, int], list[float]] = {}
        self._lock = threading.Lock()

    def arm(self, target: str) -> None:
        with self._lock:
            self._target = target
            self._seen = {}
            self._first_s = None
            self.armed = True

    def cancel(self) -> None:
        with self._lock:
            self.armed = False
            self._target = None
            self._seen = {}
            self._first_s = None

    def capture(self, controller: str, msg: MidiMessage, now_s: float) -> bool:
        """MIDI thread: count `msg` as a candidate. True when the message was consumed by learning."""
        t = msg.type
        if t == "control_change":
            if msg.control >= _CHANNEL_MODE_FIRST_CC:
                return False
            key = (controller, "cc", msg.channel, msg.control)
        elif t == "note_on" and msg.velocity > 0:
            key = (controller, "note", msg.channel, msg.note)
        elif t == "program_change":
            key = (controller, "program", msg.channel, msg.program)
        elif t == "pitchwheel":
            key = (controller, "pitchbend", msg.channel, 0)
        else:
            return False
        with self._lock:
            if not self.armed:
                return False
            entry = self._seen.get(key)
            if entry is not None:
                entry[0] += 1
            elif len(self._seen) < MAX_CANDIDATES:
                self._seen[key] = [1.0, now_s]
                if self._first_s is None:
                    self._first_s = now_s
        return True

    def state(self) -> LearnState:
        with self._lock:
            if not self.armed:
                return LearnState(False)
            best = self._best()
        heard = None if best is None else _source_of(best).label
        return LearnState(True, self._target, heard)

    def decide(self, now_s: float) -> LearnResult | None:
        """App thread: the learned source once the settle time has passed, disarming; else None."""
        with self._lock:
            if not self.armed or self._first_s is None or now_s - self._first_s < self.settle_s:
                return None
            best = self._best()
            assert best is not None and self._target is not None
            controller, kind, channel, number = best
            if kind == "cc":
                msb, lsb = (number, number + CC14_PAIR_OFFSET) if number < CC14_PAIR_OFFSET else \
                    (number - CC14_PAIR_OFFSET, number)
                if lsb < 2 * CC14_PAIR_OFFSET and all(
                        (controller, "cc", channel, n) in self._seen for n in (msb, lsb)):
                    kind, number = "cc14", msb
            result = LearnResult(controller, self._target, MidiSource(kind, channel, number))  # type: ignore[arg-type]
            self.armed = False
            self._target = None
            self._seen = {}
            self._first_s = None
            return result

    def _best(self) -> tuple[str, str, int, int] | None:
        if not self._seen:
            return None
        # most messages wins; ties go to the earliest heard
        return max(self._seen.items(), key=lambda kv: (kv[1][0], -kv[1][1]))[0]


def _source_of(key: tuple[str, str, int, int]) -> MidiSource:
    _, kind, channel, number = key
    return MidiSource(kind, channel, number)  # type: ignore[arg-type]
