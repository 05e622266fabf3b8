"""A user's folder of loops → latent items for LoRA training (any mix of WAV/FLAC/MP3/OGG/AIFF, any rate,
mono or stereo). Unreadable, silent and too-short files are skipped with the reason, never fatal.

Files are mixed to the codec's channel count, resampled to its rate (soxr), tiled when shorter than a
training window (they are loops), encoded once, and described by `--prompt` or by their file name
("funky_bass-loop_120bpm.wav" → "funky bass loop 120bpm").
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf

from lmd_studio.dsp.features import FeatureConfig, compute_control_features
from lmd_studio.model.codec_api import LatentCodec
from lmd_studio.training.controls import features_to_values
from lmd_studio.training.latents import LatentItem, encode_audio

AUDIO_SUFFIXES = (".wav", ".flac", ".mp3", ".ogg", ".oga", ".aif", ".aiff")


@dataclass(slots=True)
class FolderReport:
    used: list[tuple[str, float]] = field(default_factory=list)  # (file, seconds)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (file, reason)

    @property
    def seconds(self) -> float:
        return sum(s for _, s in self.used)

    def lines(self) -> list[str]:
        out = [f"used {len(self.used)} files ({self.seconds / 60:.1f} min)"]
        out += [f"skipped {name}: {reason}" for name, reason in self.skipped]
        return out


def describe(path: Path) -> str:
    words = re.sub(r"[_\-.]+", " ", path.stem).strip().lower()
    return re.sub(r"\s+", " ", words) or "a loop"


def read_audio(path: Path) -> tuple[np.ndarray, int]:
    """[C, N] float32 and the file's rate; raises ValueError with the reason when unreadable."""
    try:
        data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except Exception as exc:  # libsndfile reports every decoding problem as a generic error
        raise ValueError(f"unreadable ({type(exc).__name__}: {str(exc)[:80]})") from None
    if data.size == 0:
        raise ValueError("empty file")
    if not np.isfinite(data).all():
        raise ValueError("contains NaN/inf samples")
    return np.ascontiguousarray(data.T), int(rate)


def load_folder(folder: str | Path, codec: LatentCodec, *, window_frames: int, prompt: str | None,
                min_seconds: float, silence_db: float) -> tuple[list[LatentItem], FolderReport]:
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: audio folder not found")
    report = FolderReport()
    items: list[LatentItem] = []
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    feat_cfg = FeatureConfig(latent_hop_frames=codec.hop_frames)
    for path in files:
        rel = str(path.relative_to(folder))
        if path.suffix.lower() not in AUDIO_SUFFIXES:
            report.skipped.append((rel, f"not an audio file ({path.suffix or 'no suffix'})"))
            continue
        try:
            audio, rate = read_audio(path)
        except ValueError as exc:
            report.skipped.append((rel, str(exc)))
            continue
        seconds = audio.shape[1] / rate
        if seconds < min_seconds:
            report.skipped.append((rel, f"too short ({seconds:.2f} s < {min_seconds} s)"))
            continue
        mono = audio.mean(axis=0)
        if rate != codec.sample_rate:
            import soxr

            mono = soxr.resample(mono, rate, codec.sample_rate).astype(np.float32)
        feats = compute_control_features(mono, feat_cfg)
        if feats.num_frames == 0 or float(feats.loudness_db.max()) < silence_db:
            report.skipped.append((rel, f"silent (loudest frame below {silence_db:.0f} dB)"))
            continue
        need = (window_frames + 1) * codec.hop_frames
        if mono.shape[0] < need:  # a loop shorter than a window: play it round
            mono = np.tile(mono, int(np.ceil(need / mono.shape[0])))
            feats = compute_control_features(mono, feat_cfg)
        z = encode_audio(codec, mono[None], codec.sample_rate)
        controls = features_to_values(feats)
        n = min(len(z), len(controls))
        items.append(LatentItem(rel, z[:n], controls[:n], prompt or describe(path)))
        report.used.append((rel, seconds))
    return items, report


def split_holdout(items: list[LatentItem], fraction: float) -> tuple[list[LatentItem], list[LatentItem]]:
    """Every k-th file (by name) is held out to measure the adapter; fewer than 3 files: none."""
    if fraction <= 0 or len(items) < 3:
        return items, []
    k = max(2, min(int(round(1 / fraction)), len(items)))
    held = [it for i, it in enumerate(items) if i % k == k - 1]
    return [it for i, it in enumerate(items) if i % k != k - 1], held
