"""The frozen evaluation spaces, loaded together from `models/eval/`.

- `audio_text.safetensors`: the contrastive audio–text encoder (training/audio_text.py);
- `eval_stats.safetensors`: statistics of training-split windows, fixed so FDs stay comparable across
  models and runs: per-dimension mean/std of the DSP descriptor (eval/dsp.py; every descriptor is
  z-scored with them) and, for each space, the principal directions FD is computed in (`Projection`).
Both are written by `lmd train audiotext`. Text goes through the offline MiniLM sentence vector first.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from lmd_studio.dsp.resample import resample
from lmd_studio.model.checkpoint import load_checkpoint, save_checkpoint
from lmd_studio.model.text_encoder import MiniLMTextEncoder, TextEncoder
from lmd_studio.training.audio_text import AudioTextEncoder, load_audio_text
from lmd_studio.training.eval.dsp import DIM, dsp_features

DEFAULT_EVAL_DIR = Path(__file__).resolve().parents[3] / "models" / "eval"
ENCODER_FILE = "audio_text.safetensors"
STATS_FILE = "eval_stats.safetensors"
STATS_FORMAT = "lmd-eval-stats"
STATS_VERSION = 1


class EvalSpacesError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Projection:
    """The k leading principal directions of training windows, plus the residual norm as one more axis.

    FD needs covariances, and we have tens of windows per half, not thousands: in 90 or 128 dimensions the
    covariance estimates are rank-deficient and FD rewards low-variance sets (a collapsed model, or noise,
    can score under the real-vs-real floor). In k + 1 dimensions with k well under the window count the
    estimate is sound; the residual axis still sees anything off the training subspace.
    """

    mean: np.ndarray  # [D]
    basis: np.ndarray  # [k, D] orthonormal rows
    explained: float  # fraction of training variance in the k directions

    def __call__(self, x: np.ndarray) -> np.ndarray:
        centred = np.asarray(x, dtype=np.float64) - self.mean  # [n, D]
        coords = centred @ self.basis.T  # [n, k]
        residual = np.linalg.norm(centred - coords @ self.basis, axis=1, keepdims=True)  # [n, 1]
        return np.concatenate([coords, residual], axis=1)

    @classmethod
    def fit(cls, x: np.ndarray, k: int) -> Projection:
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 2 or not 1 <= k < min(x.shape):
            raise ValueError(f"need 1 <= k < min(n, d) to fit {k} principal directions to data of shape {x.shape}")
        mean = x.mean(0)
        _, sv, vt = np.linalg.svd(x - mean, full_matrices=False)
        return cls(mean, vt[:k], float((sv[:k] ** 2).sum() / max((sv ** 2).sum(), 1e-30)))


def save_eval_stats(path: str | Path, dsp_mean: np.ndarray, dsp_std: np.ndarray, dsp_proj: Projection,
                    emb_proj: Projection, windows: int) -> Path:
    def t(a: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.asarray(a, np.float64))

    tensors = {"dsp_mean": t(dsp_mean), "dsp_std": t(dsp_std), "dsp_pca_mean": t(dsp_proj.mean),
               "dsp_basis": t(dsp_proj.basis), "emb_pca_mean": t(emb_proj.mean), "emb_basis": t(emb_proj.basis)}
    return save_checkpoint(path, tensors, fmt=STATS_FORMAT, format_version=STATS_VERSION,
                           config={"dim": DIM, "windows": int(windows), "dsp_explained": dsp_proj.explained,
                                   "emb_explained": emb_proj.explained})


def load_eval_stats(path: str | Path) -> tuple[np.ndarray, np.ndarray, Projection, Projection]:
    tensors, config, _ = load_checkpoint(path, fmt=STATS_FORMAT, supported_versions=(STATS_VERSION,))
    needed = ("dsp_mean", "dsp_std", "dsp_pca_mean", "dsp_basis", "emb_pca_mean", "emb_basis")
    if config.get("dim") != DIM or any(k not in tensors for k in needed) or tensors["dsp_mean"].shape != (DIM,):
        raise EvalSpacesError(f"{path}: statistics for a {config.get('dim')}-d DSP descriptor (this code computes "
                              f"{DIM}-d) or tensors missing; retrain with `lmd train audiotext`")
    a = {k: tensors[k].double().numpy() for k in needed}
    if not all(np.isfinite(v).all() for v in a.values()) or not (a["dsp_std"] > 0).all():
        raise EvalSpacesError(f"{path}: statistics contain non-finite or non-positive values")
    return (a["dsp_mean"], a["dsp_std"], Projection(a["dsp_pca_mean"], a["dsp_basis"], config["dsp_explained"]),
            Projection(a["emb_pca_mean"], a["emb_basis"], config["emb_explained"]))


def dsp_matrix(windows: np.ndarray, sample_rate_hz: int) -> np.ndarray:
    """[n, N] windows → [n, DIM] raw DSP descriptors."""
    return np.stack([dsp_features(w, sample_rate_hz) for w in windows])


@dataclass
class EvalSpaces:
    encoder: AudioTextEncoder
    dsp_mean: np.ndarray
    dsp_std: np.ndarray
    dsp_proj: Projection
    emb_proj: Projection
    text_encoder: TextEncoder
    source: str = ""

    @classmethod
    def load(cls, eval_dir: str | Path | None = None, text_encoder: TextEncoder | None = None) -> EvalSpaces:
        folder = Path(eval_dir) if eval_dir is not None else DEFAULT_EVAL_DIR
        for name in (ENCODER_FILE, STATS_FILE):
            if not (folder / name).is_file():
                raise EvalSpacesError(f"{folder / name}: not found; train the evaluation encoder first with "
                                      f"`lmd train audiotext --corpus DIR --export {folder}`")
        encoder = load_audio_text(folder / ENCODER_FILE)
        mean, std, dsp_proj, emb_proj = load_eval_stats(folder / STATS_FILE)
        return cls(encoder, mean, std, dsp_proj, emb_proj, text_encoder or MiniLMTextEncoder(), str(folder))

    @property
    def sample_rate_hz(self) -> int:
        return self.encoder.cfg.sample_rate_hz

    def dsp(self, windows: np.ndarray, sample_rate_hz: int) -> np.ndarray:
        """[n, N] windows → [n, DIM] z-scored DSP descriptors."""
        return (dsp_matrix(windows, sample_rate_hz) - self.dsp_mean) / self.dsp_std

    @torch.no_grad()
    def embed_audio(self, windows: np.ndarray, sample_rate_hz: int, batch: int = 32) -> np.ndarray:
        """[n, N] mono windows → [n, E] unit vectors of the audio–text encoder."""
        x = np.asarray(windows, dtype=np.float32)
        if sample_rate_hz != self.sample_rate_hz:
            x = np.stack([resample(w, sample_rate_hz, self.sample_rate_hz) for w in x])
        self.encoder.eval()
        out = [self.encoder.embed_audio(torch.from_numpy(x[i:i + batch])) for i in range(0, x.shape[0], batch)]
        return torch.cat(out).double().numpy()

    @torch.no_grad()
    def embed_text(self, texts: list[str]) -> np.ndarray:
        """[n] prompts → [n, E] unit vectors (MiniLM sentence vector → the encoder's text head)."""
        pooled = torch.stack([e.pooled for e in self.text_encoder.encode(texts)])  # [n, 384]
        return self.encoder.embed_text(pooled).double().numpy()

