"""Embedding space 1 of the evaluation: a fixed, model-free DSP feature vector per clip.

No pretrained audio embedding (OpenL3, PaSST, CLAP) can be downloaded here, so FD is also computed on
hand-made descriptors that respond to timbre, harmony and rhythm, nothing learned:
- timbre: 20 MFCCs (DCT-II of the log-mel spectrum), mean and std over frames;
- spectral shape: 7-band spectral contrast (peak vs valley per octave band), centroid, roll-off (85%),
  flatness — mean and std;
- harmony: 12-bin chroma, mean and std;
- dynamics and rhythm: frame RMS mean/std, onset-strength mean/std, and the tempo strength (the largest
  normalised autocorrelation of the onset envelope between 60 and 200 BPM) with its BPM.
Everything is computed at 44.1 kHz on mono audio; vectors are z-scored by statistics stored with the
evaluation config (from real training audio), so no single unit dominates the Fréchet distance.
"""

from __future__ import annotations

import numpy as np

from lmd_studio.dsp.mel import mel_filterbank
from lmd_studio.dsp.resample import resample, to_mono

SAMPLE_RATE_HZ = 44100
N_FFT = 2048
HOP = 512
N_MELS = 64
N_MFCC = 20
CONTRAST_EDGES_HZ = (0.0, 200.0, 400.0, 800.0, 1600.0, 3200.0, 6400.0, 22050.0)

FEATURE_NAMES: tuple[str, ...] = (
    tuple(f"mfcc{i}_{s}" for s in ("mean", "std") for i in range(N_MFCC))
    + tuple(f"contrast{i}_{s}" for s in ("mean", "std") for i in range(len(CONTRAST_EDGES_HZ) - 1))
    + ("centroid_mean", "centroid_std", "rolloff_mean", "rolloff_std", "flatness_mean", "flatness_std")
    + tuple(f"chroma{i}_{s}" for s in ("mean", "std") for i in range(12))
    + ("rms_mean", "rms_std", "onset_mean", "onset_std", "tempo_strength", "tempo_bpm")
)
DIM = len(FEATURE_NAMES)


def _dct_matrix(n_out: int, n_in: int) -> np.ndarray:
    k = np.arange(n_out)[:, None]
    n = np.arange(n_in)[None, :]
    m = np.cos(np.pi / n_in * (n + 0.5) * k) * np.sqrt(2.0 / n_in)
    m[0] /= np.sqrt(2.0)
    return m  # [n_out, n_in] orthonormal DCT-II rows


# Spectra and matrices in float32: float64 matmuls of this size fall on OpenBLAS's threaded path, which is
# 10-50x slower than float32 when other processes load the cores (measured: 13-21 ms vs 0.35 ms per window)
_MEL = np.asarray(mel_filterbank(SAMPLE_RATE_HZ, N_FFT, N_MELS), dtype=np.float32)
_DCT = _dct_matrix(N_MFCC, N_MELS).astype(np.float32)
_FREQS = np.fft.rfftfreq(N_FFT, 1.0 / SAMPLE_RATE_HZ)
_WINDOW = np.hanning(N_FFT + 1)[:-1].astype(np.float32)


def _chroma_matrix() -> np.ndarray:
    m = np.zeros((12, _FREQS.size))
    valid = (_FREQS >= 55.0) & (_FREQS <= 5000.0)
    pitch_class = np.round(12 * np.log2(np.maximum(_FREQS, 1e-6) / 440.0) + 69).astype(int) % 12
    m[pitch_class[valid], np.nonzero(valid)[0]] = 1.0
    return m


_CHROMA = _chroma_matrix().astype(np.float32)


def _power_spectrogram(x: np.ndarray) -> np.ndarray:
    if x.shape[0] < N_FFT:
        x = np.pad(x, (0, N_FFT - x.shape[0]))
    frames = np.lib.stride_tricks.sliding_window_view(x, N_FFT)[::HOP] * _WINDOW  # [F, N_FFT], one copy
    spec = np.fft.rfft(frames, axis=1)
    return spec.real ** 2 + spec.imag ** 2  # [F, bins]


def _tempo(onset: np.ndarray) -> tuple[float, float]:
    """(strength in [0, 1], BPM) of the strongest periodicity between 60 and 200 BPM."""
    env = onset - onset.mean()
    if env.size < 8 or not np.any(env):
        return 0.0, 0.0
    ac = np.correlate(env, env, mode="full")[env.size - 1:]
    ac = ac / (ac[0] + 1e-12)
    frame_rate = SAMPLE_RATE_HZ / HOP
    lo, hi = int(frame_rate * 60 / 200), min(ac.size - 1, int(frame_rate * 60 / 60))
    if hi <= lo:
        return 0.0, 0.0
    lag = lo + int(np.argmax(ac[lo:hi + 1]))
    return float(max(0.0, ac[lag])), float(60.0 * frame_rate / lag)


def dsp_features(audio: np.ndarray, sample_rate_hz: int) -> np.ndarray:
    """[DIM] float64 descriptor of one clip. `audio`: [N] or [C, N] float."""
    x = np.asarray(audio, dtype=np.float32)
    if x.ndim == 2:
        x = to_mono(x.T)  # [C, N] (corpus layout) → [N]
    if sample_rate_hz != SAMPLE_RATE_HZ:
        x = resample(x, sample_rate_hz, SAMPLE_RATE_HZ)
    x = x.astype(np.float32)
    power = _power_spectrogram(x)  # [F, bins]
    mel = power @ _MEL.T  # [F, mels]
    log_mel = np.log(mel + 1e-10)
    mfcc = log_mel @ _DCT.T  # [F, 20]
    contrast = []
    for lo, hi in zip(CONTRAST_EDGES_HZ[:-1], CONTRAST_EDGES_HZ[1:]):
        band = power[:, (_FREQS >= lo) & (_FREQS < hi)]
        srt = np.sort(band, axis=1)
        q = max(1, int(0.2 * srt.shape[1]))
        contrast.append(np.log(srt[:, -q:].mean(1) + 1e-10) - np.log(srt[:, :q].mean(1) + 1e-10))
    contrast = np.stack(contrast, axis=1)  # [F, 7]
    total = power.sum(1) + 1e-12
    centroid = (power * _FREQS).sum(1) / total / 1000.0  # kHz
    cumulative = np.cumsum(power, axis=1)
    rolloff = _FREQS[np.argmax(cumulative >= 0.85 * cumulative[:, -1:], axis=1)] / 1000.0
    flatness = np.exp(np.log(power + 1e-12).mean(1)) / (power.mean(1) + 1e-12)
    chroma = power @ _CHROMA.T
    chroma = chroma / (chroma.sum(1, keepdims=True) + 1e-12)  # [F, 12]
    rms = np.sqrt(power.sum(1) / N_FFT)
    onset = np.maximum(0.0, np.diff(log_mel, axis=0)).mean(1) if log_mel.shape[0] > 1 else np.zeros(1)
    tempo_strength, tempo_bpm = _tempo(onset)

    def ms(a: np.ndarray) -> list[np.ndarray]:
        return [a.mean(0), a.std(0)]

    parts = (ms(mfcc) + ms(contrast)
             + [np.array([centroid.mean(), centroid.std(), rolloff.mean(), rolloff.std(),
                          flatness.mean(), flatness.std()])]
             + ms(chroma)
             + [np.array([rms.mean(), rms.std(), onset.mean(), onset.std(), tempo_strength, tempo_bpm / 100.0])])
    vec = np.concatenate([np.atleast_1d(p).astype(np.float64) for p in parts])
    assert vec.shape == (DIM,), vec.shape
    return vec


def standardizer(reference: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(mean, std) per dimension from reference vectors [n, DIM]; std floored to avoid division by 0."""
    mean = reference.mean(0)
    std = reference.std(0)
    return mean, np.maximum(std, 1e-6 * (np.abs(mean) + 1.0))
