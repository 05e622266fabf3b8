"""Worker-process side of the build: render a job, check it, compute its features, write its files.

Files are written under temporary names and renamed into place, so an interrupted build leaves either a
complete item or stray temporaries (which the next run overwrites); the parent process appends the manifest
line only after this returns. Any failure becomes a skip record naming the job, the file and the reason.
"""

from __future__ import annotations

import multiprocessing
import os
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from lmd_studio.data.licences import combine
from lmd_studio.data.manifest import ManifestItem
from lmd_studio.data.plan import Job
from lmd_studio.data.renders import RENDERERS, SAMPLE_RATE_HZ, RenderContext, source_file_of
from lmd_studio.data.revoice import REVOICED_STEM
from lmd_studio.dsp.features import FeatureConfig, compute_control_features
from lmd_studio.dsp.resample import rms_db

SHARD_ITEMS = 250
SILENCE_DB = -60.0


@dataclass(frozen=True, slots=True)
class WorkerSetup:
    out_dir: Path
    context_args: tuple  # RenderContext(*context_args)


_CTX: RenderContext | None = None
_OUT: Path | None = None


def init_worker(setup: WorkerSetup) -> None:
    """Pool initializer: one thread per worker (the build already runs one worker per core)."""
    global _CTX, _OUT
    if multiprocessing.current_process().name != "MainProcess":  # never change the caller's environment
        for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[var] = "1"
    _CTX = RenderContext(*setup.context_args)
    _OUT = Path(setup.out_dir)


def _atomic_write(path: Path, writer) -> None:
    tmp = path.with_name(path.name + ".tmp")
    writer(tmp)
    os.replace(tmp, path)


def _write_item(job: Job, index: int, res, out: Path) -> ManifestItem:
    audio = np.asarray(res.audio, dtype=np.float32)
    if audio.ndim != 1 or audio.size < 2048:
        raise ValueError(f"render too short ({audio.size} frames)")
    if not np.all(np.isfinite(audio)):
        raise ValueError("render contains NaN/inf")
    if rms_db(audio) < SILENCE_DB:
        raise ValueError(f"render is silent ({rms_db(audio):.0f} dB)")
    fcfg = FeatureConfig()
    feats = compute_control_features(audio, fcfg, notes=res.notes)
    shard = f"{job.split}/{index // SHARD_ITEMS:04d}"
    (out / "audio" / shard).mkdir(parents=True, exist_ok=True)
    audio_rel = f"audio/{shard}/{job.id}.flac"
    feat_rel = f"audio/{shard}/{job.id}.npz"
    arrays = feats.to_arrays()
    arrays["notes"] = (res.notes if res.notes is not None else np.zeros((0, 4))).astype(np.float32)
    arrays["drum_hits"] = (res.drum_hits if res.drum_hits is not None else np.zeros((0, 3))).astype(np.float32)

    def write_npz(p: Path) -> None:
        with open(p, "wb") as fh:
            np.savez_compressed(fh, **arrays)

    _atomic_write(out / feat_rel, write_npz)
    _atomic_write(out / audio_rel, lambda p: sf.write(str(p), audio, SAMPLE_RATE_HZ, format="FLAC",
                                                      subtype="PCM_16"))
    parts, revoiced = _split_revoiced(res.stems)
    stems = _write_stems(parts, audio.size, out, f"audio/{shard}/{job.id}")
    # "stems" in render = this item's stems were decided (possibly none): the backfill pass skips it
    render = {**res.render, "stems": sorted(stems)} if _CTX is not None and _CTX.stems else res.render
    # written on its own: a re-voice that cannot be written must not cost the part stems (nor they it)
    stems.update(_write_stems(revoiced, audio.size, out, f"audio/{shard}/{job.id}"))
    ids, commercial_ok = combine(res.licences)
    return ManifestItem(
        id=job.id, kind=job.kind, split=job.split, audio=audio_rel, features=feat_rel,
        sample_rate_hz=SAMPLE_RATE_HZ, channels=1, num_frames=int(audio.size),
        duration_s=audio.size / SAMPLE_RATE_HZ, feature_frames=feats.num_frames,
        feature_rate_hz=feats.frame_rate_hz, description=res.description, tags=res.tags, licences=ids,
        commercial_ok=commercial_ok, sources=list(dict.fromkeys(res.sources)), groups=list(dict.fromkeys(res.groups)),
        bpm=None if res.bpm is None else round(float(res.bpm), 2), key=res.key, time_signature=res.time_signature,
        has_notes=res.notes is not None, has_drum_hits=res.drum_hits is not None, seed=job.seed, render=render,
        stems=stems)


def _split_revoiced(stems: dict[str, np.ndarray]) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """(the part stems, which sum to the mix; the re-voiced render, which does not)."""
    return ({k: v for k, v in stems.items() if k != REVOICED_STEM},
            {k: v for k, v in stems.items() if k == REVOICED_STEM})


def _write_stems(stems: dict[str, np.ndarray], num_frames: int, out: Path, stem_prefix: str) -> dict[str, str]:
    """Write each stem as `<prefix>.<name>.flac`; none at all when any would clip the 16-bit file (a stem
    can peak above its mix where parts cancel) or has the wrong length."""
    if not stems or any(s.shape != (num_frames,) or float(np.max(np.abs(s))) >= 1.0 for s in stems.values()):
        return {}
    written = {}
    for name, stem in sorted(stems.items()):
        rel = f"{stem_prefix}.{name}.flac"
        _atomic_write(out / rel, lambda p, x=stem: sf.write(str(p), x, SAMPLE_RATE_HZ, format="FLAC",
                                                             subtype="PCM_16"))
        written[name] = rel
    return written


# A re-render of an item built before stems existed is not bit-identical to its stored mix (FluidSynth's
# output depended on where its 64-frame block grid fell, see data/synth.py), so the stems are checked to be
# the same music rather than the same samples: level within BACKFILL_MAX_LEVEL_DB and the loudness envelope
# (2048-frame RMS) correlated at least BACKFILL_MIN_ENVELOPE_CORR with the stored mix.
BACKFILL_MAX_LEVEL_DB = 1.5
BACKFILL_MIN_ENVELOPE_CORR = 0.9


def _envelope(audio: np.ndarray, hop: int = 2048) -> np.ndarray:
    n = audio.size // hop
    return np.sqrt(np.mean(np.square(audio[: n * hop].reshape(n, hop), dtype=np.float64), axis=1))


def same_music(stored: np.ndarray, rerender: np.ndarray) -> str | None:
    """None when `rerender` is the stored clip's music, else why not."""
    if stored.shape != rerender.shape:
        return f"re-render has {rerender.size} frames, stored {stored.size}"
    level_db = abs(rms_db(stored) - rms_db(rerender))
    if level_db > BACKFILL_MAX_LEVEL_DB:
        return f"re-render level differs by {level_db:.1f} dB"
    corr = float(np.corrcoef(_envelope(stored), _envelope(rerender))[0, 1])
    if not corr >= BACKFILL_MIN_ENVELOPE_CORR:
        return f"re-render envelope correlation {corr:.2f} < {BACKFILL_MIN_ENVELOPE_CORR}"
    return None


def run_stems_job(task: tuple[Job, ManifestItem]) -> dict:
    """Backfill stems of an item built before stems existed: re-render the job from its seed, check the
    re-render is the stored clip's music (`same_music`), write the stems (they sum to the re-render, and match
    the stored mix only to FluidSynth's block timing). → {"stems": (id, {name: rel})} or {"stems_skip": (id,
    reason)}."""
    job, item = task
    assert _CTX is not None and _OUT is not None, "init_worker was not called"
    try:
        res = RENDERERS[job.kind](job, _CTX, np.random.default_rng(job.seed))
        stored, _ = sf.read(str(_OUT / item.audio), dtype="float32")
        problem = same_music(stored, res.audio)
        if problem:
            return {"stems_skip": (item.id, problem)}
        prefix = item.audio.removesuffix(".flac")
        parts, _ = _split_revoiced(res.stems)  # the re-voice has its own pass (run_revoice_job)
        return {"stems": (item.id, _write_stems(parts, res.audio.size, _OUT, prefix))}
    except Exception as exc:  # never crash the build: the item keeps its mix, without stems
        return {"stems_skip": (item.id, f"{type(exc).__name__}: {exc}"[:500])}


def run_revoice_job(task: tuple[Job, ManifestItem]) -> dict[str, Any]:
    """Backfill the re-voiced render of an item built before it existed, as `run_stems_job` does its stems:
    re-render from the seed, check it is the stored clip's music, write only `<prefix>.revoiced.flac`.
    → {"revoiced": (id, {REVOICED_STEM: rel} or {}, its render record)} or {"revoiced_skip": (id, reason)}."""
    job, item = task
    assert _CTX is not None and _OUT is not None, "init_worker was not called"
    try:
        res = RENDERERS[job.kind](job, _CTX, np.random.default_rng(job.seed))
        if REVOICED_STEM not in res.render:
            return {"revoiced_skip": (item.id, f"{job.kind} renders have no re-voice (or it is switched off)")}
        stored, _ = sf.read(str(_OUT / item.audio), dtype="float32")
        problem = same_music(stored, res.audio)
        if problem:
            return {"revoiced_skip": (item.id, problem)}
        _, revoiced = _split_revoiced(res.stems)
        written = _write_stems(revoiced, res.audio.size, _OUT, item.audio.removesuffix(".flac"))
        return {"revoiced": (item.id, written, res.render[REVOICED_STEM])}
    except Exception as exc:  # never crash the build: the item keeps its mix and stems, without a re-voice
        return {"revoiced_skip": (item.id, f"{type(exc).__name__}: {exc}"[:500])}


def run_job(task: tuple[int, Job]) -> dict:
    """→ {"item": ManifestItem} or {"skip": {id, kind, split, file, reason}}."""
    index, job = task
    assert _CTX is not None and _OUT is not None, "init_worker was not called"
    try:
        res = RENDERERS[job.kind](job, _CTX, np.random.default_rng(job.seed))
        return {"item": _write_item(job, index, res, _OUT)}
    except Exception as exc:  # never crash the build: record and move on
        reason = f"{type(exc).__name__}: {exc}".strip()
        if isinstance(exc, (AssertionError, NameError, AttributeError, TypeError)):
            reason += " | " + traceback.format_exc(limit=3).replace("\n", " ")
        return {"skip": {"id": job.id, "kind": job.kind, "split": job.split, "file": source_file_of(job, _CTX),
                         "reason": reason[:1000]}}
