"""MODEL_CARD.md for the frozen evaluation encoder in `models/eval/` (written by `lmd train audiotext`)."""

from __future__ import annotations

import datetime
import platform
from pathlib import Path

from lmd_studio.data.corpus import Corpus
from lmd_studio.training.audio_text import AudioTextEncoder


def _retrieval_rows(numbers: dict, prefix: str, label: str) -> list[str]:
    if f"{prefix}r1_a2t" not in numbers:
        return [f"| {label} | – | – | – | – | – | – |"]
    n = numbers
    return [f"| {label} ({int(n[prefix + 'windows'])} windows, {int(n[prefix + 'descriptions'])} descriptions) "
            f"| {n[prefix + 'r1_a2t']:.3f} | {n[prefix + 'r5_a2t']:.3f} | {n[prefix + 'mrr_a2t']:.3f} "
            f"| {n[prefix + 'r1_t2a']:.3f} | {n[prefix + 'chance_r1_a2t']:.3f} | {n[prefix + 'loss']:.3f} |"]


def card_text(model: AudioTextEncoder, train_cfg: dict, numbers: dict, corpus: str | Path) -> str:
    cfg = model.cfg
    params = sum(p.numel() for p in model.parameters())
    try:
        licences = Corpus.open(corpus).hours_by_licence("train")
        licence_text = ", ".join(f"{k} {v:.2f} h" for k, v in licences.items())
    except ValueError:
        licence_text = "(corpus not readable at card time)"
    lines = [
        "# Evaluation encoder (audio–text, contrastive)",
        "",
        "A small, frozen audio–text embedding trained once on our own corpus. `lmd eval` uses it for FD in a",
        "learned space and for prompt adherence; no pretrained audio embedding (OpenL3, PaSST, CLAP) can be",
        "downloaded here. It is **not** comparable to CLAP/OpenL3 numbers in papers.",
        "",
        "## Model",
        f"- audio: log-mel ({cfg.n_mels} bands, {cfg.sample_rate_hz} Hz, FFT {cfg.n_fft}, hop {cfg.hop_frames}) →",
        f"  per-frame LayerNorm (level-invariant) → 4 strided 1-D convolutions (width {cfg.width}) → mean+max",
        f"  pooling → linear → L2-normalised {cfg.embed_dim}-d vector; input clips of {cfg.clip_s:g} s mono",
        f"- text: all-MiniLM-L6-v2 sentence vector ({cfg.text_dim}-d, frozen, offline) → 2-layer MLP →"
        f" {cfg.embed_dim}-d",
        f"- {params / 1e6:.2f} M parameters; loss: symmetric InfoNCE with a learned temperature, clips sharing a",
        "  description are all positives",
        "",
        "## Data",
        f"- corpus `{corpus}`, train split: {numbers.get('train_items', '?')} items,"
        f" {numbers.get('train_hours', 0.0):.2f} h; text = each item's description",
        f"- licences (train hours): {licence_text}",
        "- random 4 s crops per item (items drawn uniformly; shorter items zero-padded)",
        "",
        "## Training",
        f"- {numbers['steps']} steps (run status: {numbers['status']}), best checkpoint at step"
        f" {numbers['best_step']}, batch {train_cfg['batch_size']}, AdamW lr {train_cfg['lr']} (cosine to"
        f" {train_cfg['min_lr']}), weight decay {train_cfg['weight_decay']}; augmentation: dropout {cfg.dropout:g},"
        f" {cfg.time_masks} time and {cfg.freq_masks} frequency masks",
        *([f"- note: {numbers['note']}"] if numbers.get("note") else []),
        f"- early stopping on {numbers['val_split']} retrieval (1 − mean of a→t and t→a R@1), patience"
        f" {train_cfg['patience_evals']} evaluations",
        f"- compute: {numbers.get('wall_minutes', 0.0):.1f} min wall clock on {numbers.get('threads', '?')} CPU"
        f" thread(s) ({platform.processor() or platform.machine()}), {datetime.date.today().isoformat()}",
        "",
        "## Retrieval (evaluation windows: 4 s, hop 2 s, first 12 s of each item)",
        "a→t: a window's own description among all descriptions of the split; t→a: the best window of a",
        "description is one of its own. Chance = 1 / descriptions for a→t R@1.",
        "",
        "| split | a→t R@1 | a→t R@5 | a→t MRR | t→a R@1 | chance a→t R@1 | loss |",
        "|---|---:|---:|---:|---:|---:|---:|",
        *_retrieval_rows(numbers, "val_", numbers["val_split"]),
        *_retrieval_rows(numbers, "test_", "test"),
        "",
        "## Evaluation statistics (`eval_stats.safetensors`)",
        f"From {numbers.get('norm_windows', '?')} training-split windows: the mean/std that z-score the DSP"
        " descriptor, and per space the",
        f"{numbers.get('fd_dims', '?')} principal directions FD is computed in (plus the residual norm as one more"
        " axis).",
        f"They hold {100 * numbers.get('dsp_explained', 0.0):.0f}% (DSP) and"
        f" {100 * numbers.get('emb_explained', 0.0):.0f}% (embedding) of the training variance. With tens of windows",
        "per half, FD in 90–128 dimensions has rank-deficient covariances and rewards low-variance sets (noise",
        "or a collapsed model can score under the real-vs-real floor); in the projected space it does not.",
        "",
        "## Limitations",
        f"- trained on {numbers.get('train_hours', 0.0):.2f} h of rendered MIDI, sample-pack loops and one-shots: it"
        " knows instruments, genres",
        "  and drum styles in our templated descriptions, not free-form language;",
        "- retrieval among near-duplicate descriptions (same piece style, different key or tempo) is hard,",
        "  so R@1 understates how well it separates broad categories (see R@5 and MRR).",
        "",
    ]
    return "\n".join(lines)


def write_card(path: str | Path, model: AudioTextEncoder, train_cfg: dict, numbers: dict,
               corpus: str | Path) -> Path:
    path = Path(path)
    path.write_text(card_text(model, train_cfg, numbers, corpus), encoding="utf-8")
    return path
