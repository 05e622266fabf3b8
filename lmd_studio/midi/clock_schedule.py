"""When each MIDI clock tick is due: absolute deadlines on a tempo grid, changed at beat boundaries.

Tick n is due at `anchor_s + (n - anchor_tick) · 60 / (24 · bpm)`: every deadline is computed from the
anchor, never by adding intervals, so rounding and late wake-ups never accumulate into drift. A tempo
change takes effect at the next beat: ticks up to the first tick at or after the next one to send that is a
multiple of 24 keep the old spacing, that beat's tick keeps its old time (the new grid is anchored there)
and the ticks after it are spaced at the new tempo. Tick numbers are beat phase: tick n lies `n % 24` ticks
into its beat (the transport lines Start and Continue up with it, see clock_out).

Pure values and functions (no clock, no threads): tests check them against hand-computed times.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from lmd_studio.midi.clock import TICKS_PER_BEAT

MIN_BPM = 20.0
MAX_BPM = 400.0


def tick_s(bpm: float) -> float:
    """Seconds between two ticks (24 per quarter note)."""
    return 60.0 / (TICKS_PER_BEAT * bpm)


def next_beat_tick(tick: int) -> int:
    """The first tick at or after `tick` that starts a beat."""
    return -(-tick // TICKS_PER_BEAT) * TICKS_PER_BEAT


@dataclass(frozen=True, slots=True)
class TickGrid:
    """One tempo: tick `anchor_tick` is due at `anchor_s` (seconds on the sender's clock)."""

    anchor_s: float
    anchor_tick: int
    bpm: float

    def __post_init__(self) -> None:
        if not (math.isfinite(self.bpm) and MIN_BPM <= self.bpm <= MAX_BPM):
            raise ValueError(f"clock tempo must be in [{MIN_BPM:g}, {MAX_BPM:g}] bpm, got {self.bpm}")
        if not math.isfinite(self.anchor_s):
            raise ValueError(f"clock anchor must be finite, got {self.anchor_s}")

    @property
    def tick_s(self) -> float:
        return tick_s(self.bpm)

    def due_s(self, tick: int) -> float:
        return self.anchor_s + (tick - self.anchor_tick) * self.tick_s


@dataclass(frozen=True, slots=True)
class TickSchedule:
    """The tempo in force (`grid`) and, until it starts, the next one (`pending_bpm` from `change_tick`)."""

    grid: TickGrid
    pending_bpm: float | None = None
    change_tick: int = 0

    @classmethod
    def starting(cls, now_s: float, bpm: float, first_tick: int = 0) -> TickSchedule:
        return cls(TickGrid(now_s, first_tick, bpm))

    @property
    def bpm(self) -> float:
        """The tempo the schedule is heading for (the pending one once asked for)."""
        return self.pending_bpm if self.pending_bpm is not None else self.grid.bpm

    def _after_change(self) -> TickGrid:
        assert self.pending_bpm is not None
        return TickGrid(self.grid.due_s(self.change_tick), self.change_tick, self.pending_bpm)

    def due_s(self, tick: int) -> float:
        if self.pending_bpm is not None and tick > self.change_tick:
            return self._after_change().due_s(tick)
        return self.grid.due_s(tick)

    def settled(self, next_tick: int) -> TickSchedule:
        """The same deadlines, with a change whose beat has been sent folded into the grid."""
        if self.pending_bpm is not None and next_tick > self.change_tick:
            return TickSchedule(self._after_change())
        return self

    def with_tempo(self, bpm: float, next_tick: int) -> TickSchedule:
        """A new tempo from the next beat (see the module doc); `next_tick` is the next tick to send."""
        s = self.settled(next_tick)
        if bpm == s.grid.bpm:
            return TickSchedule(s.grid)  # back to the tempo in force: a pending change is dropped
        if s.pending_bpm is not None:
            return replace(s, pending_bpm=bpm)  # its beat is still ahead: same beat, newer tempo
        TickGrid(s.grid.anchor_s, s.grid.anchor_tick, bpm)  # validates the tempo now, in the caller
        return TickSchedule(s.grid, bpm, next_beat_tick(next_tick))

    def renumbered(self, delta_ticks: int) -> TickSchedule:
        """The same deadlines under tick numbers shifted by `delta_ticks` (moves where beats start)."""
        g = self.grid
        return TickSchedule(TickGrid(g.anchor_s, g.anchor_tick + delta_ticks, g.bpm), self.pending_bpm,
                            self.change_tick + delta_ticks)

    def reanchored(self, tick: int, now_s: float) -> TickSchedule:
        """Tick `tick` due at `now_s` (after a stall: the grid moves rather than sending a burst)."""
        return TickSchedule(TickGrid(now_s, tick, self.bpm))


def tick_times(first_bpm: float, changes: tuple[tuple[int, float], ...], ticks: int,
               start_s: float = 0.0) -> list[float]:
    """Deadlines of ticks 0..ticks-1 when tempo `bpm` is asked for just before tick `at` is sent, for each
    (at, bpm) in `changes` (in order). The reference the sender thread follows, for tests and the bench."""
    schedule = TickSchedule.starting(start_s, first_bpm)
    pending = list(changes)
    out = []
    for n in range(ticks):
        while pending and pending[0][0] <= n:
            schedule = schedule.with_tempo(pending.pop(0)[1], n)
        schedule = schedule.settled(n)
        out.append(schedule.due_s(n))
    return out
