"""The engine's musical clock: tempo, bar and beat at every ring position (device frames).

One clock for the whole studio. Its tempo and meter come from the controls the audio was generated with
(the BPM control, tap tempo, MIDI clock in or Link all write the mailbox), and it follows the audio in the
ring sample by sample: a change takes effect at the sample where the new audio is heard (the centre of a
splice's crossfade, or the first frame of a block), the beat count runs on continuously across it, and a
splice, seek or fresh start that throws queued audio away throws away the tempo changes that came with it.

The maths is core.musical_clock's TempoMap, in seconds of ring position (position / rate). The clock is a
chain of pieces: a piece is a TempoMap from a position on, or "no tempo" (the model decides; the count
stands still and there is no grid). Setting a tempo after none starts bar 1 there. A piece holds at most
MAX_SEGMENTS tempo changes; the next one starts a new piece that carries the bar and beat on, so the
maps stay short and the history is trimmed from the front (what the timeline can still show).

`EngineClock` is owned by the worker thread; it publishes an immutable `ClockMap` (replaced whole on each
change), which any thread reads.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from lmd_studio.core.musical_clock import TempoMap, TempoSegment

MAX_SEGMENTS = 64
_SAMPLE_EPS = 1e-6  # samples: a grid line computed in float64 may sit a hair past a whole sample


@dataclass(frozen=True, slots=True)
class ClockPiece:
    """From ring position `start` on: `tempo` (times are ring position / rate), or None for no tempo.
    `first_bar` is the bar index of the map's beat 0 (bars run on from the piece before)."""

    start: int
    tempo: TempoMap | None
    first_bar: int = 0


@dataclass(frozen=True, slots=True)
class BeatReading:
    """Where the music is at one position. `bar` and `beat` count from 1 as musicians do; `beat_in_bar`
    is fractional (0 on the downbeat)."""

    bar: int
    beat: int
    beat_in_bar: float
    beats_per_bar: int
    bpm: float

    @property
    def bar_phase(self) -> float:
        return self.beat_in_bar / self.beats_per_bar


def line_sample(t_s: float, rate_hz: int) -> int:
    """The sample a grid line at exact time `t_s` falls on: the first one at or after it."""
    return int(math.ceil(t_s * rate_hz - _SAMPLE_EPS))


@dataclass(frozen=True, slots=True)
class ClockMap:
    """An immutable picture of the clock (ring positions at `rate_hz`)."""

    rate_hz: int
    pieces: tuple[ClockPiece, ...] = ()

    def piece_at(self, position: int) -> ClockPiece | None:
        found = None
        for piece in self.pieces:
            if piece.start > position:
                break
            found = piece
        return found

    def reading(self, position: int) -> BeatReading | None:
        """Bar, beat and tempo at `position`; None where there is no tempo."""
        piece = self.piece_at(position)
        if piece is None or piece.tempo is None:
            return None
        t = position / self.rate_hz
        bar, in_bar = piece.tempo.bar_beat_at(t)
        seg = piece.tempo.segment_at(t)
        in_bar = min(in_bar, seg.beats_per_bar - 1e-9)
        return BeatReading(piece.first_bar + bar + 1, int(in_bar) + 1, in_bar, seg.beats_per_bar, seg.bpm)

    def beats_at(self, position: int) -> float | None:
        """The continuous beat count at `position` within its piece (differences count beats)."""
        piece = self.piece_at(position)
        if piece is None or piece.tempo is None:
            return None
        return float(piece.tempo.beats_at(position / self.rate_hz))

    def beats_between(self, a: int, b: int) -> float | None:
        """Beats from position `a` to `b` (None unless one tempo map covers both)."""
        pa, pb = self.piece_at(a), self.piece_at(b)
        if pa is None or pa is not pb or pa.tempo is None:
            return None
        beats = pa.tempo.beats_at(np.array([a, b], dtype=np.float64) / self.rate_hz)
        return float(beats[1] - beats[0])

    def lines(self, start: int, end: int, per_bar: bool = False) -> np.ndarray:
        """Sample positions of the beat lines (or bar lines) in [start, end), ascending, int64."""
        out: list[np.ndarray] = []
        for k, piece in enumerate(self.pieces):
            lo = max(start, piece.start)
            hi = min(end, self.pieces[k + 1].start if k + 1 < len(self.pieces) else end)
            if piece.tempo is None or lo >= hi:
                continue
            # the lines whose sample is in [lo, hi) have exact times in ((lo - 1) / rate, (hi - 1) / rate]:
            # ask for a little more either side and keep those by their samples
            times = piece.tempo.grid_s((lo - 1.5) / self.rate_hz, (hi - 0.5) / self.rate_hz, per_bar)
            samples = np.ceil(times * self.rate_hz - _SAMPLE_EPS).astype(np.int64)
            out.append(samples[(samples >= lo) & (samples < hi)])
        return np.concatenate(out) if out else np.zeros(0, dtype=np.int64)

    def next_line(self, position: int, per_bar: bool) -> int | None:
        """The first beat line (or bar line) at or after `position`; None where there is no tempo there."""
        piece = self.piece_at(position)
        if piece is None or piece.tempo is None:
            return None
        # a bar is at most 16 beats at 20 bpm (48 s): look a little over one bar ahead, then further
        span = int(piece.tempo.bar_s_at(position / self.rate_hz) * self.rate_hz) + 2
        for _ in range(8):
            found = self.lines(position, position + span, per_bar)
            if found.size:
                return int(found[0])
            span *= 2
        return None


class EngineClock:
    """The worker's clock. `set_tempo` as audio is queued, `truncate` when queued audio is replaced,
    `trim` to forget what the timeline can no longer show. Not thread-safe: the worker thread only."""

    def __init__(self, rate_hz: int) -> None:
        if rate_hz <= 0:
            raise ValueError(f"clock rate must be > 0, got {rate_hz}")
        self.rate_hz = int(rate_hz)
        self._map = ClockMap(self.rate_hz)
        self._carry: tuple[int, float] | None = None  # (bar index, beats into it) for the first tempo

    @property
    def map(self) -> ClockMap:
        return self._map

    def carry_on(self, bar: int, beat_in_bar: float) -> None:
        """The first tempo set continues a bar count from before (an engine replaced mid-song): bar `bar`
        (from 1), `beat_in_bar` beats into it. Only before any tempo was set."""
        if any(p.tempo is not None for p in self._map.pieces):
            raise RuntimeError("carry_on only before the clock has a tempo")
        self._carry = (max(0, int(bar) - 1), max(0.0, float(beat_in_bar)))

    def set_tempo(self, position: int, bpm: float | None, beats_per_bar: int) -> None:
        """From `position` on the tempo is `bpm` (None: none) in `beats_per_bar`; nothing changes when it
        already is. `position` is at or after every change made so far (truncate first to go back)."""
        pieces = self._map.pieces
        last = pieces[-1] if pieces else None
        if bpm is None:
            if last is not None and last.tempo is not None:
                self._replace(pieces + (ClockPiece(position, None),))
            return
        if last is None or last.tempo is None:
            bar, beat = self._carry if self._carry is not None else (0, 0.0)
            self._carry = None
            if beat >= beats_per_bar:
                bar, beat = bar + 1, 0.0
            start_s = position / self.rate_hz
            self._replace(pieces + (ClockPiece(position, TempoMap.constant(bpm, beats_per_bar, start_s, beat), bar),))
            return
        seg = last.tempo.segments[-1]
        if seg.bpm == bpm and seg.beats_per_bar == beats_per_bar:
            return
        start_s = position / self.rate_hz
        if len(last.tempo.segments) < MAX_SEGMENTS:
            kept = tuple(s for s in last.tempo.segments if s.start_s < start_s) or last.tempo.segments[:1]
            segments = kept + (TempoSegment(start_s, bpm, beats_per_bar),) if kept[-1].start_s < start_s else (
                TempoSegment(start_s, bpm, beats_per_bar),)
            tempo = TempoMap(segments, last.tempo.origin_beats)
            self._replace(pieces[:-1] + (ClockPiece(last.start, tempo, last.first_bar),))
            return
        self._replace(pieces + (self._continuation(last, position, bpm, beats_per_bar),))

    def shift(self, position: int, beats: float) -> None:
        """From `position` on, the count runs `beats` further on (negative: back), at the same tempo: lines
        the bars up with another clock (an Ableton Link session). Nothing without a tempo there."""
        self.truncate(position + 1)  # (a piece starting exactly here is replaced)
        pieces = self._map.pieces
        last = pieces[-1] if pieces else None
        if last is None or last.tempo is None or abs(beats) < 1e-12:
            return
        t = position / self.rate_hz
        seg = last.tempo.segment_at(t)
        bar, in_bar = last.tempo.bar_beat_at(t)
        moved = in_bar + beats
        bar = last.first_bar + bar + math.floor(moved / seg.beats_per_bar)
        in_bar = moved % seg.beats_per_bar
        piece = ClockPiece(position, TempoMap.constant(seg.bpm, seg.beats_per_bar, t, in_bar), max(0, bar))
        kept = pieces[:-1] if last.start == position else pieces
        self._replace(kept + (piece,))

    def _continuation(self, last: ClockPiece, position: int, bpm: float, beats_per_bar: int) -> ClockPiece:
        """A new piece at `position` that carries the bar and beat of `last` on."""
        assert last.tempo is not None
        t = position / self.rate_hz
        bar, in_bar = last.tempo.bar_beat_at(t)
        bar += last.first_bar
        if beats_per_bar != last.tempo.segment_at(t).beats_per_bar:  # a meter change starts a bar here
            bar, in_bar = (bar + 1 if in_bar > 1e-9 else bar), 0.0
        return ClockPiece(position, TempoMap.constant(bpm, beats_per_bar, t, in_bar), bar)

    def truncate(self, position: int) -> None:
        """Forget the changes at or after `position` (the audio they came with was replaced)."""
        t = position / self.rate_hz
        kept: list[ClockPiece] = []
        for piece in self._map.pieces:
            if piece.start >= position:
                break
            if piece.tempo is not None and piece.tempo.segments[-1].start_s >= t:
                segments = tuple(s for s in piece.tempo.segments if s.start_s < t)
                piece = ClockPiece(piece.start, TempoMap(segments, piece.tempo.origin_beats), piece.first_bar)
            kept.append(piece)
        if tuple(kept) != self._map.pieces:
            self._replace(tuple(kept))

    def trim(self, before: int) -> None:
        """Drop pieces that end before `before` (no longer drawn); the piece in force there stays."""
        pieces = self._map.pieces
        k = 0
        while k + 1 < len(pieces) and pieces[k + 1].start <= before:
            k += 1
        if k:
            self._replace(pieces[k:])

    def _replace(self, pieces: tuple[ClockPiece, ...]) -> None:
        self._map = ClockMap(self.rate_hz, pieces)
