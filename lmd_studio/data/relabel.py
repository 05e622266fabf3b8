"""Relabel a built corpus's keys from each excerpt's own notes (see data/excerpt_key.py for the rule).

Runs at the end of every `lmd data build`, so corpora built before the rule existed are fixed on their
next (resumed) build without re-rendering anything. Idempotent: a relabelled key is the best match of the
notes, so a second pass changes nothing. What changes per item: `key`, the "in <key>" words of the
description, the `key` tag, and `render["piece_key"]` keeps the whole-piece key. Latent shards already
encoded in the corpus folder (`latents-*/<split>/<id>.npz`) carry the description too and are rewritten
in place, so training does not need a re-encode.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import numpy as np

from lmd_studio.data.excerpt_key import excerpt_key
from lmd_studio.data.manifest import ManifestItem, read_manifest, rewrite_manifest


@dataclasses.dataclass(frozen=True)
class RelabelReport:
    checked: int  # items with notes and a key
    changed: int
    latents_rewritten: int


def _relabelled(item: ManifestItem, root: Path) -> ManifestItem | None:
    if not item.has_notes or item.key is None:
        return None
    piece_key = item.render.get("piece_key", item.key)
    notes = np.load(root / item.features)["notes"]
    new_key = excerpt_key(notes, piece_key)
    if new_key == item.key or new_key is None:
        return None
    old_words, new_words = f" in {item.key}", f" in {new_key}"
    description = item.description.replace(old_words, new_words)
    tags = dict(item.tags)
    if "key" in tags:
        tags["key"] = [new_key]
    render = dict(item.render, piece_key=piece_key, key_from="excerpt notes")
    return dataclasses.replace(item, key=new_key, description=description, tags=tags, render=render)


def _rewrite_latent_descriptions(root: Path, changed: dict[str, ManifestItem]) -> int:
    rewritten = 0
    for shard_dir in sorted(root.glob("latents-*")):
        for item_id, item in changed.items():
            path = shard_dir / item.split / f"{item_id}.npz"
            if not path.exists():
                continue
            with np.load(path) as z:
                arrays = {k: z[k] for k in z.files}
            if str(arrays.get("description")) == item.description:
                continue
            arrays["description"] = np.array(item.description)
            tmp = path.with_name(path.stem + ".tmp.npz")
            np.savez(tmp, **arrays)
            os.replace(tmp, path)
            rewritten += 1
    return rewritten


def relabel_keys(corpus_dir: Path) -> RelabelReport:
    """Relabel every item of the corpus in `corpus_dir` in place; returns what was checked and changed."""
    root = Path(corpus_dir)
    manifest_path = root / "manifest.jsonl"
    items = read_manifest(manifest_path)
    checked = sum(1 for it in items if it.has_notes and it.key is not None)
    changed: dict[str, ManifestItem] = {}
    out: list[ManifestItem] = []
    for it in items:
        new = _relabelled(it, root)
        if new is not None:
            changed[it.id] = new
        out.append(new or it)
    if changed:
        rewrite_manifest(manifest_path, out)
    return RelabelReport(checked, len(changed), _rewrite_latent_descriptions(root, changed))
