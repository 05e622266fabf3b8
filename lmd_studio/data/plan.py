"""From the source catalogue to a deterministic list of render jobs for a build size.

A job names what to render (kind + sources + variant) and carries its own seed; everything random about the
clip (tempo, excerpt, instruments, humanisation) is drawn inside the worker from that seed. Job ids are
stable, so a resumed build skips exactly the jobs whose items are already in the manifest.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from lmd_studio.data.drum_kits import kit_kind
from lmd_studio.data.drum_patterns import PATTERNS
from lmd_studio.data.produced import TrackRef, plan_clips, produced_tracks
from lmd_studio.data.sources import (
    KitRef,
    PieceRef,
    SampleRef,
    SourcePaths,
    drum_kits,
    music21_pieces,
    sonic_pi_samples,
)
from lmd_studio.data.splits import SPLITS, SplitConfig, assign_splits, stable_hash

SOUNDFONTS = ("FluidR3_GM", "MuseScore_General")

# repertoire families and their share of score renders (keeps 1,059 fiddle tunes from swamping the rest)
FAMILIES: dict[str, tuple[float, tuple[str, ...]]] = {
    "baroque": (0.30, ("bach", "handel", "corelli", "cpebach")),
    "early": (0.15, ("monteverdi", "trecento", "josquin", "ciconia", "luca", "lusitano", "palestrina")),
    "classical": (0.15, ("mozart", "haydn", "beethoven")),
    "romantic": (0.10, ("schubert", "schumann_clara", "schumann_robert", "chopin", "weber", "verdi", "beach",
                        "liliuokalani", "johnson_j_r", "joplin", "schoenberg", "webern")),
    "folk": (0.30, ("ryansMammoth", "oneills1850", "airdsAirs", "nottingham-dataset", "miscFolk", "essenFolksong")),
}
MIX_FAMILIES = ("baroque", "folk", "classical")
SPLIT_SHARE = {"train": 0.90, "val": 0.05, "test": 0.05}


@dataclass(frozen=True, slots=True)
class SizeSpec:
    name: str
    clip_s: float
    score_clips: int
    drum_clips: int
    mix_clips: int
    sample_variants: int  # 1 = every sample once; 3 = plus two varispeed copies
    produced_share: float = 0.0  # at most this share of the planned hours from produced recordings

    def __post_init__(self) -> None:
        if self.clip_s < 4.0:
            raise ValueError(f"clip_s must be >= 4 s, got {self.clip_s}")
        if not 0.0 <= self.produced_share < 1.0:
            raise ValueError(f"produced_share must be in [0, 1), got {self.produced_share}")


SIZES = {
    "tiny": SizeSpec("tiny", 5.0, 2, 2, 1, 1),
    "small": SizeSpec("small", 12.0, 150, 80, 50, 1, produced_share=0.10),
    "full": SizeSpec("full", 12.0, 3400, 1600, 1200, 3, produced_share=0.25),
}


@dataclass(frozen=True, slots=True)
class Job:
    id: str
    kind: str  # "score", "sample", "drums", "mix", "produced"
    split: str
    seed: int
    clip_s: float
    params: dict = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Catalogue:
    pieces: tuple[PieceRef, ...]
    samples: tuple[SampleRef, ...]
    kits: tuple[KitRef, ...]
    split_of: dict[str, str]  # group id → split
    tracks: tuple[TrackRef, ...] = ()  # produced recordings (data/produced.py)

    def group_of_sample(self, s: SampleRef) -> str:
        for kit in self.kits:
            if s.source_id in kit.members:
                return kit.source_id  # a sample inside a virtual kit travels with its kit
        return s.source_id

    def pieces_in(self, split: str, folders: tuple[str, ...]) -> list[PieceRef]:
        return [p for p in self.pieces if p.folder in folders and self.split_of[p.source_id] == split]

    def kits_in(self, split: str) -> list[KitRef]:
        return [k for k in self.kits if self.split_of[k.source_id] == split]


def build_catalogue(paths: SourcePaths, split_cfg: SplitConfig, include_noncommercial: bool) -> Catalogue:
    pieces = tuple(music21_pieces(paths, include_restricted=include_noncommercial))
    samples = tuple(sonic_pi_samples(paths))
    kits = tuple(k for k in drum_kits(paths) if include_noncommercial or k.licence.commercial_ok)
    strata: dict[str, list[str]] = {}
    for p in pieces:
        strata.setdefault(f"music21/{p.folder}", []).append(p.source_id)
    for k in kits:
        strata.setdefault(f"kit/{kit_kind(k.name)}", []).append(k.source_id)
    cat = Catalogue(pieces, samples, kits, {})
    kit_ids = {k.source_id for k in kits}
    strata["sonicpi"] = [cat.group_of_sample(s) for s in samples if cat.group_of_sample(s) not in kit_ids]
    tracks = tuple(t for t in produced_tracks(paths.produced_root) if include_noncommercial or t.licence.commercial_ok)
    for t in tracks:  # one stratum per style family; strata are split independently of each other
        strata.setdefault(f"produced/{t.info.family}", []).append(t.group)
    split_of = assign_splits(strata, split_cfg)
    for s in samples:  # kit members inherit their kit's split
        split_of.setdefault(s.source_id, split_of[cat.group_of_sample(s)])
    return Catalogue(pieces, samples, kits, split_of, tracks)


def _shares(total: int, weights: dict[str, float]) -> dict[str, int]:
    """Largest-remainder apportionment of `total` over weighted keys."""
    wsum = sum(weights.values()) or 1.0
    raw = {k: total * w / wsum for k, w in weights.items()}
    out = {k: int(v) for k, v in raw.items()}
    for k in sorted(raw, key=lambda k: -(raw[k] - out[k]))[: total - sum(out.values())]:
        out[k] += 1
    return out


def _job(kind: str, key: str, split: str, seed: int, clip_s: float, **params) -> Job:
    job_id = f"{kind}-{key}".replace("/", "_").replace(" ", "_")
    return Job(job_id, kind, split, stable_hash(seed, job_id), clip_s, params)


def _slug(piece: PieceRef) -> str:
    return piece.key.rsplit(".", 1)[0]


def plan_jobs(cat: Catalogue, size: SizeSpec, seed: int) -> list[Job]:
    rng = np.random.default_rng(stable_hash(seed, "plan", size.name))
    jobs: list[Job] = []
    n_scores = 0  # alternates the two soundfonts across all score renders
    split_totals = {
        kind: _shares(n, SPLIT_SHARE) if size.name != "tiny" else {"train": n - n // 2, "val": 0, "test": n // 2}
        for kind, n in (("score", size.score_clips), ("drums", size.drum_clips), ("mix", size.mix_clips))}
    for split in SPLITS:
        # score renders: per family, cycling through the split's pieces in a seeded order
        n = split_totals["score"][split]
        avail = {f: cat.pieces_in(split, folders) for f, (_, folders) in FAMILIES.items()}
        weights = {f: w for f, (w, _) in FAMILIES.items() if avail[f]}
        if size.name == "tiny":
            weights = {"baroque": 1.0} if avail["baroque"] else weights
        for fam, count in _shares(n, weights).items():
            pool = [avail[fam][i] for i in rng.permutation(len(avail[fam]))]
            for i in range(count):
                piece = pool[i % len(pool)]
                variant = i // len(pool)
                jobs.append(_job("score", f"{_slug(piece)}-v{variant}", split, seed, size.clip_s,
                                 piece=piece.key, variant=variant, soundfont=SOUNDFONTS[n_scores % 2]))
                n_scores += 1
        # drum patterns: (pattern, kit) pairs whose kit kind suits the pattern
        kits = cat.kits_in(split)
        combos = [(g, k.name) for g, p in sorted(PATTERNS.items()) for k in kits if kit_kind(k.name) in p.kit_kinds]
        combos = [combos[i] for i in rng.permutation(len(combos))]
        for i in range(split_totals["drums"][split] if combos else 0):
            genre, kit = combos[i % len(combos)]
            jobs.append(_job("drums", f"{genre}-{kit}-v{i // len(combos)}", split, seed, size.clip_s,
                             genre=genre, kit=kit))
        # layered mixes: a piece and a (non-hand) kit from the same split
        band_kits = [k.name for k in kits if kit_kind(k.name) != "hand"]
        mix_pieces = [p for f in MIX_FAMILIES for p in cat.pieces_in(split, FAMILIES[f][1])]
        mix_pieces = [mix_pieces[i] for i in rng.permutation(len(mix_pieces))]
        for i in range(split_totals["mix"][split] if band_kits and mix_pieces else 0):
            piece = mix_pieces[i % len(mix_pieces)]
            kit = band_kits[int(rng.integers(len(band_kits)))]
            jobs.append(_job("mix", f"{_slug(piece)}-{kit}-v{i // len(mix_pieces)}", split, seed, size.clip_s,
                             piece=piece.key, kit=kit, soundfont=SOUNDFONTS[i % 2]))
    jobs.extend(_sample_jobs(cat, size, seed))
    # produced recordings last: adding them to a corpus planned before they existed renumbers nothing
    jobs.extend(_produced_jobs(cat, size, seed))
    return jobs


def _sample_jobs(cat: Catalogue, size: SizeSpec, seed: int) -> list[Job]:
    samples = list(cat.samples)
    if size.name == "tiny":  # a loop and a hit from train, and one held-out sample
        train = [s for s in samples if cat.split_of[s.source_id] == "train"]
        held = [s for s in samples if cat.split_of[s.source_id] != "train"]
        picks = [next(s for s in train if s.category == "loop"), next(s for s in train if s.category == "drum")]
        samples = picks + held[:1]
    jobs = []
    for s in samples:
        for v in range(size.sample_variants):
            jobs.append(_job("sample", f"{s.name}-v{v}", cat.split_of[s.source_id], seed, size.clip_s,
                             sample=s.name, variant=v))
    return jobs


def _produced_jobs(cat: Catalogue, size: SizeSpec, seed: int) -> list[Job]:
    """Clips of produced recordings, within `produced_share` of the planned hours (score, drum and mix clips
    at their nominal length; samples are left out of the sum, being short); each clip in its track's split."""
    tracks = list(cat.tracks)
    if size.name == "tiny":  # one clip of a charted (exact-grid) training track, one of an uncharted held-out one
        train = [t for t in tracks if cat.split_of[t.group] == "train" and t.grid_path is not None]
        held = sorted((t for t in tracks if cat.split_of[t.group] != "train"), key=lambda t: t.grid_path is not None)
        tracks = train[:1] + held[:1]
        every = plan_clips(tracks, size.clip_s, float("inf"), seed)
        clips = []
        for t in tracks:
            own = [c for c in every if c.track is t]
            clips += own[min(2, len(own) - 1):][:1]  # a little way in, past an intro
    else:
        other_s = (size.score_clips + size.drum_clips + size.mix_clips) * size.clip_s
        clips = plan_clips(tracks, size.clip_s, size.produced_share / (1.0 - size.produced_share) * other_s, seed)
    return [_job("produced", f"{c.track.key}-c{c.index:03d}", cat.split_of[c.track.group], seed, size.clip_s,
                 track=c.track.key, start_s=c.start_s, exact_grid=c.exact_grid) for c in clips]
