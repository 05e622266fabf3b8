"""Each corpus clip's musical grid (tempo map with downbeats), derived from how the clip was made.

Exact where the corpus generated the timing itself:
- drum patterns: constant tempo, bar 1 starts at t = 0 (drum_patterns.perform lays hits from bar 0);
- score excerpts and mixes: constant tempo, the excerpt starts on a bar line (scores.make_excerpt picks a
  measure offset, skipping a pickup bar) — except when a piece was too short for that and the excerpt
  starts at offset 0, which may be a pickup: then the grid is unknown;
- compound meters count dotted-quarter beats (6/8 → 2 beats a bar), like the clip's stated bpm.
- produced recordings whose chart ships a MIDI tempo map (Frets on Fire's notes.mid): the map's tempo and
  meter events, cut at the clip's offset into the recording (data/midi_tempo.py), stored in the item's
  render as "tempo_map" — possibly with origin_beats ≠ 0 or several segments.
Everything else (sample-pack loops and hits, whose phase nobody wrote down; recordings whose tempo the
builder only estimated, render["tempo_estimated"]) gets no grid: the model is told "let the model decide"
for it (all-zero clock channels).
"""

from __future__ import annotations

from lmd_studio.core.musical_clock import TempoMap, TempoSegment
from lmd_studio.data.manifest import ManifestItem

_COMPOUND = {"6/8": 2, "9/8": 3, "12/8": 4, "6/4": 2}


def beats_per_bar(time_signature: str | None) -> int | None:
    """Beats per bar as the clip's bpm counts them; None for a signature we cannot read."""
    sig = (time_signature or "4/4").strip()
    if sig in _COMPOUND:
        return _COMPOUND[sig]
    try:
        num, den = (int(v) for v in sig.split("/"))
    except ValueError:
        return None
    return num if den in (2, 4, 8) and 1 <= num <= 16 else None


def map_to_dict(m: TempoMap) -> dict:
    """A tempo map as JSON (a manifest item's render["tempo_map"])."""
    return {"origin_beats": m.origin_beats,
            "segments": [[round(s.start_s, 9), round(s.bpm, 9), s.beats_per_bar] for s in m.segments]}


def map_from_dict(d: dict) -> TempoMap:
    return TempoMap(tuple(TempoSegment(float(a), float(b), int(c)) for a, b, c in d["segments"]),
                    float(d.get("origin_beats", 0.0)))


def clip_tempo_map(item: ManifestItem) -> TempoMap | None:
    """The clip's grid when the corpus knows it exactly, else None ("let the model decide")."""
    if item.kind == "produced":
        exact = item.render.get("tempo_map")
        if not exact or item.render.get("tempo_estimated", True):
            return None
        try:
            return map_from_dict(exact)
        except (KeyError, TypeError, ValueError):
            return None
    if not item.bpm or item.kind not in ("drums", "score", "mix"):
        return None
    per_bar = beats_per_bar(item.time_signature)
    if per_bar is None:
        return None
    if item.kind in ("score", "mix"):
        start_q = item.render.get("start_quarter")
        if start_q is None or float(start_q) == 0.0:
            return None  # may start on a pickup: the downbeat is not known
    return TempoMap.constant(float(item.bpm), per_bar)
