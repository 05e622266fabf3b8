"""Codec evaluation on a held-out corpus split: distances, seams, speed, and the oracle path beside them.

Works for every LatentCodec with a `magnitudes(latents)` method (SpectralCodec, Codec2). For each item
(first `seconds` of audio, trimmed to whole latent frames):
- codec path: encode → decode block by block (the engine's way) → compare with the original;
- oracle path: true STFT magnitudes → v1's streaming phase reconstruction (dsp/phase.py) → compare: what
  v1 would give with a perfect autoencoder, the reference the v2 targets were set against;
- magnitude LSD: the decoder's magnitudes vs the true ones (no phase at all).
Speed: CPU time of one torch thread (this thread only) to encode and block-decode a few items.
Side-by-side comparison of two codecs: training/eval/codec_compare.py.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from lmd_studio.data.corpus import Corpus
from lmd_studio.data.manifest import ManifestItem
from lmd_studio.dsp.metrics import lsd_db, lsd_from_magnitudes_db, mel_l1, mrstft, seam_ratio
from lmd_studio.dsp.phase import PhaseConfig, StreamingPhaseReconstructor
from lmd_studio.dsp.stft import pad_for_latents, stft

CODEC_METRICS = ("lsd_db", "magnitude_lsd_db", "mel_l1", "mrstft", "seam", "seam_latent")
ORACLE_METRICS = ("oracle_lsd_db", "oracle_mrstft", "oracle_mel_l1", "oracle_seam", "seam_original")
KIND_METRICS = ("lsd_db", "magnitude_lsd_db", "mel_l1", "mrstft")


@dataclass(frozen=True, slots=True)
class CodecEvalConfig:
    split: str = "test"
    max_items: int = 24
    seconds: float = 6.0
    block_latent_frames: int = 16
    threads: int = 2
    png_count: int = 4
    speed_items: int = 4

    def __post_init__(self) -> None:
        if min(self.max_items, self.block_latent_frames, self.threads, self.speed_items) < 1 or self.seconds <= 0:
            raise ValueError("max_items, seconds, block_latent_frames, threads and speed_items must be positive")


def pick_items(corpus: Corpus, cfg: CodecEvalConfig) -> list[ManifestItem]:
    """Round-robin over source kinds (sorted ids within a kind): every source type counts."""
    items = sorted(corpus.items(cfg.split), key=lambda it: it.id)
    if not items:
        raise ValueError(f"{corpus.root}: split {cfg.split!r} is empty")
    by_kind: dict[str, list] = {}
    for it in items:
        by_kind.setdefault(it.kind, []).append(it)
    picked: list[ManifestItem] = []
    while len(picked) < min(cfg.max_items, len(items)):
        for kind in sorted(by_kind):
            if by_kind[kind] and len(picked) < cfg.max_items:
                picked.append(by_kind[kind].pop(0))
    return picked


def load_item(corpus: Corpus, item: ManifestItem, codec, seconds: float) -> torch.Tensor | None:
    """[1, C, N] float32, N a whole number of latent frames (None when shorter than two)."""
    x = corpus.load_audio(item, 0, int(seconds * codec.sample_rate))  # [C, N]
    frames = x.shape[1] // codec.hop_frames
    return None if frames < 2 else torch.from_numpy(x[:, : frames * codec.hop_frames])[None]


def stream_decode(codec, z: torch.Tensor, block: int) -> torch.Tensor:
    """Decode [1, T, L] block by block (the engine's way) → [1, C, T * hop]."""
    state, parts = codec.init_decode_state(1), []
    for lo in range(0, z.shape[1], block):
        y, state = codec.decode_block(z[:, lo:lo + block], state)
        parts.append(y)
    return torch.cat(parts, dim=-1)


def true_magnitudes(x: torch.Tensor, codec) -> np.ndarray:
    """|STFT| of the first channel [T*F, K] with the codecs' framing (whole latent frames + look-ahead)."""
    cfg = codec.cfg.stft
    return np.abs(stft(pad_for_latents(x[0, 0].numpy().astype(np.float64), codec.hop_frames, cfg), cfg))


def oracle_decode(x: torch.Tensor, codec) -> np.ndarray:
    """v1's phase reconstruction on the true magnitudes (the codec's own when it has one): first channel."""
    if hasattr(codec, "oracle_decode"):
        return codec.oracle_decode(x)[0, 0].numpy()
    phase = StreamingPhaseReconstructor(PhaseConfig(stft=codec.cfg.stft, frames_per_chunk=codec.cfg.frames_per_latent))
    return phase.reconstruct(true_magnitudes(x, codec)).astype(np.float32)[: x.shape[-1]]


def reference_row(x: torch.Tensor, codec, block: int) -> tuple[dict[str, float], np.ndarray]:
    """Codec-independent numbers of one item (the oracle path, the original's own seam ratio) and the oracle
    audio."""
    ref, sr = x[0, 0].numpy().astype(np.float64), codec.sample_rate
    oracle = oracle_decode(x, codec)
    row = {"oracle_lsd_db": lsd_db(ref, oracle, sr), "oracle_mrstft": mrstft(ref, oracle, sr),
           "oracle_mel_l1": mel_l1(ref, oracle, sr)}
    if x.shape[-1] >= 3 * block * codec.hop_frames:  # seams need a few block boundaries
        row.update(oracle_seam=seam_ratio(oracle, block * codec.hop_frames, sr),
                   seam_original=seam_ratio(ref, block * codec.hop_frames, sr))
    return row, oracle


@dataclass(frozen=True, slots=True)
class CodecItemResult:
    row: dict[str, float]
    audio: np.ndarray  # decoded first channel
    stream_gap: float  # max |streamed − offline|
    encode_s: float  # wall clock
    decode_s: float  # wall clock of the block-by-block decode


def codec_row(x: torch.Tensor, codec, block: int, encoder=None) -> CodecItemResult:  # noqa: ANN001
    """One item through one codec: metrics, audio, streaming check and wall-clock times. With `encoder`
    (another codec of the same latent space) that codec's latents are decoded: what a DiT trained on them hears."""
    ref, sr, hop = x[0, 0].numpy().astype(np.float64), codec.sample_rate, codec.hop_frames
    t0 = time.perf_counter()
    z = (encoder or codec).encode(x)
    t1 = time.perf_counter()
    y = stream_decode(codec, z, block)[0, 0].numpy()
    t2 = time.perf_counter()
    gap = float(np.abs(codec.decode(z)[0, 0].numpy() - y).max())
    dec_mag = codec.magnitudes(z)[0][0, 0].double().numpy()
    row = {"lsd_db": lsd_db(ref, y, sr), "mrstft": mrstft(ref, y, sr), "mel_l1": mel_l1(ref, y, sr),
           "magnitude_lsd_db": lsd_from_magnitudes_db(true_magnitudes(x, codec), dec_mag)}
    if x.shape[-1] >= 3 * block * hop:
        row.update(seam=seam_ratio(y, block * hop, sr), seam_latent=seam_ratio(y, hop, sr))
    return CodecItemResult(row, y, gap, t1 - t0, t2 - t1)


def cpu_time_rtf(codec, corpus: Corpus, items: list[ManifestItem], cfg: CodecEvalConfig) -> tuple[float, float]:
    """(encode, decode) CPU seconds per second of audio on 1 torch thread (this thread only): the cost on an
    idle core, which wall-clock time on a shared, loaded machine overstates."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    enc = dec = audio = 0.0
    try:
        for item in items:
            x = load_item(corpus, item, codec, cfg.seconds)
            if x is None:
                continue
            t0 = time.thread_time()
            z = codec.encode(x)
            t1 = time.thread_time()
            stream_decode(codec, z, cfg.block_latent_frames)
            enc, dec = enc + t1 - t0, dec + time.thread_time() - t1
            audio += x.shape[-1] / codec.sample_rate
    finally:
        torch.set_num_threads(threads)
    audio = max(audio, 1e-9)
    return enc / audio, dec / audio


def mean_of(rows: list[dict], key: str) -> float | None:
    vals = [r[key] for r in rows if key in r]
    return float(np.mean(vals)) if vals else None


def per_kind(rows: list[dict], keys: tuple[str, ...]) -> dict[str, dict[str, float | None]]:
    kinds = sorted({r["kind"] for r in rows})
    return {k: {m: mean_of([r for r in rows if r["kind"] == k], m) for m in keys} for k in kinds}


def evaluate_codec(codec, corpus_dir: str | Path, cfg: CodecEvalConfig, png_dir: str | Path | None = None) -> dict:
    from lmd_studio.training.eval.codec_plots import spectrogram_png

    torch.set_num_threads(cfg.threads)
    corpus = Corpus.open(corpus_dir)
    block, sr = cfg.block_latent_frames, codec.sample_rate
    rows, enc_s, dec_s, audio_s, stream_gap = [], 0.0, 0.0, 0.0, 0.0
    for n, item in enumerate(pick_items(corpus, cfg)):
        x = load_item(corpus, item, codec, cfg.seconds)
        if x is None:
            continue
        res = codec_row(x, codec, block)
        enc_s, dec_s, audio_s = enc_s + res.encode_s, dec_s + res.decode_s, audio_s + x.shape[-1] / sr
        stream_gap = max(stream_gap, res.stream_gap)
        ref_row, oracle = reference_row(x, codec, block)
        rows.append({"id": item.id, "kind": item.kind, **res.row, **ref_row})
        if png_dir is not None and n < cfg.png_count:
            Path(png_dir).mkdir(parents=True, exist_ok=True)
            spectrogram_png(Path(png_dir) / f"codec_{n:02d}_{item.kind}.png", f"{item.id}: {item.description}",
                            {"original": x[0, 0].numpy(), "oracle phase": oracle, "codec": res.audio}, sr)
    if not rows:
        raise ValueError(f"no item of split {cfg.split!r} is long enough to evaluate")
    enc_cpu, dec_cpu = cpu_time_rtf(codec, corpus, pick_items(corpus, cfg)[:cfg.speed_items], cfg)
    out: dict = {k: mean_of(rows, k) for k in CODEC_METRICS + ORACLE_METRICS}
    out.update(encode_rtf=enc_s / audio_s, decode_rtf=dec_s / audio_s, encode_cpu_rtf_1thread=enc_cpu,
               decode_cpu_rtf_1thread=dec_cpu, load_avg_1min=os.getloadavg()[0], stream_offline_max_abs=stream_gap,
               items=len(rows), seconds=round(audio_s, 2), split=cfg.split, block_latent_frames=block,
               threads=cfg.threads, codec_class=type(codec).__name__, gl_iters=getattr(codec.cfg, "gl_iters", None),
               per_kind=per_kind(rows, KIND_METRICS + ("oracle_lsd_db",)), rows=rows)
    return out
