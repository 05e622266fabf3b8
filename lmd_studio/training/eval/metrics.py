"""The numbers of `lmd eval`, computed from embeddings and audio (no generation here).

- FD with its floor and ceiling (eval/data.py explains the halves);
- prompt adherence: cosine of a generated window with its own prompt vs with another clip's prompt;
- drift: per-window measures along long streams, their least-squares slope per minute, FD per segment;
- control adherence: Pearson correlation between requested knob values and measured curves, per block;
- seams: dsp.metrics.seam_ratio at the generator's block boundaries.
"""

from __future__ import annotations

import math

import numpy as np

from lmd_studio.dsp.features import FeatureConfig, compute_control_features
from lmd_studio.dsp.metrics import seam_ratio
from lmd_studio.dsp.resample import resample
from lmd_studio.training.frechet import frechet_distance


def cross_fd(real: np.ndarray, half: np.ndarray, other: np.ndarray) -> float:
    """Mean of FD(other[A], real[B]) and FD(other[B], real[A]); rows of `other` mirror rows of `real`.

    `half` [n] is 0/1 per window. With other = real this is the real-vs-real floor FD(A, B)."""
    a, b = half == 0, half == 1
    if a.sum() < 2 or b.sum() < 2:
        raise ValueError(f"each half needs at least 2 windows to estimate a covariance, got {a.sum()} and {b.sum()}")
    return 0.5 * (frechet_distance(other[a], real[b]) + frechet_distance(other[b], real[a]))


def fd_triple(real: np.ndarray, generated: np.ndarray, noise: np.ndarray, half: np.ndarray) -> dict[str, float]:
    """FD of the model, the real-vs-real floor, the noise ceiling, and where the model sits (0 floor … 1 ceiling)."""
    fd, floor, ceiling = cross_fd(real, half, generated), cross_fd(real, half, real), cross_fd(real, half, noise)
    rel = (fd - floor) / (ceiling - floor) if ceiling > floor else math.nan
    return {"fd": fd, "floor": floor, "ceiling": ceiling, "rel": rel}


def prompt_scores(audio_emb: np.ndarray, own_text: np.ndarray, wrong_text: np.ndarray) -> dict[str, float]:
    """Rows pair a window with its own prompt's and a wrong prompt's text vectors (all unit vectors)."""
    right = np.sum(audio_emb * own_text, axis=1)
    wrong = np.sum(audio_emb * wrong_text, axis=1)
    return {"score": float(right.mean()), "wrong": float(wrong.mean()), "win_rate": float((right > wrong).mean())}


def wrong_prompts(prompts: list[str]) -> list[str]:
    """For each prompt, the next different prompt in the list (cyclic): a fixed, reproducible mismatch."""
    n = len(prompts)
    out = []
    for i, p in enumerate(prompts):
        other = next((prompts[(i + k) % n] for k in range(1, n) if prompts[(i + k) % n] != p), None)
        if other is None:
            raise ValueError("prompt adherence needs at least two different prompts")
        out.append(other)
    return out


def slope_per_minute(t_s: np.ndarray, values: np.ndarray) -> float:
    """Least-squares slope of `values` against time, in units per minute (NaNs ignored)."""
    t, v = np.asarray(t_s, dtype=np.float64) / 60.0, np.asarray(values, dtype=np.float64)
    ok = np.isfinite(v)
    if ok.sum() < 2 or np.ptp(t[ok]) == 0:
        return math.nan
    return float(np.polyfit(t[ok], v[ok], 1)[0])


def segment_fd_drift(segments: list[dict]) -> dict[str, float]:
    """Drift as the paper plots it: FD (DSP space) of all streams' windows pooled per time segment, against
    the real test windows. Returns its least-squares slope per minute over segment centres, first and last.

    `segments` are `{"start_s", "windows", "fd_dsp"}` rows in time order, as `lmd eval` stores them."""
    centres, fds = segment_fd_curve(segments)
    if not fds:
        return {"drift_fd_slope": math.nan, "drift_fd_start": math.nan, "drift_fd_end": math.nan}
    return {"drift_fd_slope": slope_per_minute(np.array(centres), np.array(fds)), "drift_fd_start": fds[0],
            "drift_fd_end": fds[-1]}


def segment_fd_curve(segments: list[dict]) -> tuple[list[float], list[float]]:
    """(segment centre in s, FD) for the segments that have a finite FD; the segment width is the spacing of
    the stored starts, so a skipped segment does not shift the others."""
    width = segments[1]["start_s"] - segments[0]["start_s"] if len(segments) > 1 else 0.0
    rows = [s for s in segments if s.get("fd_dsp") is not None and math.isfinite(s["fd_dsp"])]
    return [r["start_s"] + width / 2 for r in rows], [float(r["fd_dsp"]) for r in rows]


def dsp_distance(z: np.ndarray) -> np.ndarray:
    """Mean squared z-score per window [n]: ≈ 1 for typical training audio, grows as audio turns atypical."""
    return np.mean(np.asarray(z) ** 2, axis=1)


def window_rms_db(windows: np.ndarray) -> np.ndarray:
    return 10 * np.log10(np.mean(np.asarray(windows, dtype=np.float64) ** 2, axis=1) + 1e-10)


def clip_level_db(audio: np.ndarray, silence_db: float = -60.0, window: int = 4410) -> float:
    """A clip's level in dBFS: the RMS over its non-silent 0.1-s windows (pauses do not pull it down);
    `silence_db` when the whole clip is silent."""
    x = np.asarray(audio, dtype=np.float64).reshape(-1)
    n = len(x) // window
    if n == 0:
        return float(window_rms_db(x[None])[0]) if len(x) else silence_db
    rms = window_rms_db(x[: n * window].reshape(n, window))
    loud = rms[rms >= silence_db]
    if loud.size == 0:
        return silence_db
    return float(10 * np.log10(np.mean(10 ** (loud / 10))))


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    ok = np.isfinite(a) & np.isfinite(b)
    a, b = a[ok], b[ok]
    if a.size < 3 or a.std() == 0 or b.std() == 0:
        return 0.0  # a curve that does not move carries no adherence
    return float(np.corrcoef(a, b)[0, 1])


def lagged_pearson(requested: np.ndarray, measured: np.ndarray, max_lag: int = 3) -> tuple[int, float]:
    """(lag, r) maximising the correlation of measured[b + lag] with requested[b], lag in ±max_lag blocks.

    Positive lag: the audio follows the knob late (the context holds the old value for a while)."""
    best = (0, pearson(requested, measured))
    n = min(len(requested), len(measured))
    for lag in range(-max_lag, max_lag + 1):
        if lag == 0 or n - abs(lag) < 4:
            continue
        r = pearson(requested[:n - lag], measured[lag:n]) if lag > 0 else pearson(requested[-lag:n], measured[:n + lag])
        if r > best[1]:
            best = (lag, r)
    return best


def onset_density(audio: np.ndarray, sample_rate_hz: int) -> float:
    """Mean onsets per second of a clip, by the corpus's own onset detector (dsp/features.py)."""
    cfg = FeatureConfig()
    x = audio if sample_rate_hz == cfg.stft.sample_rate_hz else resample(audio, sample_rate_hz, cfg.stft.sample_rate_hz)
    if x.shape[0] < cfg.latent_hop_frames:
        return 0.0
    return float(compute_control_features(x, cfg).onset_density_hz.mean())


MEASURED_UNITS = {"loudness": "dB (K-weighted)", "brightness": "log2 centroid Hz", "density": "onsets/s"}


def measured_control_curve(audio: np.ndarray, sample_rate_hz: int, block_frames: int, control: str) -> np.ndarray:
    """Per-block measurement of one control on generated audio [N] (dsp/features.py, the corpus's own)."""
    cfg = FeatureConfig()
    sr = cfg.stft.sample_rate_hz
    x = audio if sample_rate_hz == sr else resample(audio, sample_rate_hz, sr)
    block = block_frames * sr / sample_rate_hz
    feats = compute_control_features(x, cfg)
    per_frame = {"loudness": feats.loudness_db,
                 "brightness": np.where(feats.centroid_hz > 0, np.log2(np.maximum(feats.centroid_hz, 1e-6)), np.nan),
                 "density": feats.onset_density_hz}[control]
    frames_per_block = block / cfg.latent_hop_frames
    n_blocks = int(round(x.shape[0] / block))
    out = np.full(n_blocks, np.nan)
    for b in range(n_blocks):
        lo, hi = int(round(b * frames_per_block)), int(round((b + 1) * frames_per_block))
        seg = per_frame[lo:hi]
        if seg.size and np.isfinite(seg).any():
            out[b] = np.nanmean(seg)
    return out


def mean_seam_ratio(streams: list[np.ndarray], block_frames: int, sample_rate_hz: int,
                    silence_db: float = -60.0) -> tuple[float, int, list[float | None]]:
    """(mean seam ratio, streams used, per-stream values) over streams long enough to hold block boundaries
    and interiors and louder than `silence_db` RMS: the flux of near-silence is numerical noise, not seams."""
    values: list[float | None] = []
    for audio in streams:
        value = None
        loud = 10 * np.log10(np.mean(np.asarray(audio, dtype=np.float64) ** 2) + 1e-20) > silence_db
        if audio.shape[0] >= 3 * block_frames and loud:
            try:
                value = seam_ratio(audio, block_frames, sample_rate_hz)
            except ValueError:
                value = None
        values.append(value)
    used = [v for v in values if v is not None]
    return (float(np.mean(used)) if used else math.nan), len(used), values
