"""The musical clock: tempo, beat and bar position as functions of time, and the model's clock channels.

One definition serves the corpus (each clip's tempo map, known exactly for score renders and drum
patterns), training (frame-synchronous channels), the engine (a clock that runs on across blocks, splices
and seeks while the BPM knob, tap tempo or MIDI clock change it) and the evaluation (the grid onsets are
measured against). Beat positions are counted in beats (quarter notes in 4/4 and 3/4) from the map's
origin; a tempo change keeps the position continuous (the beat count at the change is where the new
tempo starts counting).

Clock channels per latent frame (CLOCK_CHANNELS = 6):
    [sin 2π·beat_phase, cos 2π·beat_phase, sin 2π·bar_phase, cos 2π·bar_phase, log2(bpm / 120), given]
The tempo channel is the global tempo value, repeated on every frame (frame conditioning is added to each
frame's hidden state, so a constant channel acts as a global input without touching the timestep path the
context must not see). `given` = 1 where the clock is known; where it is not ("let the model decide":
samples, free audio, the studio with no tempo set) all six are 0, so zeros mean "no clock".
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

CLOCK_CHANNELS = 6
TEMPO_REFERENCE_BPM = 120.0
MIN_BPM, MAX_BPM = 20.0, 400.0
_GRID_EPS = 1e-9  # beats: a time computed back from a grid line may land a hair before it
# where a change lands while a tempo is set (engine/quantise.py; the setting in settings/schema.py)
Quantise = Literal["off", "beat", "bar"]
QUANTISE_CHOICES: tuple[Quantise, ...] = ("off", "beat", "bar")


@dataclass(frozen=True, slots=True)
class TempoSegment:
    """From `start_s` on: `bpm` beats per minute, `beats_per_bar` beats per bar (4 → 4/4, 3 → 3/4)."""

    start_s: float
    bpm: float
    beats_per_bar: int = 4

    def __post_init__(self) -> None:
        if not MIN_BPM <= self.bpm <= MAX_BPM:
            raise ValueError(f"tempo must be in [{MIN_BPM:g}, {MAX_BPM:g}] bpm, got {self.bpm}")
        if not 1 <= self.beats_per_bar <= 16:
            raise ValueError(f"beats_per_bar must be in [1, 16], got {self.beats_per_bar}")
        if not math.isfinite(self.start_s):
            raise ValueError(f"start_s must be finite, got {self.start_s}")


@dataclass(frozen=True, slots=True)
class TempoMap:
    """Segments in time order; `origin_beats` is the beat count at the first segment's start (a clip that
    starts on beat 3 of a bar has origin_beats = 2), and bars start where the beat count within the
    current meter is a multiple of beats_per_bar (counted from each meter change)."""

    segments: tuple[TempoSegment, ...]
    origin_beats: float = 0.0

    def __post_init__(self) -> None:
        if not self.segments:
            raise ValueError("a tempo map needs at least one segment")
        starts = [s.start_s for s in self.segments]
        if any(b <= a for a, b in zip(starts, starts[1:])):
            raise ValueError(f"tempo segments must start in increasing time order, got {starts}")

    @classmethod
    def constant(cls, bpm: float, beats_per_bar: int = 4, start_s: float = 0.0, origin_beats: float = 0.0) -> TempoMap:
        return cls((TempoSegment(start_s, bpm, beats_per_bar),), origin_beats)

    def _segment_starts(self) -> tuple[list[float], list[float], list[float]]:
        """Per segment: start time, beat count at its start, and beat count where its bars are anchored."""
        beats, anchors = [self.origin_beats], [0.0]
        for prev, seg in zip(self.segments, self.segments[1:]):
            b = beats[-1] + (seg.start_s - prev.start_s) * prev.bpm / 60.0
            beats.append(b)
            # a meter change starts a new bar there; a tempo change alone keeps the old bar grid
            anchors.append(b if seg.beats_per_bar != prev.beats_per_bar else anchors[-1])
        return [s.start_s for s in self.segments], beats, anchors

    def beats_at(self, t_s: np.ndarray | float) -> np.ndarray:
        """Beat count at each time (before the first segment the first tempo is extended backwards)."""
        t = np.asarray(t_s, dtype=np.float64)
        starts, beats, _ = self._segment_starts()
        idx = np.clip(np.searchsorted(starts, t, side="right") - 1, 0, len(starts) - 1)
        bpm = np.array([s.bpm for s in self.segments])[idx]
        return np.asarray(beats)[idx] + (t - np.asarray(starts)[idx]) * bpm / 60.0

    def bpm_at(self, t_s: float) -> float:
        starts = [s.start_s for s in self.segments]
        return self.segments[max(0, bisect.bisect_right(starts, t_s) - 1)].bpm

    def bar_phase_at(self, t_s: np.ndarray | float) -> np.ndarray:
        """Position within the bar in [0, 1)."""
        t = np.asarray(t_s, dtype=np.float64)
        starts, _, anchors = self._segment_starts()
        idx = np.clip(np.searchsorted(starts, t, side="right") - 1, 0, len(starts) - 1)
        per_bar = np.array([s.beats_per_bar for s in self.segments], dtype=np.float64)[idx]
        return np.mod(self.beats_at(t) - np.asarray(anchors)[idx], per_bar) / per_bar

    def downbeats_s(self, start_s: float, end_s: float) -> np.ndarray:
        """Times of bar starts in [start_s, end_s) (sampled at 1 ms, then refined linearly)."""
        t = np.arange(start_s, end_s, 0.001)
        phase = self.bar_phase_at(t)
        wraps = np.flatnonzero(np.diff(phase) < -0.5) + 1
        out = [t[i] - phase[i] * self.bar_s_at(float(t[i])) for i in wraps]
        if phase.size and phase[0] < 1e-9:
            out.insert(0, float(t[0]))
        return np.asarray(out, dtype=np.float64)

    def bar_s_at(self, t_s: float) -> float:
        starts = [s.start_s for s in self.segments]
        seg = self.segments[max(0, bisect.bisect_right(starts, t_s) - 1)]
        return seg.beats_per_bar * 60.0 / seg.bpm

    def segment_at(self, t_s: float) -> TempoSegment:
        starts = [s.start_s for s in self.segments]
        return self.segments[max(0, bisect.bisect_right(starts, t_s) - 1)]

    def time_at_beats(self, beats: float) -> float:
        """The time at which the beat count reaches `beats` (the inverse of beats_at; the first tempo is
        extended backwards, the last forwards)."""
        starts, seg_beats, _ = self._segment_starts()
        i = max(0, bisect.bisect_right(seg_beats, beats) - 1)
        return starts[i] + (beats - seg_beats[i]) * 60.0 / self.segments[i].bpm

    def grid_s(self, start_s: float, end_s: float, per_bar: bool = False) -> np.ndarray:
        """Exact times of the beat lines (or only the bar lines) in [start_s, end_s), ascending.

        Beat lines are whole beats counted from the bar anchor of the meter in force, so they run on
        across a tempo change and a meter change starts a new bar (and beat) there. Computed per segment
        from its own tempo, not sampled: the engine lands changes on these lines to the sample."""
        starts, seg_beats, anchors = self._segment_starts()
        out: list[np.ndarray] = []
        for i, seg in enumerate(self.segments):
            lo = start_s if i == 0 else max(start_s, starts[i])
            hi = end_s if i + 1 == len(starts) else min(end_s, starts[i + 1])
            if lo >= hi:
                continue
            step = float(seg.beats_per_bar if per_bar else 1)
            beats_per_s = seg.bpm / 60.0
            b_lo = seg_beats[i] + (lo - starts[i]) * beats_per_s - anchors[i]  # beats since the bar anchor
            b_hi = seg_beats[i] + (hi - starts[i]) * beats_per_s - anchors[i]
            k = np.arange(math.ceil(b_lo / step - _GRID_EPS), math.ceil(b_hi / step - _GRID_EPS), dtype=np.float64)
            out.append(starts[i] + (anchors[i] + k * step - seg_beats[i]) / beats_per_s)
        return np.concatenate(out) if out else np.zeros(0, dtype=np.float64)

    def bar_beat_at(self, t_s: float) -> tuple[int, float]:
        """(bar index, beats into that bar) at `t_s`: bars are counted from the bar that holds the map's
        beat 0 (index 0), across meter changes (a bar cut short by a meter change still counts)."""
        starts, seg_beats, anchors = self._segment_starts()
        i = max(0, bisect.bisect_right(starts, t_s) - 1)
        bars = 0
        for j in range(1, i + 1):
            if anchors[j] != anchors[j - 1]:  # a meter change: the bar it cuts counts, then a new one starts
                bars += math.ceil((anchors[j] - anchors[j - 1]) / self.segments[j - 1].beats_per_bar - _GRID_EPS)
        seg = self.segments[i]
        since_anchor = seg_beats[i] + (t_s - starts[i]) * seg.bpm / 60.0 - anchors[i]
        in_bar = math.floor(since_anchor / seg.beats_per_bar + _GRID_EPS)
        return bars + in_bar, max(0.0, since_anchor - in_bar * seg.beats_per_bar)


def channels_from_beats(beats: np.ndarray, bar_phase: np.ndarray, bpm: np.ndarray | float) -> np.ndarray:
    """[T, CLOCK_CHANNELS] float32 from beat counts, bar phases in [0, 1) and the tempo per frame."""
    beats = np.asarray(beats, dtype=np.float64)
    out = np.empty((beats.shape[0], CLOCK_CHANNELS), dtype=np.float32)
    beat = 2.0 * np.pi * np.mod(beats, 1.0)
    bar = 2.0 * np.pi * np.asarray(bar_phase, dtype=np.float64)
    out[:, 0], out[:, 1] = np.sin(beat), np.cos(beat)
    out[:, 2], out[:, 3] = np.sin(bar), np.cos(bar)
    out[:, 4] = np.log2(np.asarray(bpm, dtype=np.float64) / TEMPO_REFERENCE_BPM)
    out[:, 5] = 1.0
    return out


def stream_clock_channels(start_beats: float, n_frames: int, frame_rate_hz: float, bpm: float | None,
                          beats_per_bar: int = 4) -> tuple[np.ndarray, float]:
    """A stream's clock for its next `n_frames` latent frames at a constant tempo: (channels [T, 6], beat
    count after them). The generator keeps the beat count in its state, so the clock runs on across blocks
    and comes back exactly with a rewound state; bars start where the count is a multiple of
    `beats_per_bar`. No tempo (None): zeros, and the count stands still."""
    if bpm is None:
        return np.zeros((n_frames, CLOCK_CHANNELS), dtype=np.float32), float(start_beats)
    if not MIN_BPM <= bpm <= MAX_BPM or beats_per_bar < 1:
        raise ValueError(f"need a tempo in [{MIN_BPM:g}, {MAX_BPM:g}] bpm and beats_per_bar >= 1, "
                         f"got {bpm}, {beats_per_bar}")
    beats_per_frame = bpm / 60.0 / frame_rate_hz
    beats = start_beats + beats_per_frame * np.arange(n_frames, dtype=np.float64)
    out = channels_from_beats(beats, np.mod(beats, beats_per_bar) / beats_per_bar, bpm)
    return out, float(start_beats + beats_per_frame * n_frames)


def clock_channels(tempo: TempoMap | None, frame_times_s: np.ndarray) -> np.ndarray:
    """[T, CLOCK_CHANNELS] float32 for frames at `frame_times_s`; all zeros when the clock is unknown."""
    t = np.asarray(frame_times_s, dtype=np.float64)
    if tempo is None:
        return np.zeros((t.shape[0], CLOCK_CHANNELS), dtype=np.float32)
    bpm = np.array([tempo.bpm_at(float(x)) for x in t]) if len(tempo.segments) > 1 else tempo.segments[0].bpm
    return channels_from_beats(tempo.beats_at(t), tempo.bar_phase_at(t), bpm)
