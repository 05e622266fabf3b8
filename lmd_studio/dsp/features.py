"""Frame-aligned control features: loudness, brightness, onset density, pitch salience.

One value (or chroma vector) per *latent frame*, computed from the same STFT frames the codec encodes for
that latent frame (see dsp/stft.py), so a control curve lines up with the latents it steers. Computed once
by the corpus builder and stored; the diffusion model is conditioned on them and the evaluation measures
them on generated audio.

- loudness_db: mean-square level of a K-weighting-like spectrum (LUFS-like scale, floor -100 dB);
- centroid_hz: power-weighted spectral centroid ("brightness"; 0 in silence);
- onset_density_hz: onsets per second within a 1 s window around the frame (spectral-flux peaks);
- chroma_audio: 12 pitch-class energies from the spectrum (55 Hz–5 kHz), max-normalised per frame;
- pitch_salience: chroma from the rendered notes when they are known, otherwise chroma_audio.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from lmd_studio.dsp.mel import mel_filterbank
from lmd_studio.dsp.stft import StftConfig, hann_window, pad_for_latents, stft

LOUDNESS_FLOOR_DB = -100.0


@dataclass(frozen=True, slots=True)
class FeatureConfig:
    latent_hop_frames: int = 2048
    stft: StftConfig = StftConfig()
    onset_window_s: float = 1.0
    chroma_min_hz: float = 55.0
    chroma_max_hz: float = 5000.0
    silence_db: float = -70.0

    def __post_init__(self) -> None:
        if self.latent_hop_frames % self.stft.hop_frames:
            raise ValueError("latent_hop_frames must be a multiple of the STFT hop")
        if self.onset_window_s <= 0:
            raise ValueError(f"onset_window_s must be positive, got {self.onset_window_s}")
        if not 0 < self.chroma_min_hz < self.chroma_max_hz:
            raise ValueError("need 0 < chroma_min_hz < chroma_max_hz")

    @property
    def frame_rate_hz(self) -> float:
        return self.stft.sample_rate_hz / self.latent_hop_frames

    @property
    def frames_per_latent(self) -> int:
        return self.latent_hop_frames // self.stft.hop_frames


@dataclass(frozen=True, slots=True)
class ControlFeatures:
    loudness_db: np.ndarray  # [T]
    centroid_hz: np.ndarray  # [T]
    onset_density_hz: np.ndarray  # [T]
    chroma_audio: np.ndarray  # [T, 12]
    pitch_salience: np.ndarray  # [T, 12]
    pitch_source: str  # "midi" or "audio"
    frame_rate_hz: float

    def __post_init__(self) -> None:
        t = self.loudness_db.shape[0]
        for name in ("centroid_hz", "onset_density_hz"):
            if getattr(self, name).shape != (t,):
                raise ValueError(f"{name} must have shape ({t},), got {getattr(self, name).shape}")
        for name in ("chroma_audio", "pitch_salience"):
            if getattr(self, name).shape != (t, 12):
                raise ValueError(f"{name} must have shape ({t}, 12), got {getattr(self, name).shape}")
        if self.pitch_source not in ("midi", "audio"):
            raise ValueError(f"pitch_source must be 'midi' or 'audio', got {self.pitch_source!r}")

    @property
    def num_frames(self) -> int:
        return int(self.loudness_db.shape[0])

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Plain arrays for an .npz file."""
        return {"loudness_db": self.loudness_db.astype(np.float32),
                "centroid_hz": self.centroid_hz.astype(np.float32),
                "onset_density_hz": self.onset_density_hz.astype(np.float32),
                "chroma_audio": self.chroma_audio.astype(np.float32),
                "pitch_salience": self.pitch_salience.astype(np.float32),
                "pitch_source": np.array(self.pitch_source), "frame_rate_hz": np.array(self.frame_rate_hz)}

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray]) -> ControlFeatures:
        return cls(loudness_db=np.asarray(arrays["loudness_db"]), centroid_hz=np.asarray(arrays["centroid_hz"]),
                   onset_density_hz=np.asarray(arrays["onset_density_hz"]),
                   chroma_audio=np.asarray(arrays["chroma_audio"]),
                   pitch_salience=np.asarray(arrays["pitch_salience"]),
                   pitch_source=str(arrays["pitch_source"]), frame_rate_hz=float(arrays["frame_rate_hz"]))


def k_weighting(freqs_hz: np.ndarray) -> np.ndarray:
    """Power gain of a K-weighting-like curve: 2nd-order high-pass at 60 Hz and a +4 dB shelf above ~1.7 kHz."""
    f = np.maximum(freqs_hz, 1e-3)
    hp = f ** 4 / (f ** 4 + 60.0 ** 4)
    shelf = 1.0 + (10 ** (4.0 / 10.0) - 1.0) * f ** 2 / (f ** 2 + 1700.0 ** 2)
    return hp * shelf


def _chroma_matrix(cfg: FeatureConfig) -> np.ndarray:
    s = cfg.stft
    freqs = np.arange(s.n_bins) * s.bin_hz
    m = np.zeros((12, s.n_bins))
    ok = (freqs >= cfg.chroma_min_hz) & (freqs <= cfg.chroma_max_hz)
    midi = 69.0 + 12.0 * np.log2(np.maximum(freqs[ok], 1e-6) / 440.0)
    nearest = np.round(midi)
    weight = np.cos(np.pi * (midi - nearest)) ** 2  # bins between semitones count less
    m[(nearest.astype(int) % 12), np.flatnonzero(ok)] = weight
    return m


def _normalise_rows(x: np.ndarray) -> np.ndarray:
    peak = x.max(axis=-1, keepdims=True)
    return np.where(peak > 1e-12, x / np.maximum(peak, 1e-12), 0.0)


def onset_times_s(power: np.ndarray, cfg: FeatureConfig) -> np.ndarray:
    """Onsets (seconds) from STFT power frames [M, K]: peaks of log-mel spectral flux."""
    s = cfg.stft
    if power.shape[0] < 3:
        return np.zeros(0)
    mel = mel_filterbank(s.sample_rate_hz, s.n_fft, 64) @ power.T  # [64, M]
    # dB with a floor 60 dB under the loudest band, so noise in empty bands does not count as onsets
    mel_db = 10 * np.log10(np.maximum(mel, mel.max() * 1e-6 + 1e-20))
    flux = np.concatenate(([0.0], np.maximum(0.0, np.diff(mel_db, axis=1)).mean(axis=0)))  # [M] dB per band
    level_db = 10 * np.log10(power.sum(axis=1) * 2 / (s.n_fft * np.sum(hann_window(s.n_fft) ** 2)) + 1e-12)
    m = flux.shape[0]
    pad = np.pad(flux, 10, mode="edge")
    local = np.lib.stride_tricks.sliding_window_view(pad, 21)  # [M, 21] context of each frame
    is_max = flux >= local[:, 7:14].max(axis=1)  # peak within ±3 frames
    above = (flux > local.mean(axis=1) + 0.5 * local.std(axis=1)) & (flux > 2.0)
    loud = level_db > cfg.silence_db
    idx = np.flatnonzero(is_max & above & loud & (np.arange(m) > 0))
    return (idx * s.hop_frames + s.n_fft / 2) / s.sample_rate_hz


def notes_to_chroma(notes: np.ndarray, num_frames: int, frame_rate_hz: float) -> np.ndarray:
    """Note events [n, 4] (onset_s, offset_s, midi_pitch, velocity) → velocity-weighted chroma [T, 12]."""
    chroma = np.zeros((num_frames, 12))
    if notes.size == 0 or num_frames == 0:
        return chroma
    edges = np.arange(num_frames + 1) / frame_rate_hz
    for onset, offset, pitch, velocity in np.asarray(notes, dtype=np.float64):
        lo = max(0, int(np.searchsorted(edges, onset, side="right")) - 1)
        hi = min(num_frames, int(np.searchsorted(edges, offset, side="left")))
        if hi <= lo:
            continue
        overlap = np.minimum(edges[lo + 1:hi + 1], offset) - np.maximum(edges[lo:hi], onset)
        chroma[lo:hi, int(pitch) % 12] += np.maximum(overlap, 0.0) * frame_rate_hz * velocity / 127.0
    return _normalise_rows(chroma)


def compute_control_features(audio: np.ndarray, cfg: FeatureConfig | None = None,
                             notes: np.ndarray | None = None) -> ControlFeatures:
    """audio [N] or [C, N] float at cfg.stft.sample_rate_hz → features at the latent frame rate."""
    cfg = cfg or FeatureConfig()
    x = np.asarray(audio, dtype=np.float64)
    if x.ndim == 2:
        x = x.mean(axis=0)
    if x.ndim != 1:
        raise ValueError(f"audio must be [N] or [C, N], got shape {np.shape(audio)}")
    s, f = cfg.stft, cfg.frames_per_latent
    t = x.shape[0] // cfg.latent_hop_frames
    power = np.abs(stft(pad_for_latents(x, cfg.latent_hop_frames, s), s)) ** 2  # [T * f, K]
    per_latent = power.reshape(t, f, s.n_bins).mean(axis=1)  # [T, K]
    freqs = np.arange(s.n_bins) * s.bin_hz
    # Parseval for a one-sided spectrum of a Hann-windowed frame → mean square of the signal
    norm = 2.0 / (s.n_fft * np.sum(hann_window(s.n_fft) ** 2))
    ms = (per_latent * k_weighting(freqs)).sum(axis=1) * norm
    loudness = np.maximum(LOUDNESS_FLOOR_DB, 10 * np.log10(ms + 1e-12) - 0.691)
    total = per_latent.sum(axis=1)
    centroid = np.where(total > 1e-12, (per_latent * freqs).sum(axis=1) / np.maximum(total, 1e-12), 0.0)
    centroid = np.where(loudness > cfg.silence_db, centroid, 0.0)
    onsets = onset_times_s(power, cfg)
    centres = (np.arange(t) + 0.5) / cfg.frame_rate_hz
    half = cfg.onset_window_s / 2
    counts = np.searchsorted(onsets, centres + half) - np.searchsorted(onsets, centres - half)
    density = counts / cfg.onset_window_s
    chroma = _normalise_rows(per_latent @ _chroma_matrix(cfg).T)
    chroma = np.where((loudness > cfg.silence_db)[:, None], chroma, 0.0)
    if notes is not None:
        salience, source = notes_to_chroma(notes, t, cfg.frame_rate_hz), "midi"
    else:
        salience, source = chroma, "audio"
    return ControlFeatures(loudness_db=loudness, centroid_hz=centroid, onset_density_hz=density.astype(np.float64),
                           chroma_audio=chroma, pitch_salience=salience, pitch_source=source,
                           frame_rate_hz=cfg.frame_rate_hz)
