"""MIDI clock out (issue 16): the tick schedule, the transport messages, and the sender thread."""

from __future__ import annotations

import threading
import time

import pytest

from lmd_studio.midi.clock_out import ClockOut, ClockOutConfig, NullClockOut, to_mido
from lmd_studio.midi.clock_schedule import TickGrid, TickSchedule, tick_times
from lmd_studio.midi.clock_transport import CLOCK, CONTINUE, START, STOP, ClockOutCore

MS = 1e-3


# --- the schedule (pure) ----------------------------------------------------------------------------------
def test_ticks_at_120_bpm_are_absolute_deadlines():
    times = tick_times(120.0, (), 2881)
    assert times[1] == pytest.approx(1 / 48)  # 60 / (24 · 120) s
    assert times[48] == pytest.approx(1.0)  # two beats
    assert times[2880] == pytest.approx(60.0)  # 120 beats: no accumulated rounding
    assert times[2880] == 2880 * (60.0 / (24 * 120.0))


def test_a_tempo_change_takes_effect_at_the_next_beat():
    # asked for 90 bpm just before tick 30 is sent: ticks 30..48 keep 120's spacing, beat 2 (tick 48) is
    # at 1.000 s, then ticks are 60/(24·90) = 1/36 s apart
    times = tick_times(120.0, ((30, 90.0),), 200)
    assert times[30] == pytest.approx(30 / 48)
    assert times[47] == pytest.approx(47 / 48)
    assert times[48] == pytest.approx(1.0)
    assert times[49] == pytest.approx(1.0 + 1 / 36)
    assert times[72] == pytest.approx(1.0 + 24 / 36)  # one beat at 90 bpm = 0.6667 s
    # a second change (150 bpm) asked before tick 80 starts at beat 4 (tick 96 = 1 + 48/36 s)
    times = tick_times(120.0, ((30, 90.0), (80, 150.0)), 200)
    assert times[96] == pytest.approx(1.0 + 48 / 36)
    assert times[97] == pytest.approx(1.0 + 48 / 36 + 1 / 60)
    assert times[120] == pytest.approx(1.0 + 48 / 36 + 24 / 60)


def test_a_change_asked_on_a_beat_starts_after_that_beats_tick():
    times = tick_times(120.0, ((48, 60.0),), 60)
    assert times[48] == pytest.approx(1.0)  # the beat keeps its time
    assert times[49] == pytest.approx(1.0 + 1 / 24)  # 60 bpm: 41.7 ms per tick


def test_changing_again_before_the_beat_keeps_the_beat_and_takes_the_newest_tempo():
    s = TickSchedule.starting(0.0, 120.0).with_tempo(90.0, 5).with_tempo(100.0, 10)
    assert s.change_tick == 24 and s.pending_bpm == 100.0
    assert s.due_s(25) == pytest.approx(0.5 + 60 / (24 * 100))
    assert TickSchedule.starting(0.0, 120.0).with_tempo(90.0, 5).with_tempo(120.0, 6).pending_bpm is None


def test_tempo_outside_the_midi_range_is_refused():
    with pytest.raises(ValueError, match="tempo"):
        TickGrid(0.0, 0, 5.0)
    with pytest.raises(ValueError, match="tempo"):
        TickSchedule.starting(0.0, 120.0).with_tempo(1000.0, 3)


# --- the transport (pure) ---------------------------------------------------------------------------------
def fire(core: ClockOutCore, n: int) -> list:
    out = []
    for _ in range(n):
        out += core.fire()
    return out


def test_start_stop_continue_and_song_position_in_order():
    core = ClockOutCore(TickSchedule.starting(0.0, 120.0), next_tick=7)
    assert fire(core, 3) == [CLOCK] * 3  # ticks run while stopped
    core.play()
    assert core.fire() == [START, CLOCK]  # at once: the tick numbers move so this tick starts a beat
    assert core.next_tick % 24 == 1 and core.position_ticks == 1
    assert fire(core, 9) == [CLOCK] * 9
    core.stop()
    assert core.fire() == [STOP, CLOCK]
    assert core.position_ticks == 10 and not core.playing
    assert fire(core, 5) == [CLOCK] * 5
    core.play()
    # 10 ticks played → resume at the 2nd 16th (12 ticks); the pointer goes first, while still stopped
    assert core.fire() == [("songpos", 2), CONTINUE, CLOCK]
    assert (core.next_tick - 1) % 24 == 12 and core.position_ticks == 13
    core.stop()
    core.fire()
    core.rewind()
    core.play()
    assert core.fire() == [START, CLOCK]
    assert [to_mido(m).type for m in ([("songpos", 2), CONTINUE, START, STOP, CLOCK])] == [
        "songpos", "continue", "start", "stop", "clock"]
    assert to_mido(("songpos", 2)).pos == 2


def test_renumbering_keeps_deadlines_and_a_pending_change_on_a_beat():
    core = ClockOutCore(TickSchedule.starting(0.0, 120.0), next_tick=7)
    core.set_tempo(90.0)  # pending until tick 24
    due = core.due_s()
    core.play()
    core.fire()  # renumbered so this tick is 0 of a beat
    assert core.schedule.due_s(core.next_tick - 1) == pytest.approx(due)
    assert core.schedule.pending_bpm == 90.0 and core.schedule.change_tick % 24 == 0


def test_locked_to_an_outside_grid_start_waits_for_its_beat():
    core = ClockOutCore(TickSchedule.starting(0.0, 120.0))
    core.lock_to(10.0, 10.5, 120.0)  # beat 10.5 at t = 10 s → tick 252 due now
    assert core.next_tick == 252 and core.due_s() == pytest.approx(10.0)
    core.play()
    assert fire(core, 12) == [CLOCK] * 12  # 252..263: not on a beat yet
    assert core.due_s() == pytest.approx(10.25)  # tick 264 = beat 11
    assert core.fire() == [START, CLOCK]
    # the grid's tempo changes at once (Link's way); our tick numbers stay continuous
    core.lock_to(10.26, 11.01, 60.0)  # 10 ms after beat 11 the grid slowed to 60 bpm
    assert core.next_tick == 265  # tick 265 = beat 11 + 1/24, 0.76 ticks of 1/24 s ahead
    assert core.due_s() == pytest.approx(10.26 + 0.76 / 24)


def test_locked_ticks_are_never_repeated_nor_skipped_for_small_timing_errors():
    core = ClockOutCore(TickSchedule.starting(0.0, 120.0))
    core.lock_to(0.0, 0.0, 120.0)
    assert core.next_tick == 0
    core.fire()
    core.lock_to(0.0, -0.001, 120.0)  # our tick 0 went out a hair before the grid reached it
    assert core.next_tick == 1
    core.lock_to(0.0, 2.5 / 24, 120.0)  # woke 1.5 ticks late: tick 1 is still sent (late)
    assert core.next_tick == 1
    core.lock_to(0.0, 10.0, 120.0)  # a stall of many ticks: the numbers jump to the grid
    assert core.next_tick == 240


# --- the sender thread (real time, a fake port) -----------------------------------------------------------
class FakePort:
    def __init__(self) -> None:
        self.sent: list[tuple[float, str]] = []
        self.closed = False
        self.lock = threading.Lock()

    def send(self, msg) -> None:
        with self.lock:
            self.sent.append((time.perf_counter(), msg.type))

    def close(self) -> None:
        self.closed = True

    def types(self) -> list[str]:
        with self.lock:
            return [t for _, t in self.sent]


def test_locked_to_the_engines_bars_start_waits_for_a_bar_line_and_for_the_grid():
    core = ClockOutCore(TickSchedule.starting(0.0, 120.0))
    core.start_quantum_ticks = 24 * 4  # 4/4: the grid's beats count from a bar line
    core.hold_start = True  # the engine is priming: no grid yet
    core.play()
    assert fire(core, 30) == [CLOCK] * 30 and not core.playing
    core.hold_start = False
    core.lock_to(10.0, 5.0, 120.0)  # beat 5 (bar 2, beat 2) at t = 10 s → tick 120 due now
    assert core.next_tick == 120
    assert fire(core, 72) == [CLOCK] * 72  # 120..191: beats 5–7 are not a bar line
    assert core.next_tick == 192 and core.due_s() == pytest.approx(11.5)  # beat 8 = bar 3's downbeat
    assert core.fire() == [START, CLOCK]
    core.stop()
    assert core.fire() == [STOP, CLOCK]
    core.play()  # Continue resumes on its beat phase, not on a bar line
    out = fire(core, 30)
    assert CONTINUE in out and out.index(CONTINUE) < 24


def test_start_goes_out_on_the_grids_bar_line_once_it_answers():
    """The sender thread with an engine-like grid that answers only after a while (priming): no Start
    before it, then Start on the tick the grid puts on a bar line."""
    port = FakePort()
    t0 = time.perf_counter() + 0.3  # the grid answers from here: beat 1.5 (bar 1, beat 2½) at t0, 240 bpm
    starts: list[tuple[int, float]] = []

    def grid():
        now = time.perf_counter()
        return None if now < t0 else (now, 1.5 + (now - t0) * 4.0, 240.0)

    def sent(tick, due, _sent, messages):
        if ("start", 0) in messages:
            starts.append((tick, due))

    out = ClockOut(port, lambda: 120.0, ClockOutConfig(realtime_priority=0), timeline=grid, on_sent=sent,
                   beats_per_bar=lambda: 4)
    out.start()
    try:
        out.play()
        time.sleep(1.8)
    finally:
        out.close()
    assert len(starts) == 1
    tick, due = starts[0]
    assert due >= t0 and tick % 96 == 0
    beat_then = 1.5 + (due - t0) * 4.0
    assert beat_then == pytest.approx(round(beat_then / 4) * 4, abs=0.05)  # on the grid's bar line


def test_the_sender_thread_keeps_the_tempo_and_orders_transport():
    port = FakePort()
    bpm = [300.0]  # 8.3 ms ticks: a short test
    out = ClockOut(port, lambda: bpm[0], ClockOutConfig(realtime_priority=0))
    out.start()
    try:
        time.sleep(0.3)
        out.play()
        time.sleep(0.3)
        out.stop()
        time.sleep(0.1)
        out.play()
        time.sleep(0.2)
    finally:
        out.close()
    assert port.closed
    types = [t for t in port.types() if t != "clock"]
    assert types == ["start", "stop", "songpos", "continue", "stop"]  # the last: closing while playing
    clocks = [t for t, kind in port.sent if kind == "clock"]
    span = clocks[-1] - clocks[0]
    assert span / (len(clocks) - 1) == pytest.approx(60 / (24 * 300), rel=0.02)
    m = out.metrics
    assert m.ticks_sent == len(clocks) and not m.running and m.send_errors == 0


def test_no_tempo_in_the_studio_sends_the_default_and_errors_do_not_stop_it():
    class Broken(FakePort):
        def send(self, msg) -> None:
            raise OSError("port gone")

    out = ClockOut(Broken(), lambda: None, ClockOutConfig(default_bpm=240.0, realtime_priority=0))
    out.start()
    time.sleep(0.15)
    m = out.metrics
    out.close()
    assert m.bpm == 240.0 and m.ticks_sent >= 5 and m.send_errors == m.ticks_sent and "port gone" in m.last_error


def test_null_clock_out_does_nothing_and_says_why():
    null = NullClockOut("no virtual ports here")
    null.start()
    null.play()
    null.close()
    assert null.metrics.last_error == "no virtual ports here" and not null.metrics.running


def test_a_stall_shorter_than_a_beat_is_caught_up_on_the_same_grid_a_longer_one_moves_it():
    offset = [0.0]
    sent: list[tuple[int, float, float]] = []
    out = ClockOut(FakePort(), lambda: 300.0, ClockOutConfig(realtime_priority=0),
                   clock=lambda: time.perf_counter() + offset[0],
                   on_sent=lambda tick, due, t, msgs: sent.append((tick, due, t)))
    out.start()
    try:
        time.sleep(0.1)
        offset[0] += 0.05  # the machine stalled 50 ms (6 ticks at 300 bpm): they go out at once
        time.sleep(0.1)
        assert out.metrics.reanchors == 0
        ticks = [(k, due) for k, due, _ in sent]
        (k0, due0), (k1, due1) = ticks[0], ticks[-1]
        assert due1 - due0 == pytest.approx((k1 - k0) * 60 / (24 * 300))  # one grid throughout
        assert min(b[2] - a[2] for a, b in zip(sent, sent[1:])) < 0.001  # the burst
        offset[0] += 1.0  # a suspend: five beats late → the grid moves, no five-beat burst
        time.sleep(0.1)
        assert out.metrics.reanchors == 1
    finally:
        out.close()
