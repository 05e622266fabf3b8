"""Give items built before re-voicing existed their re-voiced render, without touching their mix or stems.

The same pass as data/stems_backfill.py: each score/mix job is re-rendered from its own seed, the re-render
is checked to be the stored clip's music (`worker.same_music`), and only `<item>.revoiced.flac` is written
beside it; the item's `stems` gains REVOICED_STEM and its `render` the re-voice's record (palette, programs,
kit), which also marks it decided. The manifest is rewritten atomically every `SAVE_EVERY` items, so an
interrupted pass resumes where it stopped; items whose re-render does not match are logged in
`revoice-skipped.jsonl` and not retried.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lmd_studio.data.manifest import ManifestItem, read_manifest, rewrite_manifest
from lmd_studio.data.plan import Job
from lmd_studio.data.revoice import REVOICED_STEM
from lmd_studio.data.stems_backfill import STEM_KINDS, log_skip, run_tasks, skipped_ids
from lmd_studio.data.worker import WorkerSetup, run_revoice_job

SAVE_EVERY = 200
SKIP_FILE = "revoice-skipped.jsonl"


def backfill_revoiced(out: Path, jobs: list[Job], setup: WorkerSetup, workers: int,
                      log: Callable[[str], None] = print) -> int:
    """A re-voiced render for every score/mix item of the manifest in `out` that has no re-voice decision;
    returns how many got one. `setup` should re-voice and may skip the part stems (they are not written)."""
    manifest_path = out / "manifest.jsonl"
    by_id = {j.id: j for j in jobs}
    skipped = skipped_ids(out / SKIP_FILE)
    todo = [(by_id[it.id], it) for it in read_manifest(manifest_path)
            if it.kind in STEM_KINDS and REVOICED_STEM not in it.render and it.id in by_id and it.id not in skipped]
    if not todo:
        return 0
    log(f"re-voiced renders: {len(todo)} earlier items to re-render")
    found: dict[str, tuple[dict[str, str], dict[str, Any]]] = {}  # id → (written stem, render record)

    def save() -> None:
        items = read_manifest(manifest_path)
        rewrite_manifest(manifest_path, [_with_revoice(it, *found[it.id]) if it.id in found else it for it in items])

    for done, result in enumerate(run_tasks(run_revoice_job, todo, setup, workers), 1):
        if "revoiced" in result:
            item_id, written, record = result["revoiced"]
            found[item_id] = (written, record)  # possibly no file (the re-voice failed): decided all the same
        else:
            log_skip(out / SKIP_FILE, *result["revoiced_skip"])
        if done % SAVE_EVERY == 0:
            save()
            log(f"re-voiced renders: {done}/{len(todo)} re-rendered, {len(found)} decided")
    save()
    return sum(1 for written, _ in found.values() if written)


def _with_revoice(item: ManifestItem, written: dict[str, str], record: dict[str, Any]) -> ManifestItem:
    """The item with its re-voice: the file, the render record, and the other drum kit's licence and sources
    (its sounds are in the training data too; a fresh build credits them the same way)."""
    licences, sources = list(item.licences), list(item.sources)
    if written and "kit_licence" in record:  # as worker._write_item lists them: ids sorted, sources in order
        licences = sorted({*licences, record["kit_licence"]})
        sources = list(dict.fromkeys([*sources, *record["kit_sources"]]))
    return dataclasses.replace(item, stems={**item.stems, **written}, render={**item.render, REVOICED_STEM: record},
                               licences=licences, sources=sources)
