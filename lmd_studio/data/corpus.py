"""Reading a built corpus: the API training recipes use.

    corpus = Corpus.open(path)
    for item in corpus.items("train"):
        audio = corpus.load_audio(item)            # [C, N] float32 at item.sample_rate_hz
        feats = corpus.load_features(item)         # ControlFeatures, one row per latent frame
        notes = corpus.load_notes(item)            # [n, 4] onset_s, offset_s, pitch, velocity (may be empty)
        crop = corpus.load_crop(item, 64, rng)     # audio + features of 64 latent frames, aligned

Items are ManifestItems (description, tags, bpm, key, licences, sources, split, ...).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from lmd_studio.data.manifest import CORPUS_FORMAT, CORPUS_VERSION, ManifestError, ManifestItem, read_manifest
from lmd_studio.dsp.features import ControlFeatures

LATENT_HOP_FRAMES = 2048


class CorpusError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Crop:
    audio: np.ndarray  # [C, latent_frames * 2048] float32
    features: ControlFeatures  # latent_frames rows
    start_frame: int  # first audio frame of the crop within the item
    item: ManifestItem


def _slice_features(f: ControlFeatures, lo: int, n: int) -> ControlFeatures:
    def take(a: np.ndarray) -> np.ndarray:
        out = a[lo:lo + n]
        if out.shape[0] < n:  # past the end of the clip: silence
            pad = np.zeros((n - out.shape[0],) + a.shape[1:], dtype=a.dtype)
            if a.ndim == 1 and a is f.loudness_db:
                pad[:] = -100.0
            out = np.concatenate([out, pad])
        return out

    return ControlFeatures(loudness_db=take(f.loudness_db), centroid_hz=take(f.centroid_hz),
                           onset_density_hz=take(f.onset_density_hz), chroma_audio=take(f.chroma_audio),
                           pitch_salience=take(f.pitch_salience), pitch_source=f.pitch_source,
                           frame_rate_hz=f.frame_rate_hz)


class Corpus:
    def __init__(self, root: Path, items: list[ManifestItem], info: dict) -> None:
        self.root = Path(root)
        self.info = info
        self._items = items

    @classmethod
    def open(cls, root: str | Path) -> Corpus:
        root = Path(root)
        info_path = root / "corpus.json"
        if not info_path.is_file():
            raise CorpusError(f"{root}: not a corpus folder (no corpus.json); build one with `lmd data build`")
        try:
            info = json.loads(info_path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise CorpusError(f"{info_path}: unreadable ({exc})") from None
        if info.get("format") != CORPUS_FORMAT or info.get("version") != CORPUS_VERSION:
            raise CorpusError(f"{info_path}: format {info.get('format')!r} v{info.get('version')} is not "
                              f"{CORPUS_FORMAT!r} v{CORPUS_VERSION}; rebuild the corpus")
        try:
            items = read_manifest(root / "manifest.jsonl")
        except ManifestError as exc:
            raise CorpusError(str(exc)) from None
        return cls(root, items, info)

    def __len__(self) -> int:
        return len(self._items)

    def items(self, split: str | None = None, *, kinds: Iterable[str] | None = None,
              commercial_only: bool = False) -> list[ManifestItem]:
        kinds = set(kinds) if kinds is not None else None
        return [it for it in self._items if (split is None or it.split == split)
                and (kinds is None or it.kind in kinds) and (it.commercial_ok or not commercial_only)]

    def item(self, item_id: str) -> ManifestItem:
        for it in self._items:
            if it.id == item_id:
                return it
        raise KeyError(f"{self.root}: no item {item_id!r}")

    def path(self, rel: str) -> Path:
        return self.root / rel

    def load_audio(self, item: ManifestItem, start_frame: int = 0, num_frames: int | None = None) -> np.ndarray:
        """[C, N] float32; frames past the end of the file are not returned (see load_crop for padding)."""
        path = self.path(item.audio)
        try:
            data, sr = sf.read(str(path), start=start_frame, frames=-1 if num_frames is None else num_frames,
                               dtype="float32", always_2d=True)
        except Exception as exc:
            raise CorpusError(f"{path}: cannot read audio ({exc})") from None
        if sr != item.sample_rate_hz:
            raise CorpusError(f"{path}: sample rate {sr} Hz, manifest says {item.sample_rate_hz}")
        return np.ascontiguousarray(data.T)  # [N, C] → [C, N]

    def load_features(self, item: ManifestItem) -> ControlFeatures:
        path = self.path(item.features)
        try:
            with np.load(path) as z:
                return ControlFeatures.from_arrays(z)
        except (OSError, KeyError, ValueError) as exc:
            raise CorpusError(f"{path}: cannot read features ({exc})") from None

    def load_notes(self, item: ManifestItem) -> np.ndarray:
        with np.load(self.path(item.features)) as z:
            return np.asarray(z["notes"])

    def load_stem(self, item: ManifestItem, name: str) -> np.ndarray:
        """[1, N] float32 partner stem `name` of `item` (see `item.stems`), aligned sample for sample with its mix."""
        if name not in item.stems:
            raise CorpusError(f"{item.id} has no stem {name!r} (it has: {sorted(item.stems) or 'none'})")
        audio, rate_hz = sf.read(str(self.path(item.stems[name])), dtype="float32", always_2d=True)
        if rate_hz != item.sample_rate_hz or audio.shape[0] != item.num_frames:
            raise CorpusError(f"{item.stems[name]}: {audio.shape[0]} frames at {rate_hz} Hz, expected "
                              f"{item.num_frames} at {item.sample_rate_hz} Hz; rebuild with `lmd data build`")
        return np.ascontiguousarray(audio.T)

    def load_drum_hits(self, item: ManifestItem) -> np.ndarray:
        with np.load(self.path(item.features)) as z:
            return np.asarray(z["drum_hits"])

    def load_crop(self, item: ManifestItem, latent_frames: int, rng: np.random.Generator) -> Crop:
        """A random window of `latent_frames` latent frames (audio + aligned features); short clips are
        zero-padded at the end."""
        if latent_frames < 1:
            raise ValueError(f"latent_frames must be >= 1, got {latent_frames}")
        avail = item.num_frames // LATENT_HOP_FRAMES
        lo = int(rng.integers(0, avail - latent_frames + 1)) if avail > latent_frames else 0
        n = latent_frames * LATENT_HOP_FRAMES
        audio = self.load_audio(item, lo * LATENT_HOP_FRAMES, n)
        if audio.shape[1] < n:
            audio = np.pad(audio, ((0, 0), (0, n - audio.shape[1])))
        return Crop(audio, _slice_features(self.load_features(item), lo, latent_frames), lo * LATENT_HOP_FRAMES, item)

    def hours_by_licence(self, split: str | None = None) -> dict[str, float]:
        out: dict[str, float] = {}
        for it in self.items(split):
            for lic in it.licences:
                out[lic] = out.get(lic, 0.0) + it.duration_s / 3600
        return dict(sorted(out.items()))
