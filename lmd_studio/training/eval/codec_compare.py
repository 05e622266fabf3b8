"""`lmd codec eval --compare OLD NEW`: two codecs on the same items, one table and one JSON.

Each item is loaded once; both codecs encode and block-decode it; the oracle column (v1's phase
reconstruction on true magnitudes) and the original's own seam ratio are computed once. Spectrogram PNGs
(original / old / new) are written for the first `png_per_kind` items of every source kind, and with an
audio folder the same items as FLAC excerpts (original, old, new).

When NEW keeps OLD's latent space (`same_space`: a codec2 trained with OLD as its teacher), a third column,
`new_on_old`, decodes OLD's latents with NEW — what a DiT trained on OLD's latents sounds like through NEW.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from lmd_studio.data.corpus import Corpus
from lmd_studio.training.eval.codec import (
    CODEC_METRICS,
    KIND_METRICS,
    ORACLE_METRICS,
    CodecEvalConfig,
    codec_row,
    cpu_time_rtf,
    load_item,
    mean_of,
    per_kind,
    pick_items,
    reference_row,
)
from lmd_studio.training.eval.codec_plots import spectrogram_png, write_flac

# the issue-14 targets (lower is better except the seam ratio); RTFs are CPU time on one AVX2 thread
TARGETS = {"lsd_db": 5.5, "magnitude_lsd_db": 5.0, "mel_l1": 0.30, "mrstft": 0.9, "seam": 0.90,
           "decode_cpu_rtf_1thread": 0.03, "encode_cpu_rtf_1thread": 0.01}
HIGHER_IS_BETTER = {"seam"}


def _check_compatible(old, new) -> None:
    a = (old.sample_rate, old.audio_channels, old.hop_frames)
    b = (new.sample_rate, new.audio_channels, new.hop_frames)
    if a != b:
        raise ValueError(f"the codecs differ in sample rate / channels / hop: {a} vs {b}")


def compare_codecs(old, new, corpus_dir: str | Path, cfg: CodecEvalConfig, png_dir: Path | None = None,
                   audio_dir: Path | None = None, png_per_kind: int = 2, same_space: bool = False) -> dict:
    _check_compatible(old, new)
    torch.set_num_threads(cfg.threads)
    corpus = Corpus.open(corpus_dir)
    block, sr = cfg.block_latent_frames, new.sample_rate
    rows: dict[str, list[dict]] = {"old": [], "new": [], "new_on_old": []}
    ref_rows: list[dict] = []
    gaps = {"old": 0.0, "new": 0.0}
    shown: dict[str, int] = {}
    for item in pick_items(corpus, cfg):
        x = load_item(corpus, item, new, cfg.seconds)
        if x is None:
            continue
        decoded = {}
        for name, codec in (("old", old), ("new", new)):
            res = codec_row(x, codec, block)
            rows[name].append({"id": item.id, "kind": item.kind, **res.row})
            gaps[name] = max(gaps[name], res.stream_gap)
            decoded[name] = res.audio
        if same_space:
            rows["new_on_old"].append({"id": item.id, "kind": item.kind,
                                       **codec_row(x, new, block, encoder=old).row})
        ref, oracle = reference_row(x, new, block)
        ref_rows.append({"id": item.id, "kind": item.kind, **ref})
        if shown.get(item.kind, 0) < png_per_kind and (png_dir is not None or audio_dir is not None):
            shown[item.kind] = shown.get(item.kind, 0) + 1
            stem = f"{item.kind}_{shown[item.kind]}_{item.id}"
            signals = {"original": x[0, 0].numpy(), "old": decoded["old"], "new": decoded["new"]}
            if png_dir is not None:
                spectrogram_png(Path(png_dir) / f"{stem}.png", f"{item.id}: {item.description}", signals, sr)
            if audio_dir is not None:
                for name, audio in signals.items():
                    write_flac(Path(audio_dir) / f"{stem}_{name}.flac", audio, sr)
    if not ref_rows:
        raise ValueError(f"no item of split {cfg.split!r} is long enough to evaluate")
    speed_items = pick_items(corpus, cfg)[:cfg.speed_items]
    out: dict = {"items": len(ref_rows), "split": cfg.split, "seconds_per_item": cfg.seconds,
                 "block_latent_frames": block, "threads": cfg.threads, "load_avg_1min": os.getloadavg()[0],
                 "targets": TARGETS, "oracle": {k: mean_of(ref_rows, k) for k in ORACLE_METRICS}}
    for name, codec in (("old", old), ("new", new)):
        enc, dec = cpu_time_rtf(codec, corpus, speed_items, cfg)
        out[name] = {**{k: mean_of(rows[name], k) for k in CODEC_METRICS}, "encode_cpu_rtf_1thread": enc,
                     "decode_cpu_rtf_1thread": dec, "stream_offline_max_abs": gaps[name],
                     "codec_class": type(codec).__name__, "per_kind": per_kind(rows[name], KIND_METRICS),
                     "rows": rows[name]}
    if same_space:
        out["new_on_old"] = {**{k: mean_of(rows["new_on_old"], k) for k in CODEC_METRICS},
                             "per_kind": per_kind(rows["new_on_old"], KIND_METRICS), "rows": rows["new_on_old"]}
    out["oracle"]["per_kind"] = per_kind(ref_rows, ("oracle_lsd_db",))
    out["new_better_in_every_kind"] = all(
        all(_better(out["new"]["per_kind"][k][m], out["old"]["per_kind"][k][m], m) for m in KIND_METRICS)
        for k in out["new"]["per_kind"])
    return out


def _better(new: float | None, old: float | None, metric: str) -> bool:
    if new is None or old is None:
        return False
    return new > old if metric in HIGHER_IS_BETTER else new < old


def _fmt(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.4f}"


def format_table(res: dict, old_name: str, new_name: str) -> str:
    """A plain-text table: metric | old | new | oracle | target (+ per-kind rows)."""
    lines = [f"old: {old_name}", f"new: {new_name}",
             f"{res['items']} {res['split']} items × {res['seconds_per_item']} s, decode blocks of "
             f"{res['block_latent_frames']} latent frames, load {res['load_avg_1min']:.1f}", "",
             f"{'metric':26s} {'old':>9s} {'new':>9s} {'oracle':>9s} {'target':>9s}"]
    oracle_of = {"lsd_db": "oracle_lsd_db", "mrstft": "oracle_mrstft", "mel_l1": "oracle_mel_l1", "seam": "oracle_seam"}
    for m in CODEC_METRICS + ("encode_cpu_rtf_1thread", "decode_cpu_rtf_1thread", "stream_offline_max_abs"):
        oracle = res["oracle"].get(oracle_of.get(m, ""))
        target = TARGETS.get(m)
        lines.append(f"{m:26s} {_fmt(res['old'][m]):>9s} {_fmt(res['new'][m]):>9s} {_fmt(oracle):>9s} "
                     f"{_fmt(target):>9s}")
    if "new_on_old" in res:
        lines += ["", "new decoding old's latents (new keeps old's latent space: what a DiT trained on old's "
                      "latents hears):"]
        lines += [f"{m:26s} {_fmt(res['new_on_old'][m]):>9s}" for m in CODEC_METRICS]
    lines.append(f"{'seam_original':26s} {'':>9s} {'':>9s} {_fmt(res['oracle'].get('seam_original')):>9s}")
    lines += ["", "per source kind (old → new):"]
    for kind, new_vals in res["new"]["per_kind"].items():
        old_vals = res["old"]["per_kind"][kind]
        cells = [f"{m} {_fmt(old_vals[m])} → {_fmt(new_vals[m])}" for m in KIND_METRICS]
        lines.append(f"  {kind:8s} " + "; ".join(cells))
    lines.append(f"new better in every kind and metric: {res['new_better_in_every_kind']}")
    return "\n".join(lines)
