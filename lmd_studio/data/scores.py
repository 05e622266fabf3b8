"""music21 scores → a timed, humanised excerpt of note events ready for the synthesizer.

Tempo, transposition, excerpt position and dynamics are drawn from the job's random generator, so a job
always yields the same excerpt. The events are also the clip's note labels (exact pitches and times).
"""

from __future__ import annotations

import hashlib
import os
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lmd_studio.data.gm import Style, assign_roles

MIN_CLIP_S = 4.0
_CACHE_VERSION = 1


class ScoreError(ValueError):
    """A score that cannot be used (unparseable, empty, too short)."""


@dataclass(frozen=True, slots=True)
class PartNotes:
    name: str
    onsets_q: np.ndarray  # [n] offsets in quarter notes
    durations_q: np.ndarray  # [n]
    pitches: np.ndarray  # [n] MIDI numbers

    @property
    def mean_pitch(self) -> float:
        return float(self.pitches.mean())


@dataclass(frozen=True, slots=True)
class ParsedScore:
    parts: tuple[PartNotes, ...]
    measure_offsets_q: np.ndarray  # bar lines of the first part
    length_q: float
    time_signature: str
    key_tonic: str | None  # e.g. "A", "B-"
    key_mode: str | None  # "major" / "minor" / other modes
    title: str | None

    @property
    def compound(self) -> bool:
        num, den = (int(v) for v in self.time_signature.split("/"))
        return den == 8 and num in (6, 9, 12)

    @property
    def simple_duple(self) -> bool:
        return self.time_signature in ("4/4", "2/4", "2/2", "C", "8/8")


@dataclass(frozen=True, slots=True)
class Excerpt:
    notes: np.ndarray  # [n, 5] onset_s, offset_s, pitch, velocity, part index
    roles: tuple[str, ...]  # per part
    duration_s: float
    quarter_bpm: float
    beat_bpm: float
    transpose: int
    key: str | None
    time_signature: str
    start_q: float


def _notes_of(part, name: str) -> PartNotes | None:
    from music21 import chord, note

    ons, durs, pits = [], [], []
    flat = part.stripTies(inPlace=False).flatten()
    for el in flat.notes:
        q = float(el.duration.quarterLength)
        if q <= 0:
            continue  # grace notes have no duration of their own
        if isinstance(el, chord.Chord):
            ps = [p.midi for p in el.pitches]
        elif isinstance(el, note.Note):
            ps = [el.pitch.midi]
        else:
            continue  # unpitched percussion
        for p in ps:
            ons.append(float(el.offset))
            durs.append(q)
            pits.append(int(p))
    if not ons:
        return None
    return PartNotes(name, np.array(ons), np.array(durs), np.array(pits))


def _parsed(obj, path: Path) -> ParsedScore:
    parts_src = list(obj.parts) if hasattr(obj, "parts") and len(obj.parts) else [obj]
    parts = []
    for i, p in enumerate(parts_src):
        pn = _notes_of(p, str(getattr(p, "partName", None) or f"part {i + 1}"))
        if pn is not None:
            parts.append(pn)
    if not parts:
        raise ScoreError(f"{path}: score has no pitched notes")
    measures = [float(m.offset) for m in parts_src[0].getElementsByClass("Measure")]
    ts = obj.recurse().getElementsByClass("TimeSignature").first()
    try:
        k = obj.analyze("key")
        tonic, mode = k.tonic.name, k.mode
    except Exception:
        tonic, mode = None, None
    length = max(float(np.max(p.onsets_q + p.durations_q)) for p in parts)
    title = getattr(obj.metadata, "title", None) if obj.metadata is not None else None
    return ParsedScore(parts=tuple(parts), measure_offsets_q=np.array(measures or [0.0]), length_q=length,
                       time_signature=ts.ratioString if ts is not None else "4/4", key_tonic=tonic, key_mode=mode,
                       title=title)


def parse_scores(path: Path) -> list[ParsedScore]:
    """Parse a corpus file into one ParsedScore per tune (ABC files often hold many tunes); tunes without
    pitched notes are dropped. Raises ScoreError if nothing usable is left."""
    from music21 import converter, stream

    try:
        obj = converter.parse(str(path))
    except Exception as exc:  # music21 raises many types for bad files
        raise ScoreError(f"{path}: cannot parse score ({type(exc).__name__}: {exc})") from None
    scores = list(obj.scores) if isinstance(obj, stream.Opus) else [obj]
    out = []
    for sc in scores:
        try:
            out.append(_parsed(sc, path))
        except ScoreError:
            continue
    if not out:
        raise ScoreError(f"{path}: no tune with pitched notes")
    return out


def load_scores_cached(path: Path, cache_dir: Path | None) -> list[ParsedScore]:
    """parse_scores with an on-disk cache (parsing a large MusicXML file takes seconds; a build renders
    several clips per piece, on different workers and across resumed runs)."""
    if cache_dir is None:
        return parse_scores(path)
    key = hashlib.sha256(str(path).encode("utf-8")).hexdigest()[:24]
    cached = Path(cache_dir) / f"{key}.pkl"
    if cached.exists():
        try:
            with open(cached, "rb") as fh:
                data = pickle.load(fh)
            if data.get("path") == str(path) and data.get("version") == _CACHE_VERSION:
                return data["scores"]
        except (OSError, pickle.UnpicklingError, EOFError, AttributeError, KeyError):
            pass  # a damaged cache entry is simply rebuilt
    scores = parse_scores(path)
    cached.parent.mkdir(parents=True, exist_ok=True)
    tmp = cached.with_name(f"{cached.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as fh:
        pickle.dump({"path": str(path), "version": _CACHE_VERSION, "scores": scores}, fh)
    os.replace(tmp, cached)
    return scores


def transposed_key(tonic: str | None, mode: str | None, semitones: int) -> str | None:
    if tonic is None:
        return None
    from music21 import pitch

    name = pitch.Pitch(tonic).transpose(semitones).name.replace("-", "b")
    return f"{name} {mode}" if mode else name


def make_excerpt(score: ParsedScore, style: Style, rng: np.random.Generator, clip_s: float,
                 beat_bpm: float | None = None, max_transpose: int = 3) -> Excerpt:
    """Pick tempo, transposition and a bar-aligned window of `clip_s` seconds; humanise timing and dynamics."""
    if beat_bpm is None:
        beat_bpm = float(rng.uniform(*style.bpm_range))
    quarter_bpm = beat_bpm * (1.5 if score.compound else 1.0)
    q_per_s = quarter_bpm / 60.0
    clip_q = clip_s * q_per_s
    starts = score.measure_offsets_q[score.measure_offsets_q + clip_q <= score.length_q]
    if starts.size:
        usable = starts[1:] if starts.size > 1 else starts  # skip a pickup bar when we can
        start_q = float(rng.choice(usable))
        dur_q = clip_q
    else:
        start_q = 0.0
        dur_q = score.length_q
    duration_s = dur_q / q_per_s
    if duration_s < MIN_CLIP_S:
        raise ScoreError(f"piece too short ({duration_s:.1f} s at {beat_bpm:.0f} bpm, need {MIN_CLIP_S} s)")
    lo = min(int(p.pitches.min()) for p in score.parts)
    hi = max(int(p.pitches.max()) for p in score.parts)
    choices = [t for t in range(-max_transpose, max_transpose + 1) if 28 <= lo + t and hi + t <= 103] or [0]
    transpose = int(rng.choice(choices))
    roles = assign_roles([p.mean_pitch for p in score.parts])
    rows = []
    for idx, part in enumerate(score.parts):
        base_vel = rng.uniform(68, 96) + (6 if roles[idx] == "melody" else 0)
        end_q = part.onsets_q + part.durations_q
        keep = (end_q > start_q) & (part.onsets_q < start_q + dur_q)
        for on_q, off_q, p in zip(part.onsets_q[keep], end_q[keep], part.pitches[keep]):
            on_q, off_q = max(on_q, start_q), min(off_q, start_q + dur_q)
            on_s = (on_q - start_q) / q_per_s + rng.normal(0, 0.008)
            # slightly detached notes: a synth holding every note to the next sounds mechanical
            off_s = (off_q - start_q) / q_per_s - min(0.04, 0.1 * (off_q - on_q) / q_per_s)
            downbeat = np.any(np.isclose(score.measure_offsets_q, on_q))
            vel = base_vel + (8 if downbeat else 0) + rng.normal(0, 6)
            rows.append((max(0.0, on_s), max(on_s + 0.03, off_s), p + transpose, float(np.clip(vel, 25, 127)), idx))
    if not rows:
        raise ScoreError("excerpt holds no notes")
    notes = np.array(sorted(rows), dtype=np.float64)
    return Excerpt(notes=notes, roles=tuple(roles), duration_s=float(duration_s), quarter_bpm=float(quarter_bpm),
                   beat_bpm=float(beat_bpm), transpose=transpose,
                   key=transposed_key(score.key_tonic, score.key_mode, transpose),
                   time_signature=score.time_signature, start_q=start_q)
