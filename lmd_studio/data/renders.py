"""One function per job kind: turn a planned job into audio + labels (RenderResult).

Runs inside a worker process with a `RenderContext` (catalogue lookups, soundfont synths, parsed-score and
drum-kit caches). All randomness comes from the job's generator. Raising any exception means "skip this
job"; the worker records the reason and the file involved.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from lmd_studio.data import labels, produced_clip
from lmd_studio.data.drum_kits import DrumKit, load_kit, render_hits
from lmd_studio.data.drum_patterns import GM_DRUM_NOTE, PATTERNS, DrumPattern, perform
from lmd_studio.data.gm import BAND_PALETTES, PALETTES, Palette, Style, style_for
from lmd_studio.data.licences import SOUNDFONT_LICENCES, Licence
from lmd_studio.data.plan import Job
from lmd_studio.data.produced import TrackRef
from lmd_studio.data.revoice import (
    REVOICED_STEM,
    choose_kit,
    choose_palette,
    fit_peak,
    programs_of,
    revoice_rng,
)
from lmd_studio.data.scores import Excerpt, ParsedScore, load_scores_cached, make_excerpt
from lmd_studio.data.sources import KitRef, PieceRef, SampleRef, SourcePaths
from lmd_studio.data.synth import RendererPool, SynthError
from lmd_studio.dsp.crossfade import tile_loop
from lmd_studio.dsp.resample import level_gain, normalise_level, resample, to_mono

SAMPLE_RATE_HZ = 44100
MAX_SAMPLE_S = 30.0
BAND_GENRES_DUPLE = ("rock", "funk", "hip-hop", "house", "disco", "bossa nova", "reggae", "afrobeat", "breakbeat")


@dataclass(slots=True)
class RenderResult:
    audio: np.ndarray  # [N] float32 mono at SAMPLE_RATE_HZ
    description: str
    tags: dict
    licences: list[Licence]
    sources: list[str]  # source ids (pieces, samples, kits, soundfonts)
    groups: list[str]  # the split-defining subset of sources
    bpm: float | None = None
    key: str | None = None
    time_signature: str | None = None
    notes: np.ndarray | None = None  # [n, 4] onset_s, offset_s, pitch, velocity (pitched parts)
    drum_hits: np.ndarray | None = None  # [n, 3] time_s, GM drum note, velocity
    render: dict = field(default_factory=dict)
    source_file: str | None = None
    # partner stems for jam training: name → [N] float32, the same length and gain as `audio`, summing to it
    # (exactly for mixes, to the synth's rounding for score parts); plus, outside that sum, REVOICED_STEM:
    # the same notes on other instruments (data/revoice.py)
    stems: dict[str, np.ndarray] = field(default_factory=dict)


class RenderContext:
    def __init__(self, paths: SourcePaths, pieces: dict[str, PieceRef], samples: dict[str, SampleRef],
                 kits: dict[str, KitRef], group_of: dict[str, str], score_cache: Path | None = None,
                 tracks: dict[str, TrackRef] | None = None, stems: bool = True, revoice: bool = True,
                 kit_splits: dict[str, str] | None = None) -> None:
        self.stems = stems  # render partner stems of multi-part items (score: melody/accompaniment, mix: drums/band)
        self.revoice = revoice  # render score/mix items again on other instruments (REVOICED_STEM)
        # kit name → split: a re-voiced mix borrows only kits of its own split (None: unknown, its own kit)
        self.kit_splits = kit_splits or {}
        self.paths, self.pieces, self.samples, self.kits, self.group_of = paths, pieces, samples, kits, group_of
        self.score_cache = score_cache
        self.tracks = tracks or {}
        self.synths = RendererPool({"FluidR3_GM": paths.sf2_path, "MuseScore_General": paths.sf3_path},
                                   SAMPLE_RATE_HZ)
        self._scores: OrderedDict[str, list[ParsedScore]] = OrderedDict()
        self._kits: dict[str, DrumKit] = {}
        self._revoice_kits: dict[str, DrumKit] = {}

    def score(self, key: str, tune: int) -> ParsedScore:
        """Tune `tune` (modulo the file's tune count) of a piece, parsed once per build."""
        if key not in self._scores:
            self._scores[key] = load_scores_cached(self.pieces[key].path, self.score_cache)
            if len(self._scores) > 8:
                self._scores.popitem(last=False)
        self._scores.move_to_end(key)
        tunes = self._scores[key]
        return tunes[tune % len(tunes)]

    def kit(self, name: str) -> DrumKit:
        if name not in self._kits:
            self._kits[name] = load_kit(self.kits[name])
        return self._kits[name]

    def kits_in_split(self, split: str) -> list[DrumKit]:
        """The parsed kits of `split` (parsing reads no audio); kits whose drumkit.xml is unreadable left out."""
        out = []
        for name in sorted(n for n, s in self.kit_splits.items() if s == split and n in self.kits):
            try:
                out.append(self.kit(name))
            except ValueError:
                continue
        return out

    def revoice_kit(self, name: str) -> DrumKit:
        """A second copy of a kit for re-voiced drums: its sample cache and problem list are its own, so an
        unreadable sample met while re-voicing can never fail (or silence) a later clip's own drums."""
        if name not in self._revoice_kits:
            self._revoice_kits[name] = load_kit(self.kits[name])
        return self._revoice_kits[name]


def _level_gain(audio: np.ndarray, rng: np.random.Generator) -> float:
    # varied levels, so the loudness control sees a range; the ceiling keeps FLAC's 16 bits unclipped.
    # Rounded to 9 digits: numpy's float reductions can differ in the last bit between processes (SIMD
    # paths depend on memory alignment), and a last-bit change of the gain flipped 16-bit samples
    return float(f"{level_gain(audio, float(rng.uniform(-26.0, -16.0)), peak_ceiling=0.95):.9g}")


def _scaled(audio: np.ndarray, gain: float) -> np.ndarray:
    # float32 first, as normalise_level does, so a render with stems equals one without bit for bit
    return (np.asarray(audio, dtype=np.float32) * gain).astype(np.float32)


def _level(audio: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return normalise_level(audio, float(rng.uniform(-26.0, -16.0)), peak_ceiling=0.95)


def _score_stems(new_synth, notes5: np.ndarray, roles: tuple[str, ...], programs: list[int],  # noqa: ANN001
                 duration_s: float, reverb_send: int) -> dict[str, np.ndarray]:
    """Melody vs accompaniment, each rendered alone (on a fresh synth from `new_synth()`, like the full
    render) on the same channels and programs as the full render, so the two sum to it; nothing when the
    excerpt has a single part or one side has no notes."""
    melody_parts = [i for i, r in enumerate(roles) if r == "melody"]
    is_melody = np.isin(notes5[:, 4].astype(int), melody_parts)
    if len(roles) < 2 or is_melody.all() or not is_melody.any():
        return {}
    return {"melody": new_synth().render(notes5[is_melody], programs, duration_s, reverb_send=reverb_send),
            "accompaniment": new_synth().render(notes5[~is_melody], programs, duration_s, reverb_send=reverb_send)}


def _notes4(notes5: np.ndarray) -> np.ndarray:
    return np.asarray(notes5[:, :4], dtype=np.float32)


RevoiceRender = Callable[[np.random.Generator], tuple[np.ndarray, dict[str, Any]]]


def _revoiced(job: Job, gain: float, render: RevoiceRender) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """({REVOICED_STEM: audio} scaled by the mix's `gain`, its record) from `render(rng) → (audio, record)`,
    drawn from the job's own re-voice generator. A failure costs only this stem (recorded), never the clip:
    the corpus must hold the same clips with and without re-voicing."""
    try:
        audio, record = render(revoice_rng(job.seed))
    except (ValueError, SynthError, OSError) as exc:
        return {}, {"error": f"{type(exc).__name__}: {exc}"[:300]}
    revoiced, trim_db = fit_peak(_scaled(audio, gain))
    return {REVOICED_STEM: revoiced}, {**record, **({"trim_db": trim_db} if trim_db else {})}


def _revoice_score(ctx: RenderContext, sf_name: str, palette: Palette, style: Style, ex: Excerpt, reverb_send: int,
                   rng: np.random.Generator) -> tuple[np.ndarray, dict[str, Any]]:
    """The excerpt's notes on another palette: same soundfont, channels, reverb send and length."""
    other = choose_palette(palette, ex.roles, style.palettes, tuple(PALETTES), rng)
    programs = programs_of(other, ex.roles)
    audio = ctx.synths.get(sf_name).render(ex.notes, programs, ex.duration_s, reverb_send=reverb_send)
    return audio, {"palette": other.name, "programs": programs}


def render_score(job: Job, ctx: RenderContext, rng: np.random.Generator) -> RenderResult:
    piece = ctx.pieces[job.params["piece"]]
    style = style_for(piece.folder)
    score = ctx.score(piece.key, int(rng.integers(1000)))
    ex = make_excerpt(score, style, rng, job.clip_s)
    palette = PALETTES[style.palettes[int(rng.integers(len(style.palettes)))]]
    sf_name = job.params["soundfont"]
    programs = [palette.program_for(r)[0] for r in ex.roles]
    reverb_send = int(rng.integers(20, 80))
    audio = ctx.synths.get(sf_name).render(ex.notes, programs, ex.duration_s, reverb_send=reverb_send)
    text, tags = labels.describe_score(style, palette, ex.roles, ex.beat_bpm, ex.key, rng)
    gain = _level_gain(audio, rng)
    parts = (_score_stems(lambda: ctx.synths.get(sf_name), ex.notes, ex.roles, programs, ex.duration_s, reverb_send)
             if ctx.stems else {})
    stems = {name: _scaled(part, gain) for name, part in parts.items()}
    revoiced: dict[str, dict[str, Any]] = {}
    if ctx.revoice:  # after every draw from `rng`
        stem, revoiced[REVOICED_STEM] = _revoiced(
            job, gain, lambda r: _revoice_score(ctx, sf_name, palette, style, ex, reverb_send, r))
        stems.update(stem)  # already scaled
    return RenderResult(
        audio=_scaled(audio, gain), description=text, tags=tags, stems=stems,
        licences=[piece.licence, SOUNDFONT_LICENCES[sf_name]], sources=[piece.source_id, f"soundfont:{sf_name}"],
        groups=[piece.source_id], bpm=ex.beat_bpm, key=ex.key, time_signature=ex.time_signature,
        notes=_notes4(ex.notes), source_file=str(piece.path),
        render={"soundfont": sf_name, "palette": palette.name, "programs": programs, "transpose": ex.transpose,
                "quarter_bpm": ex.quarter_bpm, "start_quarter": ex.start_q, "title": score.title, **revoiced})


def _kit_gaps(kit: DrumKit) -> dict:
    """The kit's missing sample files, recorded with the clip (nothing when the kit is complete)."""
    return {"kit_missing_samples": kit.missing} if kit.missing else {}


def _drum_audio(pattern: DrumPattern, kit: DrumKit, bpm: float, duration_s: float,
                rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, list[tuple[float, str, int]]]:
    """(audio, hits table [n, 3], hits as performed: (time_s, role, velocity))."""
    if not {"kick", "snare", "hand_low"} & kit.roles:
        raise ValueError(f"kit {kit.ref.name} has no kick, snare or low hand drum")
    hits = perform(pattern, bpm, duration_s, rng, kit.roles)
    audio = render_hits(kit, hits, duration_s, rng, SAMPLE_RATE_HZ)
    if kit.problems:
        raise ValueError("; ".join(kit.problems[:3]))
    table = np.array([(t, GM_DRUM_NOTE[r], v) for t, r, v in hits], dtype=np.float32).reshape(-1, 3)
    return audio, table, hits


def render_drums(job: Job, ctx: RenderContext, rng: np.random.Generator) -> RenderResult:
    pattern = PATTERNS[job.params["genre"]]
    kit = ctx.kit(job.params["kit"])
    bpm = float(rng.uniform(*pattern.bpm_range))
    audio, table, _ = _drum_audio(pattern, kit, bpm, job.clip_s, rng)
    text, tags = labels.describe_drums(pattern, kit.ref.name, kit.kind, bpm, rng)
    return RenderResult(audio=_level(audio, rng), description=text, tags=tags, licences=[kit.ref.licence],
                        sources=[kit.ref.source_id, *kit.ref.members], groups=[kit.ref.source_id], bpm=bpm,
                        time_signature=pattern.meter, drum_hits=table, source_file=str(kit.ref.path),
                        render={"pattern": pattern.genre, "kit": kit.ref.name, **_kit_gaps(kit)})


def render_mix(job: Job, ctx: RenderContext, rng: np.random.Generator) -> RenderResult:
    piece = ctx.pieces[job.params["piece"]]
    kit = ctx.kit(job.params["kit"])
    score = ctx.score(piece.key, int(rng.integers(1000)))
    if score.simple_duple:
        genres = [g for g in BAND_GENRES_DUPLE if kit.kind in PATTERNS[g].kit_kinds]
    elif score.time_signature == "3/4":
        genres = ["waltz"]
    elif score.compound:
        genres = ["shuffle"]
    else:
        raise ValueError(f"meter {score.time_signature} has no drum pattern for mixes")
    if not genres:
        raise ValueError(f"no band genre suits kit {kit.ref.name}")
    pattern = PATTERNS[genres[int(rng.integers(len(genres)))]]
    bpm = float(rng.uniform(*pattern.bpm_range))
    style = style_for(piece.folder)
    # compound metres count dotted quarters; the shuffle grid (12 per bar) lines up with them
    ex = make_excerpt(score, style, rng, job.clip_s, beat_bpm=bpm)
    palette = PALETTES[BAND_PALETTES[int(rng.integers(len(BAND_PALETTES)))]]
    programs = [palette.program_for(r)[0] for r in ex.roles]
    sf_name = job.params["soundfont"]
    reverb_send = int(rng.integers(15, 50))
    music = ctx.synths.get(sf_name).render(ex.notes, programs, ex.duration_s, reverb_send=reverb_send)
    drums, table, hits = _drum_audio(pattern, kit, bpm, ex.duration_s, rng)
    balance_db = float(rng.uniform(-4.0, 2.0))  # drums relative to the band
    band = normalise_level(music, -20.0)
    drum_stem = normalise_level(drums, -20.0 + balance_db)
    mix = band + drum_stem
    text, tags = labels.describe_mix(pattern, palette, style, kit.kind, bpm, ex.key, ex.roles, rng)
    gain = _level_gain(mix, rng)
    stems = {"drums": _scaled(drum_stem, gain), "band": _scaled(band, gain)} if ctx.stems else {}
    revoiced: dict[str, dict[str, Any]] = {}
    if ctx.revoice:  # after every draw from `rng`
        stem, revoiced[REVOICED_STEM] = _revoiced(job, gain, lambda r: _revoice_mix(
            ctx, job.split, sf_name, palette, ex, reverb_send, kit, hits, balance_db, r))
        stems.update(stem)
    more_licences, more_sources = revoice_credits(ctx, revoiced.get(REVOICED_STEM, {}))
    return RenderResult(
        audio=_scaled(mix, gain), description=text, tags=tags, stems=stems,
        licences=[piece.licence, SOUNDFONT_LICENCES[sf_name], kit.ref.licence, *more_licences],
        sources=[piece.source_id, kit.ref.source_id, *kit.ref.members, f"soundfont:{sf_name}", *more_sources],
        groups=[piece.source_id, kit.ref.source_id], bpm=bpm, key=ex.key, time_signature=ex.time_signature,
        notes=_notes4(ex.notes), drum_hits=table, source_file=str(piece.path),
        render={"soundfont": sf_name, "palette": palette.name, "pattern": pattern.genre, "kit": kit.ref.name,
                "programs": programs, "transpose": ex.transpose, "drum_balance_db": balance_db, **_kit_gaps(kit),
                **revoiced})


def _revoice_mix(ctx: RenderContext, split: str, sf_name: str, palette: Palette, ex: Excerpt, reverb_send: int,
                 kit: DrumKit, hits: list[tuple[float, str, int]], balance_db: float,
                 rng: np.random.Generator) -> tuple[np.ndarray, dict[str, Any]]:
    """The band on another band palette plus the identical hits on another kit of the same kind and split,
    balanced and normalised as the mix is."""
    other = choose_palette(palette, ex.roles, BAND_PALETTES, (), rng)
    programs = programs_of(other, ex.roles)
    music = ctx.synths.get(sf_name).render(ex.notes, programs, ex.duration_s, reverb_send=reverb_send)
    chosen = choose_kit(kit, {role for _, role, _ in hits}, ctx.kits_in_split(split), rng)
    drum_kit = ctx.revoice_kit(chosen.ref.name)
    drums = render_hits(drum_kit, hits, ex.duration_s, rng, SAMPLE_RATE_HZ)
    if drum_kit.problems:
        raise ValueError("; ".join(drum_kit.problems[:3]))
    mix = normalise_level(music, -20.0) + normalise_level(drums, -20.0 + balance_db)
    record: dict[str, Any] = {"palette": other.name, "programs": programs, "kit": drum_kit.ref.name}
    if drum_kit.ref.name != kit.ref.name:  # another kit's sounds are in the training data: credit them too
        record.update(kit_licence=drum_kit.ref.licence.spdx,
                      kit_sources=[drum_kit.ref.source_id, *drum_kit.ref.members])
    return mix, record


def revoice_credits(ctx: RenderContext, record: dict[str, Any]) -> tuple[list[Licence], list[str]]:
    """The licence and sources of a re-voice's other drum kit (none when it used the item's own, or failed)."""
    if "kit_licence" not in record or record.get("kit") not in ctx.kits:
        return [], []
    return [ctx.kits[record["kit"]].licence], list(record["kit_sources"])


def _loop_bpm(duration_s: float) -> float:
    """Loops are whole bars of 4/4: the bar count that puts the tempo in 70–180 bpm."""
    bpm = 240.0 / duration_s
    while bpm < 70:
        bpm *= 2
    while bpm > 180:
        bpm /= 2
    return bpm


def render_sample(job: Job, ctx: RenderContext, rng: np.random.Generator) -> RenderResult:
    ref = ctx.samples[job.params["sample"]]
    try:
        data, sr = sf.read(str(ref.path), dtype="float32", always_2d=False)
    except Exception as exc:
        raise ValueError(f"unreadable audio ({type(exc).__name__}: {exc})") from None
    if data.size == 0 or not np.all(np.isfinite(data)):
        raise ValueError("empty or non-finite audio")
    x = resample(to_mono(data), sr, SAMPLE_RATE_HZ)
    variant = int(job.params.get("variant", 0))
    semitones = 0
    if variant:  # varispeed copies: pitch and tempo move together, like a turntable
        semitones = int(rng.choice([-5, -4, -3, -2, 2, 3, 4, 5]))
        x = resample(x, int(round(SAMPLE_RATE_HZ * 2 ** (semitones / 12))), SAMPLE_RATE_HZ)
    duration = x.size / SAMPLE_RATE_HZ
    bpm = None
    if ref.category == "loop":
        bpm = 97.0 * 2 ** (semitones / 12) if "97" in ref.name else _loop_bpm(duration)
        x = tile_loop(x, int(max(job.clip_s, 8.0) * SAMPLE_RATE_HZ))
    else:
        x = np.concatenate([x, np.zeros(int(0.25 * SAMPLE_RATE_HZ), np.float32)])
        if x.size < SAMPLE_RATE_HZ:
            x = np.concatenate([x, np.zeros(SAMPLE_RATE_HZ - x.size, np.float32)])
    x = x[: int(MAX_SAMPLE_S * SAMPLE_RATE_HZ)]
    text, tags = labels.describe_sample(ref.name, ref.category, duration, bpm, rng)
    if semitones:
        text += f", pitched {'up' if semitones > 0 else 'down'}"
    group = ctx.group_of.get(ref.source_id, ref.source_id)  # a virtual-kit member travels with its kit
    return RenderResult(audio=_level(x, rng), description=text, tags=tags, licences=[ref.licence],
                        sources=list(dict.fromkeys([ref.source_id, group])), groups=[group], bpm=bpm,
                        source_file=str(ref.path), render={"semitones": semitones, "original_s": duration})


def render_produced(job: Job, ctx: RenderContext, rng: np.random.Generator) -> RenderResult:
    """A clip of a real recording: exact grid from its chart when it has one, else estimated tempo and key."""
    track = ctx.tracks[job.params["track"]]
    start_s = float(job.params["start_s"])
    clip = produced_clip.read_span(track, start_s, job.clip_s, SAMPLE_RATE_HZ)
    if clip.size < int(job.clip_s * SAMPLE_RATE_HZ) - 1:
        raise ValueError(f"track ends {clip.size / SAMPLE_RATE_HZ:.2f} s into a {job.clip_s:g}-s clip")
    produced_clip.check_not_silent(clip, SAMPLE_RATE_HZ)
    lo = max(0.0, start_s - job.clip_s)
    context = produced_clip.read_span(track, lo, start_s + 2 * job.clip_s - lo, SAMPLE_RATE_HZ)
    est = produced_clip.estimate(clip, context, SAMPLE_RATE_HZ)
    render = {"package": track.package, "title": track.title, "start_s": start_s, "credit": track.info.credit,
              "stems": [s.name for s in track.stems], "tempo_detected_bpm": round(est.detected_bpm, 2),
              "tempo_context_bpm": round(est.context_bpm, 2), "tempo_confidence": round(est.confidence, 3),
              "key_estimated": True, "key_correlation": round(est.key_correlation, 3)}
    if job.params.get("exact_grid"):
        render["tempo_map"], meter, bpm = produced_clip.exact_grid(track, start_s, job.clip_s)
        render.update(tempo_estimated=False, grid_source=str(track.grid_path.name if track.grid_path else ""))
    else:
        meter, bpm = None, est.bpm
        render["tempo_estimated"] = True
    info = track.info
    text, tags = labels.describe_produced(info.phrases, info.genre, info.instruments, track.moods, info.instrumental,
                                          info.texture, bpm, bool(job.params.get("exact_grid")), rng)
    return RenderResult(audio=_level(clip, rng), description=text, tags=tags, licences=[track.licence],
                        sources=list(dict.fromkeys([track.source_id, track.group])), groups=[track.group], bpm=bpm,
                        key=est.key, time_signature=meter, source_file=str(track.stems[0]), render=render)


RENDERERS = {"score": render_score, "drums": render_drums, "mix": render_mix, "sample": render_sample,
             "produced": render_produced}


def source_file_of(job: Job, ctx: RenderContext) -> str | None:
    """The file a job mainly reads, for skip reports."""
    if "piece" in job.params and job.params["piece"] in ctx.pieces:
        return str(ctx.pieces[job.params["piece"]].path)
    if "sample" in job.params and job.params["sample"] in ctx.samples:
        return str(ctx.samples[job.params["sample"]].path)
    if "kit" in job.params and job.params["kit"] in ctx.kits:
        return str(Path(ctx.kits[job.params["kit"]].path))
    if "track" in job.params and job.params["track"] in ctx.tracks:
        return str(ctx.tracks[job.params["track"]].stems[0])
    return None
