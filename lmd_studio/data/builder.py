"""`lmd data build`: plan jobs, render them on worker processes, append finished items, write the report.

Resumable: the manifest and the skip log are the record of what is done; a rerun with the same options plans
the same jobs (ids are deterministic) and only renders the rest. Deterministic: a job's output depends only
on the job (its own seed), not on which worker ran it or in which order, and the manifest is written in
plan order.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from lmd_studio.data.manifest import (
    CORPUS_FORMAT,
    CORPUS_VERSION,
    KINDS,
    ManifestItem,
    append_item,
    read_manifest,
)
from lmd_studio.data.plan import SIZES, Catalogue, build_catalogue, plan_jobs
from lmd_studio.data.produced import missing_packages, produced_tracks
from lmd_studio.data.relabel import relabel_keys
from lmd_studio.data.report import build_report, read_skips, write_report
from lmd_studio.data.revoice_backfill import backfill_revoiced
from lmd_studio.data.sources import SourcePaths, check_sources, drum_kits, music21_pieces
from lmd_studio.data.splits import SplitConfig
from lmd_studio.data.stems_backfill import backfill_stems
from lmd_studio.data.worker import WorkerSetup, init_worker, run_job


class BuildError(RuntimeError):
    pass


def default_corpus_dir() -> Path:
    import platformdirs

    return Path(platformdirs.user_data_dir("lmd-studio", appauthor=False)) / "corpus"


@dataclass(frozen=True, slots=True)
class BuildConfig:
    out_dir: Path
    size: str = "small"
    seed: int = 0
    workers: int = 2
    include_noncommercial: bool = False
    sources: SourcePaths = field(default_factory=SourcePaths)
    progress: bool = True
    max_jobs: int | None = None  # stop after this many jobs (tests of interruption/resume)
    only_kinds: tuple[str, ...] | None = None  # render only these kinds' jobs now (the plan stays the whole)
    stems: bool = True  # partner stems of multi-part items (jam training); earlier items get theirs backfilled
    revoice: bool = True  # score/mix items re-rendered on other instruments (data/revoice.py); backfilled too

    def __post_init__(self) -> None:
        if self.size not in SIZES:
            raise ValueError(f"size must be one of {sorted(SIZES)}, got {self.size!r}")
        if self.workers < 1:
            raise ValueError(f"workers must be >= 1, got {self.workers}")
        if self.only_kinds is not None and (not self.only_kinds or not set(self.only_kinds) <= set(KINDS)):
            raise ValueError(f"only_kinds must name some of {KINDS}, got {self.only_kinds}")

    def identity(self) -> dict:
        """What must match for a rerun to resume into the same folder."""
        return {"format": CORPUS_FORMAT, "version": CORPUS_VERSION, "size": self.size, "seed": self.seed,
                "include_noncommercial": self.include_noncommercial}


def _check_identity(out: Path, cfg: BuildConfig) -> None:
    path = out / "corpus.json"
    want = cfg.identity()
    if path.exists():
        have = json.loads(path.read_text(encoding="utf-8"))
        diff = {k: (have.get(k), v) for k, v in want.items() if have.get(k) != v}
        if diff:
            detail = ", ".join(f"{k}: folder has {a!r}, asked {b!r}" for k, (a, b) in diff.items())
            raise BuildError(f"{out} holds a different corpus ({detail}); use another --out or the same options")
    else:
        path.write_text(json.dumps({**want, "sample_rate_hz": 44100, "feature_rate_hz": 44100 / 2048},
                                   indent=2) + "\n", encoding="utf-8")


def _excluded_sources(cfg: BuildConfig, cat: Catalogue) -> dict[str, int]:
    if cfg.include_noncommercial:
        return {}
    out: dict[str, int] = {}
    kept = {p.key for p in cat.pieces}
    for p in music21_pieces(cfg.sources, include_restricted=True):
        if p.key not in kept:
            out[f"music21 {p.licence.spdx}"] = out.get(f"music21 {p.licence.spdx}", 0) + 1
    kept_kits = {k.name for k in cat.kits}
    for k in drum_kits(cfg.sources):
        if k.name not in kept_kits:
            out[f"kit {k.licence.spdx}"] = out.get(f"kit {k.licence.spdx}", 0) + 1
    kept_tracks = {t.key for t in cat.tracks}
    for t in produced_tracks(cfg.sources.produced_root):
        if t.key not in kept_tracks:
            out[f"produced {t.licence.spdx}"] = out.get(f"produced {t.licence.spdx}", 0) + 1
    return out


def build_corpus(cfg: BuildConfig, log=print) -> dict:
    """Build (or resume) the corpus in cfg.out_dir; returns the report dict."""
    check_sources(cfg.sources)
    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    _check_identity(out, cfg)
    started = time.monotonic()
    cat = build_catalogue(cfg.sources, SplitConfig(seed=cfg.seed), cfg.include_noncommercial)
    jobs = plan_jobs(cat, SIZES[cfg.size], cfg.seed)
    manifest_path, skip_path = out / "manifest.jsonl", out / "skipped.jsonl"
    done = {it.id for it in read_manifest(manifest_path, repair=True)}
    done |= {s["id"] for s in read_skips(skip_path)}
    todo = [(i, j) for i, j in enumerate(jobs) if j.id not in done]
    left = len(todo)
    if cfg.only_kinds is not None:
        todo = [(i, j) for i, j in todo if j.kind in cfg.only_kinds]
    if cfg.max_jobs is not None:
        todo = todo[: cfg.max_jobs]
    only = f" (only {', '.join(cfg.only_kinds)} now)" if cfg.only_kinds else ""
    log(f"lmd data build: {len(jobs)} jobs planned ({cfg.size}, seed {cfg.seed}), {len(jobs) - left} already "
        f"done, {len(todo)} to render{only} on {cfg.workers} worker(s) → {out}")
    missing = missing_packages(cfg.sources.produced_root)
    if missing:
        log(f"produced music: not installed, so not in this corpus: {', '.join(missing)} "
            f"(sudo apt-get install {' '.join(missing)})")
    group_of = {s.source_id: cat.group_of_sample(s) for s in cat.samples}
    kit_splits = {k.name: cat.split_of[k.source_id] for k in cat.kits}

    def setup(stems: bool, revoice: bool) -> WorkerSetup:
        return WorkerSetup(out, (cfg.sources, {p.key: p for p in cat.pieces}, {s.name: s for s in cat.samples},
                                 {k.name: k for k in cat.kits}, group_of, out / "cache" / "scores",
                                 {t.key: t for t in cat.tracks}, stems, revoice, kit_splits))

    _run(todo, setup(cfg.stems, cfg.revoice), cfg, manifest_path, skip_path)
    # each backfill re-renders only what it writes (neither changes a clip, so its own flag is enough)
    if cfg.stems and cfg.max_jobs is None:
        backfill_stems(out, jobs, setup(stems=True, revoice=False), cfg.workers, log)
    if cfg.revoice and cfg.max_jobs is None:
        backfill_revoiced(out, jobs, setup(stems=False, revoice=True), cfg.workers, log)
    relabel = relabel_keys(out)
    if relabel.changed:
        log(f"keys from the excerpts' own notes: {relabel.changed} of {relabel.checked} relabelled "
            f"({relabel.latents_rewritten} latent shards updated)")
    previous = out / "report.json"
    spent = json.loads(previous.read_text())["build_seconds"] if previous.exists() else 0.0
    items = read_manifest(manifest_path)
    rep = build_report(items, read_skips(skip_path), {
        "size": cfg.size, "seed": cfg.seed, "workers": cfg.workers, "include_noncommercial": cfg.include_noncommercial,
        "jobs_planned": len(jobs), "complete": len(items) + len(read_skips(skip_path)) >= len(jobs),
        "build_seconds": round(spent + time.monotonic() - started, 1),
        "excluded_sources": _excluded_sources(cfg, cat)})
    write_report(out, rep)
    if rep["split_leaks"]:
        raise BuildError(f"split leakage detected: {rep['split_leaks'][:3]}")
    return rep


def _run(todo, setup: WorkerSetup, cfg: BuildConfig, manifest_path: Path, skip_path: Path) -> None:
    from tqdm import tqdm

    bar = tqdm(total=len(todo), unit="clip", disable=not cfg.progress, dynamic_ncols=True)
    hours = 0.0

    def handle(result: dict) -> None:
        nonlocal hours
        if "item" in result:
            item: ManifestItem = result["item"]
            append_item(manifest_path, item)
            hours += item.duration_s / 3600
        else:
            with open(skip_path, "a", encoding="utf-8") as fh:
                fh.write(json.dumps(result["skip"]) + "\n")
                fh.flush()
                os.fsync(fh.fileno())
        bar.update(1)
        bar.set_postfix_str(f"{hours:.2f} h")

    try:
        if cfg.workers == 1 or len(todo) <= 1:
            init_worker(setup)
            for task in todo:
                handle(run_job(task))
        else:
            # spawn: workers start clean (no inherited threads or locks from the caller, e.g. a test runner)
            ctx = mp.get_context("spawn")
            with ctx.Pool(cfg.workers, initializer=init_worker, initargs=(setup,)) as pool:
                for result in pool.imap(run_job, todo, chunksize=1):
                    handle(result)
    finally:
        bar.close()
