"""Codec evaluation on a held-out corpus split: distances, seams, speed, and the oracle path beside them.

For each item (first `seconds` of audio, trimmed to whole decode blocks):
- codec path: encode → decode block by block (the engine's way) → compare with the original;
- oracle path: true STFT magnitudes → the same streaming phase reconstruction → compare;
- magnitude LSD: decoded magnitudes vs true magnitudes (the autoencoder's own loss, no phase at all).
So the loss of the learned part and the loss of phase reconstruction are visible separately.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from lmd_studio.data.corpus import Corpus
from lmd_studio.dsp.metrics import lsd_db, lsd_from_magnitudes_db, mel_l1, mrstft, seam_ratio
from lmd_studio.model.codec import SpectralCodec
from lmd_studio.model.codec_net import frames_to_magnitudes, log_magnitude_frames


@dataclass(frozen=True, slots=True)
class CodecEvalConfig:
    split: str = "test"
    max_items: int = 24
    seconds: float = 6.0
    block_latent_frames: int = 16
    threads: int = 2
    png_count: int = 4

    def __post_init__(self) -> None:
        if self.max_items < 1 or self.seconds <= 0 or self.block_latent_frames < 1 or self.threads < 1:
            raise ValueError("max_items, seconds, block_latent_frames and threads must be positive")


def _pick_items(corpus: Corpus, cfg: CodecEvalConfig):
    items = sorted(corpus.items(cfg.split), key=lambda it: it.id)
    if not items:
        raise ValueError(f"{corpus.root}: split {cfg.split!r} is empty")
    by_kind: dict[str, list] = {}
    for it in items:
        by_kind.setdefault(it.kind, []).append(it)
    picked = []
    while len(picked) < min(cfg.max_items, len(items)):  # round-robin over kinds: every source type counts
        for kind in sorted(by_kind):
            if by_kind[kind] and len(picked) < cfg.max_items:
                picked.append(by_kind[kind].pop(0))
    return picked


def _spectrogram_png(path: Path, title: str, signals: dict[str, np.ndarray], sr: int) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from lmd_studio.dsp.stft import StftConfig, stft

    cfg = StftConfig(2048, 512, sr)
    fig, axes = plt.subplots(len(signals), 1, figsize=(10, 2.6 * len(signals)), sharex=True)
    for ax, (name, x) in zip(np.atleast_1d(axes), signals.items()):
        s = 20 * np.log10(np.abs(stft(x, cfg)) + 1e-6).T  # [K, T]
        top = int(11000 / cfg.bin_hz)
        ax.imshow(s[:top], origin="lower", aspect="auto", vmin=s.max() - 80, vmax=s.max(),
                  extent=(0, s.shape[1] * cfg.hop_frames / sr, 0, top * cfg.bin_hz / 1000))
        ax.set_ylabel(f"{name}\nkHz")
    np.atleast_1d(axes)[-1].set_xlabel("s")
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=70)
    plt.close(fig)


def _cpu_time_rtf(codec: SpectralCodec, corpus: Corpus, items, cfg: CodecEvalConfig) -> tuple[float, float, float]:
    """CPU seconds (1 torch thread, this thread only) to encode and block-decode a few items: the cost on an
    idle core, which wall-clock time on a shared, loaded machine overstates."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    enc = dec = audio = 0.0
    try:
        for item in items:
            x = corpus.load_audio(item, 0, int(cfg.seconds * codec.sample_rate))
            frames = x.shape[1] // codec.hop_frames
            if frames < 1:
                continue
            x = torch.from_numpy(x[:, : frames * codec.hop_frames])[None]
            t0 = time.thread_time()
            z = codec.encode(x)
            t1 = time.thread_time()
            state = codec.init_decode_state(1)
            for lo in range(0, frames, cfg.block_latent_frames):
                _, state = codec.decode_block(z[:, lo:lo + cfg.block_latent_frames], state)
            enc, dec, audio = enc + t1 - t0, dec + time.thread_time() - t1, audio + frames * codec.hop_frames / codec.sample_rate
    finally:
        torch.set_num_threads(threads)
    return enc, dec, max(audio, 1e-9)


def evaluate_codec(codec: SpectralCodec, corpus_dir: str | Path, cfg: CodecEvalConfig,
                   png_dir: str | Path | None = None) -> dict:
    torch.set_num_threads(cfg.threads)
    corpus = Corpus.open(corpus_dir)
    hop, sr = codec.hop_frames, codec.sample_rate
    block = cfg.block_latent_frames
    rows, enc_s, dec_s, audio_s = [], 0.0, 0.0, 0.0
    stream_gap = None
    for n, item in enumerate(_pick_items(corpus, cfg)):
        x = corpus.load_audio(item, 0, int(cfg.seconds * sr))  # [C, N]
        frames = x.shape[1] // hop
        if frames < 2:
            continue
        x = torch.from_numpy(x[:, : frames * hop])[None]  # [1, C, N]
        t0 = time.perf_counter()
        z = codec.encode(x)
        t1 = time.perf_counter()
        state, parts = codec.init_decode_state(1), []
        for lo in range(0, frames, block):
            y, state = codec.decode_block(z[:, lo:lo + block], state)
            parts.append(y)
        t2 = time.perf_counter()
        y = torch.cat(parts, dim=-1)[0, 0].numpy()
        enc_s, dec_s, audio_s = enc_s + t1 - t0, dec_s + t2 - t1, audio_s + frames * hop / sr
        if stream_gap is None:  # streamed blocks vs one offline decode of the same latents
            stream_gap = float(np.abs(codec.decode(z)[0, 0].numpy() - y).max())
        ref = x[0, 0].numpy().astype(np.float64)
        oracle = codec.oracle_decode(x)[0, 0].numpy()
        true_mag = frames_to_magnitudes(log_magnitude_frames(x, codec.cfg), codec.cfg)[0, 0].numpy()
        dec_mag = codec.magnitudes(z)[0][0, 0].numpy()
        row = {"id": item.id, "kind": item.kind, "lsd_db": lsd_db(ref, y, sr), "mrstft": mrstft(ref, y, sr),
               "mel_l1": mel_l1(ref, y, sr), "oracle_lsd_db": lsd_db(ref, oracle, sr),
               "oracle_mrstft": mrstft(ref, oracle, sr), "oracle_mel_l1": mel_l1(ref, oracle, sr),
               "magnitude_lsd_db": lsd_from_magnitudes_db(true_mag, dec_mag)}
        if frames >= 3 * block:  # seams need a few block boundaries
            row.update(seam=seam_ratio(y, block * hop, sr), oracle_seam=seam_ratio(oracle, block * hop, sr),
                       seam_original=seam_ratio(ref, block * hop, sr),
                       seam_latent=seam_ratio(y, hop, sr))
        rows.append(row)
        if png_dir is not None and n < cfg.png_count:
            Path(png_dir).mkdir(parents=True, exist_ok=True)
            _spectrogram_png(Path(png_dir) / f"codec_{n:02d}_{item.kind}.png", f"{item.id}: {item.description}",
                             {"original": ref, "oracle phase": oracle, "codec": y}, sr)
    if not rows:
        raise ValueError(f"no item of split {cfg.split!r} is long enough to evaluate")

    def mean(key: str, subset=None) -> float | None:
        vals = [r[key] for r in (subset or rows) if key in r]
        return float(np.mean(vals)) if vals else None

    cpu_enc, cpu_dec, cpu_audio = _cpu_time_rtf(codec, corpus, _pick_items(corpus, cfg)[:4], cfg)
    kinds = sorted({r["kind"] for r in rows})
    out = {k: mean(k) for k in ("lsd_db", "mrstft", "mel_l1", "seam", "seam_latent", "seam_original",
                                "oracle_lsd_db", "oracle_mrstft", "oracle_mel_l1", "oracle_seam", "magnitude_lsd_db")}
    out.update(encode_rtf=enc_s / audio_s, decode_rtf=dec_s / audio_s, encode_cpu_rtf_1thread=cpu_enc / cpu_audio,
               decode_cpu_rtf_1thread=cpu_dec / cpu_audio, load_avg_1min=os.getloadavg()[0],
               stream_offline_max_abs=stream_gap,
               items=len(rows), seconds=round(audio_s, 2), split=cfg.split, block_latent_frames=block,
               threads=cfg.threads, gl_iters=codec.cfg.gl_iters,
               per_kind={k: {m: mean(m, [r for r in rows if r["kind"] == k])
                             for m in ("lsd_db", "oracle_lsd_db", "magnitude_lsd_db", "mel_l1")} for k in kinds})
    return out
