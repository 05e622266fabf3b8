"""Follow MIDI clock (24 ticks per quarter note): tempo, beat position, start/stop/continue.

Tick arrival times jitter by up to a whole audio period (JACK delivers MIDI once per period, 5.3 ms at
256 frames), which is a quarter of a tick at 120 BPM, so per-tick intervals are useless on their own. The
tempo is the least-squares slope of the last `window_ticks` arrival times against their index, which
averages the jitter away (≈ 0.03 BPM spread over 96 ticks). The published BPM moves only when the
estimate leaves a ±`hysteresis_bpm` band: every change wakes the generator, so it must not flicker.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

from lmd_studio.midi.sink import ControlSink

TICKS_PER_BEAT = 24
SONG_POSITION_TICKS = 6  # one MIDI beat (a 16th note) of the song position pointer


@dataclass(frozen=True, slots=True)
class ClockConfig:
    """`follow_transport`: MIDI start/continue → "play", stop → "stop" actions."""

    enabled: bool = True
    follow_transport: bool = False
    window_ticks: int = 96
    min_ticks: int = 24
    hysteresis_bpm: float = 0.25
    timeout_s: float = 0.5
    min_bpm: float = 20.0
    max_bpm: float = 400.0

    def __post_init__(self) -> None:
        if not 3 <= self.min_ticks <= self.window_ticks:
            raise ValueError(f"clock needs 3 <= min_ticks <= window_ticks, got {self.min_ticks}, {self.window_ticks}")
        if not 0.0 <= self.hysteresis_bpm < 5.0:
            raise ValueError(f"clock hysteresis_bpm must be in [0, 5), got {self.hysteresis_bpm}")
        if not self.timeout_s > 0.0:
            raise ValueError(f"clock timeout_s must be > 0, got {self.timeout_s}")
        if not 0.0 < self.min_bpm < self.max_bpm:
            raise ValueError(f"clock needs 0 < min_bpm < max_bpm, got {self.min_bpm}, {self.max_bpm}")


@dataclass(frozen=True, slots=True)
class ClockState:
    """`bpm`: the published tempo (None until enough ticks). `receiving`: ticks arrived within the
    timeout. `playing`: the transport state from start/stop/continue. `beats`: quarter notes since the
    last start (or song position), for bar counting; `last_tick_s`: perf_counter time of the newest tick."""

    bpm: float | None
    receiving: bool
    playing: bool
    beats: float
    last_tick_s: float | None


class ClockFollower:
    """Ticks are numbered: a tick arriving about k periods after the previous one (k >= 2: ticks lost
    on the way, e.g. in a JACK xrun) counts as tick +k, so losses neither bend the tempo nor the beat
    count. But a tick followed right away by the next (under `_BUNCHED_PERIODS`) was late, not after
    lost ones (a stalled sender or JACK cycle delivers the late tick and the next ones together): it is
    numbered back and its slot goes to the last tick of the bunch, the only one on time. (Counted as a
    loss, one late tick bent the tempo by ~2 BPM for a whole window.)
    A gap of more than `_GAP_PERIODS` periods is a pause: the regression starts afresh."""

    _GAP_PERIODS = 8.0
    # JACK delivers once per audio period, so on-time ticks arrive a whole number (≥ 1) of audio periods
    # apart, i.e. ≥ 0.64 tick periods at 300 BPM / 256 frames (0.85 at 400 BPM): under half a tick
    # period apart, two ticks came out of a stall together (a measured one: 3.7, 0.47, 0, 0 periods)
    _BUNCHED_PERIODS = 0.5

    def __init__(self, config: ClockConfig, sink: ControlSink) -> None:
        self.config = config
        self._sink = sink
        self._times = np.zeros(config.window_ticks, dtype=np.float64)  # ring of tick arrival times
        self._numbers = np.zeros(config.window_ticks, dtype=np.float64)  # ring of their tick numbers
        self._n = 0  # ticks stored since the last pause
        self._k = 0  # tick number of the newest tick
        self._last_steps = 1  # how many tick numbers the newest tick advanced
        self._last_tick_s: float | None = None
        self._estimate_bpm: float | None = None
        self._published: float | None = None
        self._playing = False
        self._ticks_since_start = 0
        self._lock = threading.Lock()

    def tick(self, now_s: float) -> None:
        if not self.config.enabled:
            return
        with self._lock:
            last = self._last_tick_s
            steps = 1
            bunched = False
            if last is not None:
                gap_s = now_s - last
                if gap_s > self._gap_limit_s():
                    self._n = 0  # the clock paused: old ticks would bend the slope
                elif self._estimate_bpm is not None:
                    periods = gap_s * self._estimate_bpm * TICKS_PER_BEAT / 60.0
                    # 1.75, not 1.5: JACK delivers once per audio period, which at 300 BPM and 256
                    # frames is 0.64 of a tick, so an on-time tick can look up to 1.64 ticks late
                    if periods >= 1.75:
                        steps = int(round(periods))
                    bunched = periods < self._BUNCHED_PERIODS and self._n > 0
            if bunched:
                # the newest tick was held up and came with this one: it was late, not after lost ticks,
                # and its arrival time says nothing about the tempo, so this tick takes its slot
                self._n -= 1
                if self._last_steps >= 2:
                    self._k -= self._last_steps - 1
                    if self._playing:
                        self._ticks_since_start -= self._last_steps - 1
            self._last_steps = steps
            self._k += steps
            slot = self._n % self.config.window_ticks
            self._times[slot] = now_s
            self._numbers[slot] = self._k
            self._n += 1
            self._last_tick_s = now_s
            if self._playing:
                self._ticks_since_start += steps
            if self._n >= self.config.min_ticks and not bunched:  # mid-bunch the numbers are not final
                self._estimate()

    def _gap_limit_s(self) -> float:
        if self._estimate_bpm is None:
            return 60.0 / (self.config.min_bpm * TICKS_PER_BEAT)
        return self._GAP_PERIODS * 60.0 / (self._estimate_bpm * TICKS_PER_BEAT)

    def _estimate(self) -> None:
        n = min(self._n, self.config.window_ticks)
        # the ring's order does not matter to a least-squares fit: use the n filled slots as they are
        t = self._times[:n]
        i = self._numbers[:n]
        di = i - i.mean()
        seconds_per_tick = float(np.dot(di, t - t.mean()) / np.dot(di, di))
        if seconds_per_tick <= 0.0:
            return
        bpm = 60.0 / (seconds_per_tick * TICKS_PER_BEAT)
        if not self.config.min_bpm <= bpm <= self.config.max_bpm:
            return
        self._estimate_bpm = bpm
        if self._published is None or abs(bpm - self._published) > self.config.hysteresis_bpm:
            self._published = round(bpm, 2)
            self._sink.set_bpm(self._published)

    def reset(self) -> None:
        """Forget the tick history and the published tempo (the next ticks publish afresh)."""
        with self._lock:
            self._n = 0
            self._last_tick_s = None
            self._estimate_bpm = None
            self._published = None

    def transport(self, kind: str, song_position: int = 0) -> None:
        """MIDI 'start', 'stop', 'continue' or 'songpos' (song_position in 16th notes)."""
        with self._lock:
            if kind == "start":
                self._playing = True
                self._ticks_since_start = 0
            elif kind == "continue":
                self._playing = True
            elif kind == "stop":
                self._playing = False
            elif kind == "songpos":
                self._ticks_since_start = song_position * SONG_POSITION_TICKS
            else:
                raise ValueError(f"unknown transport message {kind!r}")
        if self.config.follow_transport and kind != "songpos":
            self._sink.trigger("stop" if kind == "stop" else "play")

    def state(self, now_s: float) -> ClockState:
        last = self._last_tick_s
        return ClockState(
            bpm=self._published,
            receiving=last is not None and now_s - last <= self.config.timeout_s,
            playing=self._playing,
            beats=self._ticks_since_start / TICKS_PER_BEAT,
            last_tick_s=last,
        )

    @property
    def estimate_bpm(self) -> float | None:
        """The raw (unpublished, unrounded) estimate, for tests and the benchmark."""
        return self._estimate_bpm
