"""The corpus manifest: one JSON object per line, one line per finished item.

A line is appended (and fsync'ed) only after the item's audio and feature files have been renamed into
place, so the manifest never points at half-written data. A crash can at worst leave a truncated last line,
which `read_manifest(repair=True)` drops. The schema is versioned and checked field by field.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from lmd_studio.data.splits import SPLITS

MANIFEST_VERSION = 1
CORPUS_FORMAT = "lmd-corpus"  # corpus.json "format"/"version": what a corpus folder holds
CORPUS_VERSION = 1
KINDS = ("score", "sample", "drums", "mix", "produced")


class ManifestError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class ManifestItem:
    id: str
    kind: str
    split: str
    audio: str  # path relative to the corpus root
    features: str  # .npz with control features (+ notes / drum hits when known)
    sample_rate_hz: int
    channels: int
    num_frames: int
    duration_s: float
    feature_frames: int
    feature_rate_hz: float
    description: str
    tags: dict
    licences: list
    commercial_ok: bool
    sources: list
    groups: list
    bpm: float | None = None
    key: str | None = None
    time_signature: str | None = None
    has_notes: bool = False
    has_drum_hits: bool = False
    seed: int = 0
    render: dict = field(default_factory=dict)
    # partner stems (jam training): name → FLAC path relative to the corpus root, same length as `audio`
    stems: dict = field(default_factory=dict)
    version: int = MANIFEST_VERSION

    def __post_init__(self) -> None:
        where = f"manifest item {self.id!r}"
        if self.kind not in KINDS:
            raise ManifestError(f"{where}: kind {self.kind!r} not in {KINDS}")
        if self.split not in SPLITS:
            raise ManifestError(f"{where}: split {self.split!r} not in {SPLITS}")
        if self.sample_rate_hz <= 0 or self.channels < 1 or self.num_frames <= 0:
            raise ManifestError(f"{where}: bad audio shape ({self.sample_rate_hz} Hz, {self.channels} ch, "
                                f"{self.num_frames} frames)")
        if abs(self.duration_s - self.num_frames / self.sample_rate_hz) > 1e-3:
            raise ManifestError(f"{where}: duration_s disagrees with num_frames")
        if not self.description.strip():
            raise ManifestError(f"{where}: empty description")
        if not self.licences or not all(isinstance(x, str) and x for x in self.licences):
            raise ManifestError(f"{where}: licences must be a non-empty list of ids")
        if not self.groups or not set(self.groups) <= set(self.sources):
            raise ManifestError(f"{where}: groups must be a non-empty subset of sources")
        if not isinstance(self.tags, dict) or not all(isinstance(v, list) for v in self.tags.values()):
            raise ManifestError(f"{where}: tags must map facet → list of values")
        if not isinstance(self.stems, dict) or not all(isinstance(v, str) and v for v in self.stems.values()):
            raise ManifestError(f"{where}: stems must map stem name → file path")
        if self.bpm is not None and not 20 <= self.bpm <= 400:
            raise ManifestError(f"{where}: implausible bpm {self.bpm}")
        if self.version != MANIFEST_VERSION:
            raise ManifestError(f"{where}: manifest version {self.version}, this code reads {MANIFEST_VERSION}")

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, sort_keys=True)

    @classmethod
    def from_dict(cls, d: dict) -> ManifestItem:
        names = {f for f in cls.__dataclass_fields__}
        unknown = set(d) - names
        if unknown:
            raise ManifestError(f"manifest item {d.get('id')!r}: unknown fields {sorted(unknown)}")
        try:
            return cls(**d)
        except TypeError as exc:
            raise ManifestError(f"manifest item {d.get('id')!r}: {exc}") from None


def append_item(path: Path, item: ManifestItem) -> None:
    line = item.to_json() + "\n"
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(line)
        fh.flush()
        os.fsync(fh.fileno())


def rewrite_manifest(path: Path, items: list[ManifestItem]) -> None:
    """Replace the whole manifest atomically (relabelling, adding stems): readers see the old or the new file."""
    tmp = Path(path).with_suffix(".jsonl.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        for it in items:
            fh.write(it.to_json() + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def read_manifest(path: Path, repair: bool = False) -> list[ManifestItem]:
    """Parse every line; a broken *last* line (an interrupted append) is dropped when `repair` is set,
    anything else broken raises ManifestError naming the file and line."""
    path = Path(path)
    if not path.exists():
        return []
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    items: list[ManifestItem] = []
    for no, line in enumerate(lines, 1):
        try:
            if not line.endswith("\n"):
                raise ValueError("line not terminated (interrupted write)")
            items.append(ManifestItem.from_dict(json.loads(line)))
        except (ValueError, ManifestError) as exc:
            if repair and no == len(lines):
                with open(path, "w", encoding="utf-8") as fh:
                    fh.writelines(lines[:-1])
                break
            raise ManifestError(f"{path}:{no}: {exc}") from None
    ids = [it.id for it in items]
    if len(ids) != len(set(ids)):
        raise ManifestError(f"{path}: duplicate item ids")
    return items
