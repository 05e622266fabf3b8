"""Objective audio distances used by codec evaluation (and later by model evaluation).

All take mono float arrays at the same sample rate; the longer signal is trimmed to the shorter.
- lsd_db: log-spectral distance, RMS over bins of the dB power difference, averaged over frames;
- mrstft: multi-resolution STFT distance (spectral convergence + log-magnitude L1, mean over 3 resolutions);
- mel_l1: mean absolute difference of natural-log mel energies (80 bands);
- seam_ratio: spectral flux across block boundaries divided by spectral flux inside blocks (1.0 = seamless).
"""

from __future__ import annotations

import numpy as np

from lmd_studio.dsp.mel import mel_filterbank
from lmd_studio.dsp.stft import StftConfig, stft

_RESOLUTIONS = ((512, 128), (1024, 256), (2048, 512))


def _pair(ref: np.ndarray, est: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    ref = np.asarray(ref, dtype=np.float64).reshape(-1)
    est = np.asarray(est, dtype=np.float64).reshape(-1)
    n = min(ref.shape[0], est.shape[0])
    if n < 2048:
        raise ValueError(f"need at least 2048 samples to compare, got {n}")
    return ref[:n], est[:n]


def lsd_db(ref: np.ndarray, est: np.ndarray, sample_rate_hz: int = 44100, floor: float = 1e-8) -> float:
    ref, est = _pair(ref, est)
    cfg = StftConfig(2048, 512, sample_rate_hz)
    p = np.abs(stft(ref, cfg)) ** 2 + floor
    q = np.abs(stft(est, cfg)) ** 2 + floor
    return float(np.mean(np.sqrt(np.mean((10 * np.log10(p) - 10 * np.log10(q)) ** 2, axis=-1))))


def lsd_from_magnitudes_db(ref_mag: np.ndarray, est_mag: np.ndarray, floor: float = 1e-8) -> float:
    """LSD between two magnitude spectrograms [T, K] (no waveform involved: the codec's own loss)."""
    p = np.asarray(ref_mag, dtype=np.float64) ** 2 + floor
    q = np.asarray(est_mag, dtype=np.float64) ** 2 + floor
    return float(np.mean(np.sqrt(np.mean((10 * np.log10(p) - 10 * np.log10(q)) ** 2, axis=-1))))


def mrstft(ref: np.ndarray, est: np.ndarray, sample_rate_hz: int = 44100) -> float:
    ref, est = _pair(ref, est)
    total = 0.0
    for n_fft, hop in _RESOLUTIONS:
        cfg = StftConfig(n_fft, hop, sample_rate_hz)
        a, b = np.abs(stft(ref, cfg)), np.abs(stft(est, cfg))
        sc = np.linalg.norm(a - b) / max(np.linalg.norm(a), 1e-9)
        log_l1 = np.mean(np.abs(np.log(a + 1e-7) - np.log(b + 1e-7)))
        total += sc + log_l1
    return float(total / len(_RESOLUTIONS))


def mel_l1(ref: np.ndarray, est: np.ndarray, sample_rate_hz: int = 44100, n_mels: int = 80) -> float:
    ref, est = _pair(ref, est)
    cfg = StftConfig(2048, 512, sample_rate_hz)
    fb = mel_filterbank(sample_rate_hz, cfg.n_fft, n_mels)
    a = np.abs(stft(ref, cfg)) ** 2 @ fb.T
    b = np.abs(stft(est, cfg)) ** 2 @ fb.T
    return float(np.mean(np.abs(np.log(a + 1e-5) - np.log(b + 1e-5))))


def spectral_flux(x: np.ndarray, cfg: StftConfig, n_mels: int = 64) -> np.ndarray:
    """Mean absolute change of log-mel energies (dB) between consecutive frames: [T - 1].

    Mel bands average away the frame-to-frame jitter of single noisy bins, so the measure reacts to real
    changes (a click, a jump in level or timbre) rather than to noise."""
    fb = mel_filterbank(cfg.sample_rate_hz, cfg.n_fft, n_mels)
    mel = np.abs(stft(np.asarray(x, dtype=np.float64), cfg)) ** 2 @ fb.T
    p = 10 * np.log10(mel + mel.max() * 1e-8 + 1e-20)
    return np.mean(np.abs(np.diff(p, axis=0)), axis=-1)


def seam_ratio(audio: np.ndarray, block_frames: int, sample_rate_hz: int = 44100) -> float:
    """Flux at frame pairs touching a block boundary ÷ flux at all other pairs (STFT 1024 / hop 256).

    ≈ 1.0 when block boundaries are inaudible; a click or a jump in timbre at every boundary pushes it up.
    """
    x = np.asarray(audio, dtype=np.float64).reshape(-1)
    cfg = StftConfig(1024, 256, sample_rate_hz)
    if block_frames < 2 * cfg.hop_frames:
        raise ValueError(f"block_frames ({block_frames}) is too short to measure seams at hop {cfg.hop_frames}")
    flux = spectral_flux(x, cfg)
    if flux.size < 4:
        raise ValueError("audio too short to measure seams")
    # a pair touches a boundary when either frame's window contains a boundary sample
    starts = np.arange(flux.size + 1) * cfg.hop_frames
    ends = starts + cfg.n_fft - 1
    contains = (starts // block_frames) != (ends // block_frames)  # [M] window spans a boundary
    straddle = contains[:-1] | contains[1:]
    if not straddle.any() or straddle.all():
        raise ValueError("audio must span at least one block boundary and some block interior")
    return float(flux[straddle].mean() / max(flux[~straddle].mean(), 1e-12))


def loop_seam_ratio(loop: np.ndarray, beat_frames: float, sample_rate_hz: int = 44100) -> float:
    """How the seam of a loop (its last sample → its first) compares with its own beat lines: flux at frame
    pairs touching the seam ÷ flux at pairs touching the beat lines inside it (STFT 1024 / hop 256, on the
    loop played twice). A beat line is where music changes most (onsets), so the seam is judged against
    those, not against the quiet inside of a beat: ≈ 1.0 when the wrap sounds like any other beat, a
    click or a jump pushes it up."""
    x = np.asarray(loop, dtype=np.float64).reshape(-1)
    n = x.shape[0]
    cfg = StftConfig(1024, 256, sample_rate_hz)
    flux = spectral_flux(np.concatenate([x, x]), cfg)
    starts = np.arange(flux.size + 1) * cfg.hop_frames
    ends = starts + cfg.n_fft - 1

    def touching(position: float) -> np.ndarray:
        window = (starts <= position) & (position <= ends)
        return window[:-1] | window[1:]

    seam = touching(n)
    inside = np.zeros_like(seam)
    for k in range(1, int(round(n / beat_frames))):
        for copy in (0, n):
            position = copy + k * beat_frames
            if abs(position - n) > cfg.n_fft:  # not the seam itself
                inside |= touching(position)
    if not seam.any() or not inside.any():
        raise ValueError("the loop needs at least two beats to compare its seam with")
    return float(flux[seam].mean() / max(flux[inside & ~seam].mean(), 1e-12))
