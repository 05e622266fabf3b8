"""What the MIDI clock sender says at each tick: clock, and start / stop / continue / song position.

`ClockOutCore` is the sender thread's state, with no clock and no port: `due_s()` is when the next tick is
due and `fire()` returns the messages to send then, in order. Ticks run while the transport is stopped too
(a drum machine keeps its tempo display and is ready to start in time).

Transport, as MIDI's spec has it: Start makes the receiver play from the top at the next clock, Continue
from the song position it last received (Song Position Pointer, in 16th notes = 6 ticks, sent only while
stopped). So:
- play from the top → Start, then the clock of a tick that begins a beat (tick number % 24 == 0);
- play after a stop → Song Position Pointer (where we stopped, rounded up to a 16th), then Continue before
  the tick whose beat phase equals that position's, so the receiver's beats fall on ours;
- stop → Stop before the next tick's clock; the position is the clocks sent while playing.
With no outside beat grid (`phase_locked` False) the tick numbers are ours to choose: they are shifted so
that the very next tick has the phase wanted, and Start/Continue go out at once (within one tick). With an
outside grid (the engine's beats as heard, or Ableton Link, `lock_to`) the tick numbers are that grid's
beats × 24, Start waits for the grid's next bar line (`start_quantum_ticks`; beats counted from a bar line)
and Continue for the tick of its beat phase, so every device on our clock plays in phase with the grid; a
grid that is expected but not answering yet (the engine priming its first blocks) holds them (`hold_start`).
"""

from __future__ import annotations

import math

from lmd_studio.midi.clock import SONG_POSITION_TICKS, TICKS_PER_BEAT
from lmd_studio.midi.clock_schedule import TickGrid, TickSchedule, tick_s

Message = tuple[str, int]  # (mido message type, song position in 16ths for 'songpos', else 0)
CLOCK: Message = ("clock", 0)
START: Message = ("start", 0)
STOP: Message = ("stop", 0)
CONTINUE: Message = ("continue", 0)
MAX_SONG_POSITION = 16383  # the pointer is 14 bits of 16th notes


class ClockOutCore:
    """Owned by one thread (the sender's). `playing` is what the receivers were told."""

    def __init__(self, schedule: TickSchedule, next_tick: int = 0, stall_ticks: float = 24.0) -> None:
        self.schedule = schedule
        self.stall_ticks = stall_ticks
        self.next_tick = next_tick
        self.playing = False
        self.position_ticks = 0  # song position of the next clock while playing; where Continue resumes
        self.phase_locked = False
        # Start from the top waits for a tick whose number is a multiple of this (24 × beats per bar: a bar
        # line of the grid it is locked to; 24: any beat); Continue always resumes on its beat phase
        self.start_quantum_ticks = TICKS_PER_BEAT
        self.hold_start = False  # a beat grid is expected but not there yet: Start/Continue wait for it
        self._want_playing = False
        self._songpos_sent = False

    # --- requests (from the sender thread, which takes them from the caller's thread) -------------------
    def play(self) -> None:
        self._want_playing = True

    def stop(self) -> None:
        self._want_playing = False
        self._songpos_sent = False

    def rewind(self) -> None:
        """The next play starts from the top (Start rather than Continue)."""
        if not self.playing:
            self.position_ticks = 0
            self._songpos_sent = False

    def set_tempo(self, bpm: float) -> None:
        if not self.phase_locked and bpm != self.schedule.bpm:
            self.schedule = self.schedule.with_tempo(bpm, self.next_tick)

    def lock_to(self, t_s: float, beat: float, bpm: float) -> None:
        """Follow an outside beat grid: beat `beat` at time `t_s`, at `bpm`. Tick n is due when that grid
        reaches beat n / 24. Ticks are never skipped for a late wake-up nor repeated for an early one;
        only a jump of the grid (a peer moving it back, or a stall of more than `stall_ticks`) renumbers
        the ticks, so the receivers stay in phase without a burst of ticks."""
        self.phase_locked = True
        grid_tick = beat * TICKS_PER_BEAT
        drift = grid_tick - self.next_tick  # normally in (-1, 0]: the grid is on its way to our next tick
        if drift < -1.5 or drift > self.stall_ticks:
            self.next_tick = math.ceil(grid_tick - 1e-6)
        self.schedule = TickSchedule(TickGrid(t_s + (self.next_tick - grid_tick) * tick_s(bpm), self.next_tick,
                                              bpm))

    def unlock(self) -> None:
        self.phase_locked = False

    # --- the tick -------------------------------------------------------------------------------------
    def due_s(self) -> float:
        return self.schedule.due_s(self.next_tick)

    def reanchor(self, now_s: float) -> None:
        """The thread woke far too late (the machine stalled): the next tick is due now."""
        self.schedule = self.schedule.settled(self.next_tick).reanchored(self.next_tick, now_s)

    def fire(self) -> list[Message]:
        """The messages due at `due_s()`, in order, ending with this tick's clock."""
        self.schedule = self.schedule.settled(self.next_tick)
        out: list[Message] = []
        if self._want_playing != self.playing:
            if not self._want_playing:
                out.append(STOP)
                self.playing = False
            else:
                out += self._start_or_continue()
        out.append(CLOCK)
        if self.playing:
            self.position_ticks += 1
        self.next_tick += 1
        return out

    def _start_or_continue(self) -> list[Message]:
        sixteenths = min(MAX_SONG_POSITION, -(-self.position_ticks // SONG_POSITION_TICKS))
        resume = sixteenths * SONG_POSITION_TICKS
        out: list[Message] = []
        if resume and not self._songpos_sent:
            out.append(("songpos", sixteenths))  # while still stopped, as the spec asks
            self._songpos_sent = True
        if self.hold_start:
            return out
        quantum = self.start_quantum_ticks if resume == 0 else TICKS_PER_BEAT
        phase = resume % quantum
        if self.next_tick % quantum != phase:
            if self.phase_locked:
                return out  # wait for the grid's tick with this phase
            self._renumber((phase - self.next_tick) % quantum)
        out.append(CONTINUE if resume else START)
        self.playing = True
        self.position_ticks = resume
        self._songpos_sent = False
        return out

    def _renumber(self, delta: int) -> None:
        pending = self.schedule.pending_bpm
        self.schedule = TickSchedule(self.schedule.grid).renumbered(delta)
        self.next_tick += delta
        if pending is not None:  # the change still waits for a beat: a beat under the new numbers
            self.schedule = self.schedule.with_tempo(pending, self.next_tick)
