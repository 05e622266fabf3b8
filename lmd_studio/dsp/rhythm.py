"""Rhythm measured the way a drummer hears it: onsets, tempo, and how far onsets sit from the grid.

These are the evaluation's musical meters (issue "Model v2"): unlike an FD over timbre summaries they fail
when a model keeps no steady pulse. Everything is plain numpy on mono audio.

- `onset_envelope`: half-wave-rectified log-mel spectral flux at ≈ 5.8 ms frames (hop 256 at 44.1 kHz), in
  total and in three bands (below 200 Hz, 200 Hz–2 kHz, above 2 kHz);
- `onset_times_s`: peaks of that envelope above a local adaptive threshold;
- `estimate_tempo_bpm`: per-band autocorrelations of the envelope, summed, scored as a comb (a pulse at
  period P also correlates at 2P, 3P, 4P) with a broad log-normal prior around 120 bpm, then refined to
  0.05 bpm on fractional lags. Why bands: hi-hats in 8ths make the full-band flux pulse at twice the beat;
  the kick and bass (low band) pulse at the beat, and a comb at the 8th-note period finds nothing there at
  its odd multiples, so the beat wins without a stronger prior. Half/double-tempo confusions are the classic failure: the evaluation reports the same
  detector's accuracy on real clips beside the model's, so the detector's own limits are visible;
- `grid_offsets_ms`: distance of each onset to the nearest subdivision (16th notes by default) of a given
  tempo and phase.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lmd_studio.dsp.mel import mel_filterbank


@dataclass(frozen=True, slots=True)
class OnsetConfig:
    n_fft: int = 1024
    hop_frames: int = 256
    n_mels: int = 64
    min_bpm: float = 55.0
    max_bpm: float = 215.0
    prior_bpm: float = 120.0
    prior_octaves: float = 1.0  # σ of the log2-tempo prior: weak, it only breaks near-ties between octaves

    def __post_init__(self) -> None:
        if self.n_fft < 64 or self.hop_frames < 1 or self.hop_frames > self.n_fft:
            raise ValueError(f"bad onset STFT: n_fft {self.n_fft}, hop {self.hop_frames}")
        if not 20.0 <= self.min_bpm < self.max_bpm <= 400.0:
            raise ValueError(f"bad tempo range {self.min_bpm}–{self.max_bpm} bpm")
        if self.prior_octaves <= 0:
            raise ValueError("prior_octaves must be positive")


BAND_EDGES_HZ = (200.0, 2000.0)


@dataclass(frozen=True, slots=True)
class OnsetEnvelope:
    values: np.ndarray  # [F] flux per frame over all bands, ≥ 0
    bands: np.ndarray  # [F, 3] flux below 200 Hz, 200 Hz–2 kHz, above 2 kHz
    frame_rate_hz: float

    def time_of(self, frame: np.ndarray | float) -> np.ndarray | float:
        # flux at frame f compares frames f-1 and f; frame f's window is centred at f·hop (centred STFT)
        return np.asarray(frame) / self.frame_rate_hz


def onset_envelope(audio: np.ndarray, sample_rate_hz: int, cfg: OnsetConfig | None = None) -> OnsetEnvelope:
    cfg = cfg or OnsetConfig()
    x = np.asarray(audio, dtype=np.float64)
    if x.ndim == 2:  # [N, C] → mono
        x = x.mean(axis=1)
    pad = cfg.n_fft // 2
    x = np.pad(x, (pad, pad))
    n = 1 + max(0, (x.shape[0] - cfg.n_fft) // cfg.hop_frames)
    idx = np.arange(cfg.n_fft)[None, :] + cfg.hop_frames * np.arange(n)[:, None]  # [F, n_fft]
    window = np.hanning(cfg.n_fft + 1)[:-1]
    power = np.abs(np.fft.rfft(x[idx] * window, axis=1)) ** 2  # [F, bins]
    fb = mel_filterbank(sample_rate_hz, cfg.n_fft, cfg.n_mels)  # [mels, bins]
    mel = power @ fb.T  # [F, mels]
    log_mel = np.log1p(100.0 * mel)
    rise = np.maximum(np.diff(log_mel, axis=0, prepend=log_mel[:1]), 0.0)  # [F, mels]
    bins_hz = np.arange(fb.shape[1]) * sample_rate_hz / cfg.n_fft
    centre_hz = (fb @ bins_hz) / np.maximum(fb.sum(axis=1), 1e-12)  # [mels]
    band_of = np.searchsorted(np.asarray(BAND_EDGES_HZ), centre_hz)  # [mels] → 0, 1, 2
    bands = np.stack([rise[:, band_of == b].sum(axis=1) for b in range(3)], axis=1)  # [F, 3]
    return OnsetEnvelope(rise.sum(axis=1), bands, sample_rate_hz / cfg.hop_frames)


def onset_times_s(env: OnsetEnvelope, window_s: float = 0.1, delta: float = 0.25) -> np.ndarray:
    """Local maxima of the envelope that exceed the local mean by `delta` × the envelope's spread."""
    v = env.values
    if v.size < 3 or not np.any(v > 0):
        return np.zeros(0)
    w = max(1, int(round(window_s * env.frame_rate_hz)))
    kernel = np.ones(2 * w + 1) / (2 * w + 1)
    local_mean = np.convolve(v, kernel, mode="same")
    spread = float(np.std(v)) or 1.0
    peak = (v[1:-1] >= v[:-2]) & (v[1:-1] > v[2:]) & (v[1:-1] > local_mean[1:-1] + delta * spread)
    frames = np.flatnonzero(peak) + 1
    # keep the strongest peak within any 50 ms (one physical hit can give two flux peaks)
    keep: list[int] = []
    min_gap = max(1, int(0.05 * env.frame_rate_hz))
    for f in frames:
        if keep and f - keep[-1] < min_gap:
            if v[f] > v[keep[-1]]:
                keep[-1] = int(f)
            continue
        keep.append(int(f))
    return np.asarray(env.time_of(np.asarray(keep, dtype=np.float64)), dtype=np.float64)


def _autocorrelation(v: np.ndarray) -> np.ndarray:
    x = v - v.mean()
    n = 1 << int(np.ceil(np.log2(2 * x.size)))
    spec = np.fft.rfft(x, n)
    acf = np.fft.irfft(spec * np.conj(spec), n)[: x.size]
    return acf / (acf[0] + 1e-12)


def _interp(acf: np.ndarray, lag: np.ndarray) -> np.ndarray:
    return np.interp(lag, np.arange(acf.size), acf, right=0.0)


def _comb_score(acf: np.ndarray, lag: np.ndarray, harmonics: int = 4) -> np.ndarray:
    return sum((_interp(acf, k * lag) / k for k in range(1, harmonics + 1)), np.zeros(lag.shape))


def estimate_tempo_bpm(env: OnsetEnvelope, cfg: OnsetConfig | None = None) -> tuple[float, float]:
    """(tempo in bpm, confidence in [0, 1]); (nan, 0) when there is no pulse to measure."""
    cfg = cfg or OnsetConfig()
    v = env.values
    if v.size < 4 * env.frame_rate_hz * 60.0 / cfg.max_bpm or not np.any(v > 0):
        return float("nan"), 0.0
    # per band, normalised, summed: each band votes with equal weight; a band with (almost) no flux abstains
    total = float(env.bands.sum())
    acf = sum((_autocorrelation(b) for b in env.bands.T if b.sum() > 0.02 * total), np.zeros(v.size))
    voters = int(sum(1 for b in env.bands.T if b.sum() > 0.02 * total))
    acf = acf / max(voters, 1)
    bpms = np.arange(cfg.min_bpm, cfg.max_bpm, 0.5)
    lags = 60.0 * env.frame_rate_hz / bpms
    score = _comb_score(acf, lags)
    prior = np.exp(-0.5 * (np.log2(bpms / cfg.prior_bpm) / cfg.prior_octaves) ** 2)
    weighted = np.maximum(score, 0.0) * prior
    best = int(np.argmax(weighted))
    if weighted[best] <= 0:
        return float("nan"), 0.0
    fine = np.arange(bpms[best] - 0.75, bpms[best] + 0.75, 0.05)
    fine_score = _comb_score(acf, 60.0 * env.frame_rate_hz / fine, harmonics=8)
    bpm = float(fine[int(np.argmax(fine_score))])
    confidence = float(np.clip(score[best] / sum(1.0 / k for k in range(1, 5)), 0.0, 1.0))
    return bpm, confidence


def tempo_error_ratio(detected_bpm: float, requested_bpm: float) -> float:
    """|detected / requested − 1|; half or double tempo counts as the error it is (0.5 or 1.0)."""
    if not np.isfinite(detected_bpm) or requested_bpm <= 0:
        return float("inf")
    return abs(detected_bpm / requested_bpm - 1.0)


def grid_offsets_ms(onsets_s: np.ndarray, bpm: float, phase_s: float = 0.0, subdivision: int = 4) -> np.ndarray:
    """Distance (ms) of each onset to the nearest grid line: beats at `phase_s + k·60/bpm`, each divided
    into `subdivision` (4 → 16th notes in a quarter-note beat)."""
    if bpm <= 0 or subdivision < 1:
        raise ValueError(f"need bpm > 0 and subdivision >= 1, got {bpm}, {subdivision}")
    step_s = 60.0 / bpm / subdivision
    rel = (np.asarray(onsets_s, dtype=np.float64) - phase_s) / step_s
    return np.abs(rel - np.round(rel)) * step_s * 1000.0


def best_grid_phase_s(onsets_s: np.ndarray, bpm: float, subdivision: int = 4, candidates: int = 64) -> float:
    """The grid phase that minimises the median onset offset: for audio whose clock we do not know
    (real clips with an unknown start, or a model that was given no clock) — an optimistic alignment."""
    step_s = 60.0 / bpm / subdivision
    phases = np.arange(candidates) * step_s / candidates
    medians = [np.median(grid_offsets_ms(onsets_s, bpm, p, subdivision)) if len(onsets_s) else np.inf
               for p in phases]
    return float(phases[int(np.argmin(medians))])


def tempo_after_change_s(audio: np.ndarray, sample_rate_hz: int, change_s: float, new_bpm: float,
                         tolerance: float = 0.02, window_s: float = 4.0, hop_s: float = 0.25,
                         cfg: OnsetConfig | None = None) -> float:
    """Seconds after `change_s` until the music plays `new_bpm` (±tolerance); inf if it never locks.

    Windows of `window_s` slide forward; a window reads as the new tempo once most of it is at the new tempo,
    so the first right window (that stays right for a further second of windows) says the switch happened
    at its centre. A player who changes exactly at `change_s` scores ≈ 0."""
    x = np.asarray(audio, dtype=np.float64)
    if x.ndim == 2:
        x = x.mean(axis=1)
    win, hop = int(window_s * sample_rate_hz), int(hop_s * sample_rate_hz)
    change = int(change_s * sample_rate_hz)
    starts = list(range(max(0, change - win // 2), x.shape[0] - win + 1, hop))
    ok = []
    for s0 in starts:
        bpm, _ = estimate_tempo_bpm(onset_envelope(x[s0:s0 + win], sample_rate_hz, cfg), cfg)
        ok.append(tempo_error_ratio(bpm, new_bpm) <= tolerance)
    hold = max(1, int(round(1.0 / hop_s)))
    for i in range(len(ok) - hold + 1):
        if all(ok[i:i + hold]):
            return max(0.0, (starts[i] + win / 2 - change) / sample_rate_hz)
    return float("inf")
