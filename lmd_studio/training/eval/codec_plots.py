"""Codec evaluation pictures and listening files: stacked spectrograms (PNG) and audio excerpts (FLAC)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def spectrogram_png(path: Path, title: str, signals: dict[str, np.ndarray], sr: int, top_hz: float = 11000.0) -> Path:
    """One panel per signal (dB, FFT 2048 / hop 512) up to `top_hz`, all on the first signal's colour scale
    (its peak and 80 dB below), so a level or noise-floor difference shows as one."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from lmd_studio.dsp.stft import StftConfig, stft

    cfg = StftConfig(2048, 512, sr)
    fig, axes = plt.subplots(len(signals), 1, figsize=(10, 2.4 * len(signals)), sharex=True, squeeze=False)
    top = int(top_hz / cfg.bin_hz)
    peak = None
    for ax, (name, x) in zip(axes[:, 0], signals.items()):
        s = 20 * np.log10(np.abs(stft(np.asarray(x, dtype=np.float64), cfg)) + 1e-6).T  # [K, T]
        peak = s.max() if peak is None else peak
        ax.imshow(s[:top], origin="lower", aspect="auto", vmin=peak - 80, vmax=peak,
                  extent=(0, s.shape[1] * cfg.hop_frames / sr, 0, top * cfg.bin_hz / 1000))
        ax.set_ylabel(f"{name}\nkHz")
    axes[-1, 0].set_xlabel("s")
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=70)
    plt.close(fig)
    return path


def write_flac(path: Path, audio: np.ndarray, sr: int) -> Path:
    """Mono float audio → 24-bit FLAC (clipped to [-1, 1])."""
    import soundfile as sf

    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), np.clip(np.asarray(audio, dtype=np.float32), -1.0, 1.0), sr, format="FLAC", subtype="PCM_24")
    return path
