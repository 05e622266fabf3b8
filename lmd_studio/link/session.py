"""Ableton Link behind a small adapter: `LinkSession` (aalink) and its `NullLinkSession` twin.

aalink wants an asyncio loop (its Link object is made inside one and hands callbacks to it), so the
adapter runs one in its own "ableton-link" thread. Every `poll_interval_s` that thread samples the
session (tempo, beat, peers) into a `LinkState` and calls `on_state(state)` — the app's tempo bridge,
which keeps the studio's tempo and the session's equal (tempo_bridge.py). `set_tempo` and `timeline`
may be called from any thread: Link's app-side calls are thread-safe.

Times are `time.perf_counter()` seconds (Link reads its own monotonic clock; a beat is sampled between
two perf_counter reads, so the pairing is good to a few microseconds). Link talks on the local network
(multicast discovery on every interface) only while the session is started: the studio keeps it off
unless the user turns it on.
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

MIN_BPM = 20.0
MAX_BPM = 999.0  # Link's own range


@dataclass(frozen=True, slots=True)
class LinkConfig:
    """`quantum_beats`: the span whose phase Link aligns between peers (4 = a bar of 4/4)."""

    initial_bpm: float = 120.0
    quantum_beats: float = 4.0
    poll_interval_s: float = 0.005

    def __post_init__(self) -> None:
        if not MIN_BPM <= self.initial_bpm <= MAX_BPM:
            raise ValueError(f"link initial_bpm must be in [{MIN_BPM:g}, {MAX_BPM:g}], got {self.initial_bpm}")
        if not 1.0 <= self.quantum_beats <= 64.0:
            raise ValueError(f"link quantum_beats must be in [1, 64], got {self.quantum_beats}")
        if not 0.001 <= self.poll_interval_s <= 0.1:
            raise ValueError(f"link poll_interval_s must be in [0.001, 0.1] s, got {self.poll_interval_s}")


@dataclass(frozen=True, slots=True)
class LinkState:
    """The session at `t_s`: `beat` on its timeline, `bpm`, other peers seen (`peers`)."""

    running: bool
    peers: int
    bpm: float
    beat: float
    t_s: float
    quantum_beats: float = 4.0
    error: str = ""

    def beat_at(self, t_s: float) -> float:
        return self.beat + (t_s - self.t_s) * self.bpm / 60.0

    @property
    def phase_beats(self) -> float:
        """Where in the quantum (bar) the session is: 0 ≤ phase < quantum."""
        return math.fmod(self.beat, self.quantum_beats) % self.quantum_beats


OFF = LinkState(False, 0, 0.0, 0.0, 0.0)


class LinkSession:
    """Join (or start) a Link session. `on_state` runs in the Link thread after every sample; it must be
    quick and must not call `close`."""

    def __init__(self, config: LinkConfig | None = None,
                 on_state: Callable[[LinkState], None] | None = None) -> None:
        self.config = config or LinkConfig()
        self.on_state = on_state
        self._link: Any = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._stop = threading.Event()
        self._state = OFF
        self.error = ""

    def start(self) -> None:
        """Join the session (a background thread); returns once Link runs or has failed (`error`)."""
        if self._thread is not None:
            return
        self._ready.clear()
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="ableton-link", daemon=True)
        self._thread.start()
        self._ready.wait(5.0)

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except Exception as exc:  # noqa: BLE001 — aalink missing or Link refusing: the app stays up
            self.error = f"Ableton Link is unavailable: {type(exc).__name__}: {exc}"
            self._state = LinkState(False, 0, 0.0, 0.0, time.perf_counter(), self.config.quantum_beats, self.error)
        finally:
            self._ready.set()

    async def _main(self) -> None:
        from aalink import Link  # GPL-3.0-or-later; imported only when the user turns Link on

        link = Link(self.config.initial_bpm)
        link.quantum = self.config.quantum_beats
        link.enabled = True
        self._link = link
        self._sample()
        self._ready.set()
        try:
            while not self._stop.is_set():
                await asyncio.sleep(self.config.poll_interval_s)
                state = self._sample()
                if self.on_state is not None:
                    self.on_state(state)
        finally:
            link.enabled = False
            self._link = None
            self._state = OFF

    def _sample(self) -> LinkState:
        link = self._link
        if link is None:
            return self._state
        t0 = time.perf_counter()
        beat = link.beat
        t1 = time.perf_counter()
        state = LinkState(True, int(link.num_peers), float(link.tempo), float(beat), 0.5 * (t0 + t1),
                          self.config.quantum_beats)
        self._state = state
        return state

    # --- any thread -------------------------------------------------------------------------------------
    def state(self) -> LinkState:
        """The newest sample (at most `poll_interval_s` old)."""
        return self._state

    def timeline(self) -> tuple[float, float, float] | None:
        """(perf_counter s, beat, bpm) sampled now, for the MIDI clock's beat grid; None while not running."""
        link = self._link
        if link is None:
            return None
        t0 = time.perf_counter()
        beat = link.beat
        t1 = time.perf_counter()
        return 0.5 * (t0 + t1), float(beat), float(link.tempo)

    def set_tempo(self, bpm: float) -> None:
        """Publish a tempo to every peer (from now on; the beat at this moment is kept)."""
        link = self._link
        if link is not None and math.isfinite(bpm):
            link.tempo = min(MAX_BPM, max(MIN_BPM, float(bpm)))

    @property
    def running(self) -> bool:
        return self._link is not None

    def close(self) -> None:
        """Leave the session (peers see us go) and stop the thread."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5.0)
            self._thread = None


class NullLinkSession:
    """Link when it is off (the default) or unavailable: no session, no network."""

    config = LinkConfig()
    running = False

    def __init__(self, error: str = "") -> None:
        self.error = error

    def start(self) -> None: ...
    def close(self) -> None: ...
    def set_tempo(self, bpm: float) -> None: ...

    def state(self) -> LinkState:
        return OFF

    def timeline(self) -> tuple[float, float, float] | None:
        return None
