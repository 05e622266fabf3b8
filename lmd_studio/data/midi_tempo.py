"""The exact beat and bar grid of a recording whose chart ships as a Standard MIDI File (Frets on Fire's
notes.mid is laid on the song's own tempo map, so its tempo and time-signature events are the song's grid).

Only the timing meta events are read — set-tempo (FF 51) and time signature (FF 58), merged over all tracks
by tick; notes and everything else are skipped. A small reader of our own: the import contract keeps mido
inside lmd_studio.midi, and the format's framing is simple (chunks, variable-length delta times, running
status). Beats are counted as the corpus counts them (data/grid.py): the time signature's beat, dotted
quarters in compound meters (6/8 → 2 beats a bar), so a MIDI tempo in quarter notes is converted per meter.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lmd_studio.core.musical_clock import TempoMap, TempoSegment
from lmd_studio.data.grid import beats_per_bar

DEFAULT_US_PER_QUARTER = 500_000  # 120 bpm, the SMF default before any tempo event
DEFAULT_METER = (4, 4)


class MidiTimingError(ValueError):
    """The file is not a Standard MIDI File we can read a grid from."""


@dataclass(frozen=True, slots=True)
class MidiTiming:
    ticks_per_quarter: int
    tempos: tuple[tuple[int, int], ...]  # (tick, microseconds per quarter note), tick order
    meters: tuple[tuple[int, int, int], ...]  # (tick, numerator, denominator), tick order

    def __post_init__(self) -> None:
        if self.ticks_per_quarter <= 0:
            raise MidiTimingError(f"ticks per quarter must be positive, got {self.ticks_per_quarter}")
        if any(us <= 0 for _, us in self.tempos):
            raise MidiTimingError("a tempo event of 0 µs per quarter")


def _vlq(data: bytes, pos: int) -> tuple[int, int]:
    value = 0
    for _ in range(4):
        if pos >= len(data):
            raise MidiTimingError("variable-length number runs past the end of its track")
        byte = data[pos]
        pos += 1
        value = (value << 7) | (byte & 0x7F)
        if byte < 0x80:
            return value, pos
    raise MidiTimingError("variable-length number longer than 4 bytes")


def _track_events(data: bytes, tempos: list, meters: list) -> None:
    pos, tick, running = 0, 0, 0  # running: the last channel status (meta and sysex events leave it alone)
    while pos < len(data):
        delta, pos = _vlq(data, pos)
        tick += delta
        if pos >= len(data):
            raise MidiTimingError("track ends inside an event")
        status = data[pos]
        if status < 0x80:
            if not running:
                raise MidiTimingError("running status without a previous channel message")
            status = running
        else:
            pos += 1
        if status == 0xFF:
            if pos >= len(data):
                raise MidiTimingError("track ends inside a meta event")
            kind = data[pos]
            length, pos = _vlq(data, pos + 1)
            body = data[pos:pos + length]
            pos += length
            if kind == 0x51 and length == 3:
                tempos.append((tick, int.from_bytes(body, "big")))
            elif kind == 0x58 and length >= 2:
                meters.append((tick, body[0], 2 ** body[1]))
            elif kind == 0x2F:
                return
        elif status in (0xF0, 0xF7):
            length, pos = _vlq(data, pos)
            pos += length
        elif status < 0xF0:
            running = status
            pos += 1 if status & 0xF0 in (0xC0, 0xD0) else 2
        else:
            raise MidiTimingError(f"status byte {status:#x} is not allowed in a MIDI file track")


def read_midi_timing(path: Path) -> MidiTiming:
    """Tempo and meter events of a Standard MIDI File (format 0 or 1, metrical time)."""
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise MidiTimingError(f"{path}: unreadable ({exc})") from None
    if raw[:4] != b"MThd" or len(raw) < 14:
        raise MidiTimingError(f"{path}: not a Standard MIDI File")
    header_len = int.from_bytes(raw[4:8], "big")
    division = int.from_bytes(raw[12:14], "big")
    if division & 0x8000:
        raise MidiTimingError(f"{path}: SMPTE time division (no musical grid)")
    tempos: list[tuple[int, int]] = []
    meters: list[tuple[int, int, int]] = []
    pos = 8 + header_len
    while pos + 8 <= len(raw):
        kind, length = raw[pos:pos + 4], int.from_bytes(raw[pos + 4:pos + 8], "big")
        if kind == b"MTrk":
            _track_events(raw[pos + 8:pos + 8 + length], tempos, meters)
        pos += 8 + length
    # stable sort: events at the same tick keep file order, the last one wins
    return MidiTiming(division, tuple(sorted(tempos, key=lambda e: e[0])), tuple(sorted(meters, key=lambda e: e[0])))


def _state_changes(timing: MidiTiming) -> list[tuple[int, int, tuple[int, int]]]:
    """(tick, µs per quarter, meter) at every tick where either changes, starting at tick 0."""
    ticks = sorted({0} | {t for t, _ in timing.tempos} | {t for t, _, _ in timing.meters})
    out: list[tuple[int, int, tuple[int, int]]] = []
    us, meter = DEFAULT_US_PER_QUARTER, DEFAULT_METER
    ti = mi = 0
    for tick in ticks:
        while ti < len(timing.tempos) and timing.tempos[ti][0] <= tick:
            us = timing.tempos[ti][1]
            ti += 1
        while mi < len(timing.meters) and timing.meters[mi][0] <= tick:
            meter = timing.meters[mi][1:]
            mi += 1
        if not out or (us, meter) != out[-1][1:]:
            out.append((tick, us, meter))
    return out


@dataclass(frozen=True, slots=True)
class TrackGrid:
    """A whole recording's grid (bar 1 at tick 0 = audio time 0) and the time signature of each segment."""

    tempo: TempoMap
    meters: tuple[str, ...]  # "num/den" per tempo segment

    def __post_init__(self) -> None:
        if len(self.meters) != len(self.tempo.segments):
            raise ValueError("one meter per tempo segment")

    def _segment_at(self, t_s: float) -> int:
        return max(0, sum(1 for s in self.tempo.segments if s.start_s <= t_s) - 1)

    def meter_at(self, t_s: float) -> str:
        return self.meters[self._segment_at(t_s)]

    def downbeats_s(self, duration_s: float) -> np.ndarray:
        return self.tempo.downbeats_s(0.0, duration_s)

    def clip(self, offset_s: float, duration_s: float) -> TempoMap:
        """The grid of the clip [offset_s, offset_s + duration_s): the segment in force at the offset starts
        the clip at t = 0 with the clip's position in its bar as origin_beats; later changes inside the clip
        follow at their times relative to the clip."""
        first = self._segment_at(offset_s)
        seg = self.tempo.segments[first]
        into_bar = float(self.tempo.bar_phase_at(offset_s)) * seg.beats_per_bar
        if min(into_bar, seg.beats_per_bar - into_bar) < 1e-4:  # a bar line (starts are rounded to 1 µs)
            into_bar = 0.0
        out = [TempoSegment(0.0, seg.bpm, seg.beats_per_bar)]
        for s in self.tempo.segments[first + 1:]:
            if s.start_s - offset_s >= duration_s:
                break
            out.append(TempoSegment(s.start_s - offset_s, s.bpm, s.beats_per_bar))
        return TempoMap(tuple(out), round(into_bar, 6))


def track_grid(timing: MidiTiming) -> TrackGrid | None:
    """The recording's grid, or None when it cannot be exact (a meter the corpus cannot count, a tempo
    outside the clock's range)."""
    segments: list[TempoSegment] = []
    meters: list[str] = []
    seconds, last_tick, last_us = 0.0, 0, DEFAULT_US_PER_QUARTER
    for tick, us, (num, den) in _state_changes(timing):
        seconds += (tick - last_tick) * last_us / 1e6 / timing.ticks_per_quarter
        last_tick, last_us = tick, us
        per_bar = beats_per_bar(f"{num}/{den}")
        if per_bar is None:
            return None
        quarters_per_beat = num * 4.0 / den / per_bar
        try:
            segments.append(TempoSegment(seconds, 60e6 / us / quarters_per_beat, per_bar))
        except ValueError:
            return None
        meters.append(f"{num}/{den}")
    return TrackGrid(TempoMap(tuple(segments)), tuple(meters))


def read_track_grid(path: Path) -> TrackGrid | None:
    return track_grid(read_midi_timing(path))
