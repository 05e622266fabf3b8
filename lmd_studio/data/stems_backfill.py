"""Give items built before stems existed their partner stems, without touching their mix.

Each job is re-rendered from its own seed (renders are deterministic), the re-render is checked against the
stored 16-bit mix (`worker.same_music`) so the stems are known to line up with it, and the stems are
written beside it. The manifest is rewritten atomically every `SAVE_EVERY` items, so an interrupted pass
resumes where it stopped; items whose re-render does not match are logged in `stems-skipped.jsonl` and not
retried.
"""

from __future__ import annotations

import dataclasses
import json
import multiprocessing as mp
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from lmd_studio.data.manifest import ManifestItem, read_manifest, rewrite_manifest
from lmd_studio.data.plan import Job
from lmd_studio.data.worker import WorkerSetup, init_worker, run_stems_job

STEM_KINDS = ("score", "mix")  # the kinds whose renders know their parts
SAVE_EVERY = 200
SKIP_FILE = "stems-skipped.jsonl"


def skipped_ids(path: Path) -> set[str]:
    """Ids logged in a backfill's skip file (JSON lines with an "id")."""
    if not path.exists():
        return set()
    return {json.loads(line)["id"] for line in path.read_text(encoding="utf-8").splitlines() if line.strip()}


def log_skip(path: Path, item_id: str, reason: str) -> None:
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(json.dumps({"id": item_id, "reason": reason}) + "\n")


def run_tasks(fn: Callable[[tuple[Job, ManifestItem]], dict[str, Any]], todo: list[tuple[Job, ManifestItem]],
              setup: WorkerSetup, workers: int) -> Iterator[dict[str, Any]]:
    """fn's results in `todo` order: in this process for one worker, else on a pool of `workers`."""
    if workers == 1 or len(todo) <= 1:
        init_worker(setup)
        yield from map(fn, todo)
    else:
        with mp.get_context("spawn").Pool(workers, initializer=init_worker, initargs=(setup,)) as pool:
            yield from pool.imap(fn, todo, chunksize=1)


def backfill_stems(out: Path, jobs: list[Job], setup: WorkerSetup, workers: int,
                   log: Callable[[str], None] = print) -> int:
    """Stems for every score/mix item of the manifest in `out` that has none; returns how many got them."""
    manifest_path = out / "manifest.jsonl"
    by_id = {j.id: j for j in jobs}
    skipped = skipped_ids(out / SKIP_FILE)
    todo = [(by_id[it.id], it) for it in read_manifest(manifest_path)
            if it.kind in STEM_KINDS and "stems" not in it.render and it.id in by_id and it.id not in skipped]
    if not todo:
        return 0
    log(f"partner stems: {len(todo)} earlier items to re-render for their stems")
    found: dict[str, dict] = {}

    def save() -> None:
        items = read_manifest(manifest_path)
        rewrite_manifest(manifest_path, [
            dataclasses.replace(it, stems=found[it.id], render={**it.render, "stems": sorted(found[it.id])})
            if it.id in found else it for it in items])

    def handle(result: dict, done: int) -> None:
        if "stems" in result:
            item_id, stems = result["stems"]
            found[item_id] = stems  # possibly {} (one part only): recorded so it is not tried again
        else:
            log_skip(out / SKIP_FILE, *result["stems_skip"])
        if done % SAVE_EVERY == 0:
            save()
            log(f"partner stems: {done}/{len(todo)} re-rendered, {len(found)} decided")

    for n, result in enumerate(run_tasks(run_stems_job, todo, setup, workers), 1):
        handle(result, n)
    save()
    return sum(1 for stems in found.values() if stems)

