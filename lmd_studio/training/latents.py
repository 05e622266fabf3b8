"""The latent dataset: a corpus encoded once with the codec, so recipes never run the codec per step.

    store = encode_corpus(corpus_dir, codec_path)            # resumable; returns the latents folder
    train = LatentSet.open(store, "train")                   # all items of a split, in memory

Layout of a latents folder (default `<corpus>/latents-<codec fingerprint>/`, so a new codec never mixes
with the old one's latents):
    latents.json              format, version, codec fingerprint and path, sizes, silence latent
    <split>/<item id>.npz     latents [N, C] float32, controls [N, 15] float32 (knob units), description,
                              grid_bpm / grid_beats_per_bar (0 = no known grid; data/grid.py; items encoded
                              before the grid existed read as 0), and for items with partner stems
                              (data/stems_backfill.py) stem_<name>_latents [N, C] + stem_<name>_controls [N, 15]
                              (the stem's own knob values, computed from its audio); the re-voiced render
                              (data/revoice.py, data/revoice_backfill.py) is one of them: stem_revoiced_*
Each item file is written to a temporary name and renamed, so an interrupted run resumes where it stopped
and never leaves a half-written item behind.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from lmd_studio.core.musical_clock import CLOCK_CHANNELS, TempoMap, clock_channels
from lmd_studio.data.corpus import Corpus, CorpusError
from lmd_studio.data.grid import clip_tempo_map
from lmd_studio.data.splits import SPLITS
from lmd_studio.model.checkpoint import CheckpointError
from lmd_studio.model.codec import SpectralCodec, load_codec
from lmd_studio.training.controls import RAW_CHANNELS, features_to_values

LATENTS_FORMAT = "lmd-latents"
LATENTS_VERSION = 1
_CHUNK_S = 60.0  # encode long items in pieces of this length (bounded memory)
_DECODE_ONLY_KEYS = ("gl_iters", "gl_momentum")


def codec_fingerprint(path: str | Path) -> str:
    """sha256 (first 16 hex digits) of the codec's config and tensors: latents are only valid for the exact
    codec. Hashing the contents rather than the file's bytes keeps a re-saved copy (same weights, metadata in
    another order) recognisable as the same codec."""
    from safetensors.torch import load_file

    from lmd_studio.model.checkpoint import read_metadata

    path = Path(path)
    config = json.loads(read_metadata(path).get("config", "{}"))
    for key in _DECODE_ONLY_KEYS:  # phase-reconstruction settings change how audio is rebuilt, not the latents
        config.pop(key, None)
    tensors = load_file(str(path))
    h = hashlib.sha256(json.dumps(config, sort_keys=True).encode("utf-8"))
    for name in sorted(tensors):
        t = tensors[name].contiguous()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}".encode())
        h.update(t.numpy().tobytes())
    return h.hexdigest()[:16]


def latent_space_fingerprint(path: str | Path) -> str:
    """The latent space a codec file writes and reads: its own fingerprint, or, for a codec trained to keep
    another codec's latents (`lmd train codec2` with `teacher_codec`), that codec's (its `latent_space`)."""
    from lmd_studio.model.checkpoint import read_metadata

    return read_metadata(Path(path)).get("latent_space") or codec_fingerprint(path)


def default_latents_dir(corpus_dir: str | Path, codec_path: str | Path) -> Path:
    return Path(corpus_dir) / f"latents-{codec_fingerprint(codec_path)}"


def _open_codec(codec_path: str | Path) -> SpectralCodec:
    path = Path(codec_path)
    if not path.is_file():
        raise CorpusError(f"{path}: codec file not found (train one with `lmd train codec` or pass --codec)")
    try:
        return load_codec(path)
    except CheckpointError as exc:
        raise CorpusError(f"{path}: not a usable codec ({exc})") from None


@torch.inference_mode()
def encode_audio(codec: SpectralCodec, audio: np.ndarray, sample_rate_hz: int) -> np.ndarray:
    """[C, N] float audio at any rate → latents [N' // hop, C_lat] float32 (mono-mixed/resampled as needed)."""
    x = np.asarray(audio, dtype=np.float32)
    if x.ndim == 1:
        x = x[None]
    if codec.audio_channels == 1 and x.shape[0] > 1:
        x = x.mean(axis=0, keepdims=True)
    elif codec.audio_channels == 2 and x.shape[0] == 1:
        x = np.repeat(x, 2, axis=0)
    if sample_rate_hz != codec.sample_rate:
        import soxr

        x = np.ascontiguousarray(soxr.resample(x.T, sample_rate_hz, codec.sample_rate).T.astype(np.float32))
    hop = codec.hop_frames
    chunk = int(_CHUNK_S * codec.sample_rate) // hop * hop
    parts = [codec.encode(torch.from_numpy(x[None, :, i:i + chunk].copy()))[0]
             for i in range(0, max(1, x.shape[1] // hop * hop), chunk)]
    return torch.cat(parts).numpy().astype(np.float32) if parts else np.zeros((0, codec.latent_channels), np.float32)


def _write_npz(path: Path, **arrays: np.ndarray) -> None:
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez(tmp, **arrays)
    tmp.replace(path)


def _stem_arrays(codec: SpectralCodec, corpus: Corpus, item, n: int,
                 names: list[str] | None = None) -> dict[str, np.ndarray]:
    """stem_<name>_latents / stem_<name>_controls for every stem of `item` (or those `names`), cut to the
    mix's `n` frames."""
    from lmd_studio.dsp.features import compute_control_features

    arrays: dict[str, np.ndarray] = {}
    for name in sorted(item.stems) if names is None else names:
        audio = corpus.load_stem(item, name)
        z = encode_audio(codec, audio, item.sample_rate_hz)
        controls = features_to_values(compute_control_features(audio[0]))
        if min(len(z), len(controls)) < n:
            raise CorpusError(f"{item.stems[name]}: stem shorter than its mix; rebuild the corpus")
        arrays[f"stem_{name}_latents"], arrays[f"stem_{name}_controls"] = z[:n], controls[:n]
    return arrays


def _add_missing_stems(path: Path, codec: SpectralCodec, corpus: Corpus, item) -> bool:
    """Stems added to the corpus after the item was encoded (partner stems, then re-voiced renders): encode
    the missing ones into its file, leaving those already there as they are. True if added."""
    if not item.stems:
        return False
    with np.load(path, allow_pickle=False) as z:
        missing = sorted(name for name in item.stems if f"stem_{name}_latents" not in z.files)
        if not missing:
            return False
        arrays = {k: z[k] for k in z.files}
    arrays.update(_stem_arrays(codec, corpus, item, len(arrays["latents"]), missing))
    _write_npz(path, **arrays)
    return True


def encode_corpus(corpus_dir: str | Path, codec_path: str | Path, out_dir: str | Path | None = None, *,
                  splits: tuple[str, ...] = SPLITS, commercial_only: bool = True, log=print) -> Path:
    """Encode every item of `splits` (skipping items already done) and return the latents folder."""
    corpus = Corpus.open(corpus_dir)
    codec = _open_codec(codec_path)
    fp = codec_fingerprint(codec_path)
    out = Path(out_dir) if out_dir is not None else Path(corpus_dir) / f"latents-{fp}"
    out.mkdir(parents=True, exist_ok=True)
    meta_path = out / "latents.json"
    if meta_path.exists():
        old = json.loads(meta_path.read_text(encoding="utf-8"))
        if old.get("codec_fingerprint") != fp:
            raise CorpusError(f"{out}: holds latents of another codec ({old.get('codec_fingerprint')}, this one is "
                              f"{fp}); choose another --latents folder or delete it")
    with torch.inference_mode():
        silence = codec.encode(torch.zeros(1, codec.audio_channels, 8 * codec.hop_frames))[0].mean(0)
    meta = {"format": LATENTS_FORMAT, "version": LATENTS_VERSION, "codec_fingerprint": fp,
            "codec_path": str(Path(codec_path).resolve()), "corpus": str(Path(corpus_dir).resolve()),
            "latent_channels": codec.latent_channels, "latent_rate_hz": codec.latent_rate_hz,
            "hop_frames": codec.hop_frames, "sample_rate_hz": codec.sample_rate,
            "commercial_only": commercial_only, "silence_latent": [float(v) for v in silence],
            "hours_by_licence": corpus.hours_by_licence("train")}
    meta_path.write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    done = skipped = stems_added = 0
    for split in splits:
        (out / split).mkdir(exist_ok=True)
        for item in corpus.items(split, commercial_only=commercial_only):
            path = out / split / f"{item.id}.npz"
            if path.exists():
                skipped += 1
                stems_added += _add_missing_stems(path, codec, corpus, item)
                continue
            z = encode_audio(codec, corpus.load_audio(item), item.sample_rate_hz)
            controls = features_to_values(corpus.load_features(item))
            n = min(len(z), len(controls))
            if n == 0:
                log(f"latents: {item.id} is shorter than one latent frame; skipped")
                continue
            grid = clip_tempo_map(item)
            _write_npz(path, latents=z[:n], controls=controls[:n], description=np.array(item.description),
                       kind=np.array(item.kind),
                       grid_bpm=np.array(grid.segments[0].bpm if grid else 0.0, dtype=np.float64),
                       grid_beats_per_bar=np.array(grid.segments[0].beats_per_bar if grid else 0, dtype=np.int64),
                       **_stem_arrays(codec, corpus, item, n))
            done += 1
            if done % 50 == 0:
                log(f"latents: {done} items encoded ({skipped} already there)")
    added = f", partner stems added to {stems_added}" if stems_added else ""
    log(f"latents: {done} items encoded, {skipped} already there{added} → {out}")
    return out


# kinds whose manifest key comes from the item's own notes (produced clips' keys are estimated from audio)
KEY_FROM_NOTES_KINDS = ("score", "mix")


def _note_keys(corpus_dir: str | None) -> dict[str, str]:
    """item id → labelled key, for items whose key comes from their notes; {} when the corpus the latents were
    encoded from is not there (then key rows fall back to the window's measured profile)."""
    if not corpus_dir:
        return {}
    try:
        corpus = Corpus.open(corpus_dir)
    except CorpusError:
        return {}
    return {it.id: it.key for it in corpus.items() if it.key and it.kind in KEY_FROM_NOTES_KINDS}


@dataclass(frozen=True, slots=True)
class LatentItem:
    id: str
    latents: np.ndarray  # [N, C]
    controls: np.ndarray  # [N, 15]
    description: str
    grid_bpm: float = 0.0  # 0: no known grid (the clock is "let the model decide" for this item)
    grid_beats_per_bar: int = 0
    # partner stems: name → (latents [N, C], controls [N, 15]), aligned frame for frame with `latents`
    stems: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    key: str | None = None  # the labelled key where it comes from the item's notes (KEY_FROM_NOTES_KINDS)

    @property
    def tempo_map(self) -> TempoMap | None:
        """Bar 1 at the item's first frame, constant tempo (how the corpus renders its grids)."""
        return TempoMap.constant(self.grid_bpm, self.grid_beats_per_bar) if self.grid_bpm > 0 else None


class LatentSet:
    """All encoded items of one split, in memory (1 h of audio ≈ 10 MB of latents)."""

    def __init__(self, root: Path, split: str, items: list[LatentItem], meta: dict) -> None:
        self.root, self.split, self.items, self.meta = root, split, items, meta
        self.silence = np.asarray(meta["silence_latent"], dtype=np.float32)

    @classmethod
    def open(cls, root: str | Path, split: str) -> LatentSet:
        root = Path(root)
        meta_path = root / "latents.json"
        if not meta_path.is_file():
            raise CorpusError(f"{root}: not a latents folder (no latents.json); run `lmd train latents` first")
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        if meta.get("format") != LATENTS_FORMAT or meta.get("version") != LATENTS_VERSION:
            raise CorpusError(f"{meta_path}: format {meta.get('format')!r} v{meta.get('version')} is not "
                              f"{LATENTS_FORMAT} v{LATENTS_VERSION}; re-encode the corpus")
        items = []
        for path in sorted((root / split).glob("*.npz")):
            if path.name.endswith(".tmp.npz"):
                continue
            try:
                with np.load(path, allow_pickle=False) as z:
                    grid = (float(z["grid_bpm"]), int(z["grid_beats_per_bar"])) if "grid_bpm" in z.files else (0.0, 0)
                    stems = {k[len("stem_"):-len("_latents")]: (z[k].astype(np.float32),
                                                                 z[k.replace("_latents", "_controls")].astype(np.float32))
                             for k in z.files if k.startswith("stem_") and k.endswith("_latents")}
                    items.append(LatentItem(path.stem, z["latents"].astype(np.float32),
                                            z["controls"].astype(np.float32), str(z["description"]), *grid,
                                            stems=stems))
            except (OSError, KeyError, ValueError) as exc:
                raise CorpusError(f"{path}: unreadable latent item ({exc}); delete it and re-run the encoding") from None
        if not items:
            raise CorpusError(f"{root}: split {split!r} has no encoded items")
        keys = _note_keys(meta.get("corpus"))
        items = [replace(it, key=keys.get(it.id)) for it in items]
        for it in items:
            if it.latents.shape[1] != meta["latent_channels"] or it.controls.shape[1] != RAW_CHANNELS:
                raise CorpusError(f"{root}/{split}/{it.id}.npz: shapes {it.latents.shape}, {it.controls.shape} "
                                  f"do not match {meta['latent_channels']} latent channels")
        return cls(root, split, items, meta)

    @property
    def latent_channels(self) -> int:
        return int(self.meta["latent_channels"])

    @property
    def frames(self) -> int:
        return sum(len(it.latents) for it in self.items)

    @property
    def descriptions(self) -> list[str]:
        return sorted({it.description for it in self.items})

    def window_start(self, index: int, frames: int, rng: np.random.Generator) -> int:
        """A random start frame for a `frames`-long window of item `index` (0 when the item is shorter)."""
        n = len(self.items[index].latents)
        return int(rng.integers(0, n - frames + 1)) if n > frames else 0

    def cut(self, index: int, start: int, frames: int, stem: str | None = None
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """`frames` latent frames of item `index` from `start`: (latents [T, C], controls [T, 15], clock [T, 6]
        from the item's grid, zeros where it has none), of the mix or of its partner stem `stem`. Items shorter
        than the window are padded with the codec's silence latent (silent controls, no clock)."""
        it = self.items[index]
        latents, controls = (it.latents, it.controls) if stem is None else it.stems[stem]
        z, c = latents[start:start + frames], controls[start:start + frames]
        tempo = it.tempo_map
        times_s = (start + np.arange(len(z))) / float(self.meta["latent_rate_hz"]) if tempo else np.zeros(len(z))
        clock = clock_channels(tempo, times_s)  # [t, 6]
        if len(z) < frames:
            pad = frames - len(z)
            z = np.concatenate([z, np.broadcast_to(self.silence, (pad, z.shape[1]))])
            c = np.concatenate([c, np.zeros((pad, c.shape[1]), np.float32)])
            clock = np.concatenate([clock, np.zeros((pad, CLOCK_CHANNELS), np.float32)])
        return z, c, clock

    def window(self, index: int, frames: int, rng: np.random.Generator
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """A random window of `frames` latent frames of item `index`'s mix (see `cut`)."""
        return self.cut(index, self.window_start(index, frames, rng), frames)
