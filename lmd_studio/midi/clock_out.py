"""MIDI clock out: a virtual output port ("LMD Studio Clock") sending 24-ppq clock, start/stop/continue and
song position, so a drum machine or a second app follows the studio.

One "midi-clock-out" thread sends every message. It sleeps until about `spin_s` before each tick's
deadline, then spins (yielding the GIL: `time.sleep(0)`) until the deadline and sends: deadlines are
absolute (clock_schedule), so a late wake-up delays one tick and never the ones after it. The tempo is
read from `tempo_bpm()` (the studio's parameter mailbox) once per tick; a change takes effect at the next
beat. With `timeline` (Ableton Link's beat grid) the ticks follow that grid instead, tempo and phase
(clock_transport). Nothing here runs in the audio callback, and the MIDI system is only given bytes.

Under JACK, rtmidi hands output to JACK's process thread, which puts it at the start of the next period:
the wire is quantised to the period (5.3 ms at 256 frames) whatever the sender does (`lmd bench clock`
measures both sides).
"""

from __future__ import annotations

import contextlib
import math
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import mido

from lmd_studio.midi.clock import TICKS_PER_BEAT
from lmd_studio.midi.clock_schedule import MAX_BPM, MIN_BPM, TickSchedule, tick_s
from lmd_studio.midi.clock_transport import ClockOutCore, Message

CLOCK_OUT_PORT = "LMD Studio Clock"
GRID_WAIT_S = 3.0  # Start waits this long at most for an expected beat grid, then goes out on our own
Timeline = Callable[[], "tuple[float, float, float] | None"]  # → (perf_counter s, beat, bpm) or None
SentHook = Callable[[int, float, float, "list[Message]"], None]  # (tick, due_s, send started s, messages)


@dataclass(frozen=True, slots=True)
class ClockOutConfig:
    """`default_bpm`: sent while the studio has no tempo of its own. `spin_s`: how long before a deadline
    the thread stops sleeping and spins. `stall_ticks`: ticks missed by a late wake-up are sent at once and
    the grid is kept (receivers keep their song position and the long-run tempo stays exact); only a wake-up
    later than this many ticks (a suspended machine) moves the grid instead. One beat by default: on the
    2-vCPU test VM any thread, real-time or not, stalls up to ~100 ms a few times a minute (host steal). `realtime_priority`: the sender
    thread asks for SCHED_FIFO at this priority (0: never), the lowest by default, below JACK's threads
    but above every ordinary one; refused (no rtprio right), it runs as an ordinary thread. Measured on 2
    shared cores at load 6: tick lateness p95 0.02 ms with it, 2–3 ms without."""

    port_name: str = CLOCK_OUT_PORT
    default_bpm: float = 120.0
    spin_s: float = 0.001
    stall_ticks: float = 24.0
    realtime_priority: int = 1

    def __post_init__(self) -> None:
        if not self.port_name.strip():
            raise ValueError("clock out port_name must not be empty")
        if not MIN_BPM <= self.default_bpm <= MAX_BPM:
            raise ValueError(f"clock out default_bpm must be in [{MIN_BPM:g}, {MAX_BPM:g}], got {self.default_bpm}")
        if not 0.0 <= self.spin_s <= 0.01:
            raise ValueError(f"clock out spin_s must be in [0, 0.01] s, got {self.spin_s}")
        if not 0 <= self.realtime_priority <= 99:
            raise ValueError(f"clock out realtime_priority must be in [0, 99], got {self.realtime_priority}")
        if not self.stall_ticks >= 1.0:
            raise ValueError(f"clock out stall_ticks must be >= 1, got {self.stall_ticks}")


@dataclass(frozen=True, slots=True)
class ClockOutMetrics:
    """Sender-side timing: `late_*_ms` = send time − deadline (before the MIDI system adds its own).
    `realtime`: the sender thread got its real-time priority."""

    running: bool
    realtime: bool
    ticks_sent: int
    playing: bool
    bpm: float
    late_mean_ms: float
    late_max_ms: float
    reanchors: int
    send_errors: int
    last_error: str


_FIXED = {kind: mido.Message(kind) for kind in ("clock", "start", "stop", "continue")}


def to_mido(message: Message) -> mido.Message:
    kind, value = message
    return mido.Message("songpos", pos=value) if kind == "songpos" else _FIXED[kind]


class ClockOut:
    """Sends MIDI clock to `port` (anything with `send(mido.Message)` and `close()`; it is closed with us).
    play/stop/rewind/set_timeline are for any thread; they take effect at the next tick."""

    def __init__(self, port: Any, tempo_bpm: Callable[[], float | None], config: ClockOutConfig | None = None,
                 timeline: Timeline | None = None, clock: Callable[[], float] = time.perf_counter,
                 on_sent: SentHook | None = None, beats_per_bar: Callable[[], int] | None = None) -> None:
        self.config = config or ClockOutConfig()
        self.port = port
        self._tempo = tempo_bpm
        self._timeline = timeline
        self._beats_per_bar = beats_per_bar  # bars of the grid (its beats counted from a bar line); None: beats
        self._play_asked_s = -math.inf  # when play was last asked (a grid is waited for up to GRID_WAIT_S)
        self._clock = clock
        self._on_sent = on_sent
        self._requests: list[str] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._ticks = 0
        self._late_sum_s = 0.0
        self._late_max_s = 0.0
        self._reanchors = 0
        self._errors = 0
        self._last_error = ""
        self._playing = False
        self._bpm = self.config.default_bpm
        self._realtime = False

    # --- the caller's side ----------------------------------------------------------------------------
    def start(self) -> None:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="midi-clock-out", daemon=True)
            self._thread.start()

    def play(self) -> None:
        self._request("play")

    def stop(self) -> None:
        self._request("stop")

    def rewind(self) -> None:
        self._request("rewind")

    def set_playing(self, playing: bool) -> None:
        self._request("play" if playing else "stop")

    def set_timeline(self, timeline: Timeline | None) -> None:
        """Follow this beat grid (Ableton Link), or None: the studio's own tempo again."""
        self._timeline = timeline

    @property
    def timeline(self) -> Timeline | None:
        """The beat grid the clock follows (Ableton Link's), or None: the studio's own tempo."""
        return self._timeline

    def _request(self, what: str) -> None:
        with self._lock:
            self._requests.append(what)

    def close(self) -> None:
        """Stop the thread (a last Stop goes out if the receivers were playing) and close the port."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2.0)
            self._thread = None
        with contextlib.suppress(Exception):
            self.port.close()

    @property
    def metrics(self) -> ClockOutMetrics:
        n = self._ticks
        return ClockOutMetrics(self._thread is not None, self._realtime, n, self._playing, self._bpm,
                               1000.0 * self._late_sum_s / n if n else 0.0, 1000.0 * self._late_max_s,
                               self._reanchors, self._errors, self._last_error)

    # --- the sender thread ----------------------------------------------------------------------------
    def _current_bpm(self) -> float:
        bpm = self._tempo()
        if bpm is None or not math.isfinite(bpm):
            return self.config.default_bpm
        return min(MAX_BPM, max(MIN_BPM, float(bpm)))

    def _raise_priority(self) -> None:
        prio = self.config.realtime_priority
        if prio and hasattr(os, "sched_setscheduler"):
            try:
                os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(prio))  # 0: this thread (Linux)
                self._realtime = True
            except (OSError, ValueError):
                self._realtime = False

    def _run(self) -> None:
        self._raise_priority()
        clock, spin_s = self._clock, self.config.spin_s
        core = ClockOutCore(TickSchedule.starting(clock() + 0.002, self._current_bpm()),
                            stall_ticks=self.config.stall_ticks)
        while not self._stop.is_set():
            self._take_requests(core)
            self._follow(core)
            due = core.due_s()
            wait_s = due - clock() - spin_s
            if wait_s > 0.0:
                self._stop.wait(min(wait_s, 0.05))  # re-read tempo and requests at least every 50 ms
                continue
            while clock() < due:
                time.sleep(0)  # spin, letting other threads have the GIL
            now = clock()
            if not core.phase_locked and now - due > self.config.stall_ticks * tick_s(core.schedule.grid.bpm):
                core.reanchor(now)
                self._reanchors += 1
                due = now
            tick = core.next_tick
            messages = core.fire()
            sent = clock()  # before sending: the MIDI system may deliver it before send() returns
            self._send(messages)
            self._late_sum_s += sent - due
            self._late_max_s = max(self._late_max_s, sent - due)
            self._ticks += 1
            self._playing = core.playing
            if self._on_sent is not None:
                self._on_sent(tick, due, sent, messages)
        if core.playing:
            self._send([("stop", 0)])

    def _take_requests(self, core: ClockOutCore) -> None:
        if not self._requests:
            return
        with self._lock:
            requests, self._requests = self._requests, []
        for what in requests:
            if what == "play":
                self._play_asked_s = self._clock()
            getattr(core, what)()

    def _follow(self, core: ClockOutCore) -> None:
        timeline = self._timeline
        try:
            sample = timeline() if timeline is not None else None
        except Exception:  # noqa: BLE001 — a grid that cannot answer (an engine being replaced) is no grid now
            sample = None
        per_bar = self._beats_per_bar() if self._beats_per_bar is not None else 1
        core.start_quantum_ticks = TICKS_PER_BEAT * max(1, int(per_bar))
        # a grid that is set but not answering yet (the engine priming): Start waits for it, a while
        core.hold_start = (sample is None and timeline is not None
                           and self._clock() - self._play_asked_s < GRID_WAIT_S)
        if sample is not None:
            t_s, beat, bpm = sample
            core.lock_to(t_s, beat, min(MAX_BPM, max(MIN_BPM, bpm)))
            self._bpm = bpm
            return
        if core.phase_locked:
            core.unlock()
        self._bpm = self._current_bpm()
        core.set_tempo(self._bpm)

    def _send(self, messages: list[Message]) -> None:
        for m in messages:
            try:
                self.port.send(to_mido(m))
            except Exception as exc:  # noqa: BLE001 — a vanished MIDI system must not kill the clock thread
                self._errors += 1
                self._last_error = f"{type(exc).__name__}: {exc}"


class NullClockOut:
    """Clock out when it is off or the backend has no virtual output ports: every request does nothing.
    `reason` says why (shown to the user when clock out was asked for)."""

    def __init__(self, reason: str = "") -> None:
        self.reason = reason

    def start(self) -> None: ...
    def play(self) -> None: ...
    def stop(self) -> None: ...
    def rewind(self) -> None: ...
    def set_playing(self, playing: bool) -> None: ...
    def set_timeline(self, timeline: Timeline | None) -> None: ...
    def close(self) -> None: ...

    @property
    def timeline(self) -> Timeline | None:
        return None

    @property
    def metrics(self) -> ClockOutMetrics:
        return ClockOutMetrics(False, False, 0, False, 0.0, 0.0, 0.0, 0, 0, self.reason)
