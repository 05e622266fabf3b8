"""`lmd train audiotext`: the frozen evaluation encoder (contrastive audio–text, training/audio_text.py).

Trains on the corpus's train split (descriptions as text, random 4 s crops), validates on the val split's
evaluation windows, early-stops on val retrieval (monitor: 1 − mean of audio→text and text→audio R@1),
then exports to `models/eval/`: `audio_text.safetensors`, `dsp_norm.safetensors` (the DSP descriptor's
statistics over training windows) and `MODEL_CARD.md` with val and test retrieval numbers.
"""

from __future__ import annotations

import argparse
import json
import math
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

import torch

from lmd_studio.data.corpus import Corpus
from lmd_studio.model.text_encoder import MiniLMTextEncoder, TextEncoder
from lmd_studio.training.audio_text import AudioTextConfig, AudioTextEncoder, save_audio_text
from lmd_studio.training.audio_text_card import write_card
from lmd_studio.training.audio_text_data import CaptionedAudio, LabelledWindows, retrieval_metrics
from lmd_studio.training.eval_data import HOP_S
from lmd_studio.training.eval_dsp import standardizer
from lmd_studio.training.eval_spaces import (
    DEFAULT_EVAL_DIR,
    ENCODER_FILE,
    STATS_FILE,
    Projection,
    dsp_matrix,
    save_eval_stats,
)
from lmd_studio.training.logging import MetricsLogger
from lmd_studio.training.loop import LoopConfig, load_training_checkpoint, train_loop

DEFAULT_CONFIG = Path(__file__).with_name("configs") / "audiotext.json"


@dataclass(frozen=True, slots=True)
class AudioTextTrainConfig:
    steps: int = 3000
    batch_size: int = 48
    lr: float = 1e-3
    min_lr: float = 1e-4
    warmup_steps: int = 100
    weight_decay: float = 0.05
    grad_clip: float = 1.0
    eval_every: int = 100
    checkpoint_every: int = 100
    log_every: int = 20
    max_minutes: float | None = 20.0
    patience_evals: int | None = 8
    threads: int = 2
    seed: int = 0
    eval_hop_s: float = HOP_S
    eval_max_s: float = 12.0
    norm_windows: int = 800
    fd_dims: int = 12  # principal directions FD is computed in (plus the residual norm)
    encoder: AudioTextConfig = field(default_factory=AudioTextConfig)

    def __post_init__(self) -> None:
        if self.steps < 1 or self.batch_size < 2:
            raise ValueError(f"steps >= 1 and batch_size >= 2 are required, got {self.steps}, {self.batch_size}")
        if not 0 < self.min_lr <= self.lr:
            raise ValueError(f"need 0 < min_lr <= lr, got {self.min_lr}, {self.lr}")
        if self.weight_decay < 0 or self.grad_clip <= 0 or self.warmup_steps < 0:
            raise ValueError("weight_decay >= 0, grad_clip > 0 and warmup_steps >= 0 are required")
        if not 1 <= self.fd_dims < self.norm_windows:
            raise ValueError(f"fd_dims must be in [1, norm_windows), got {self.fd_dims}")
        if self.threads < 1 or self.norm_windows < 2 or self.eval_hop_s <= 0 or self.eval_max_s <= 0:
            raise ValueError("threads >= 1, norm_windows >= 2, eval_hop_s > 0 and eval_max_s > 0 are required")

    @classmethod
    def from_dict(cls, d: dict) -> AudioTextTrainConfig:
        unknown = set(d) - {f.name for f in fields(cls)}
        if unknown:
            raise ValueError(f"unknown audiotext training keys {sorted(unknown)}")
        d = dict(d)
        if "encoder" in d:
            enc = d["encoder"]
            bad = set(enc) - {f.name for f in fields(AudioTextConfig)}
            if bad:
                raise ValueError(f"unknown audiotext encoder keys {sorted(bad)}")
            d["encoder"] = AudioTextConfig(**enc)
        return cls(**d)

    def to_dict(self) -> dict:
        return asdict(self)


def load_config(path: str | Path) -> AudioTextTrainConfig:
    path = Path(path)
    try:
        return AudioTextTrainConfig.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, json.JSONDecodeError, TypeError, ValueError) as exc:
        raise ValueError(f"{path}: invalid audiotext training config ({exc})") from None


def lr_at(step: int, cfg: AudioTextTrainConfig) -> float:
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    progress = min(1.0, (step - cfg.warmup_steps) / max(1, cfg.steps - cfg.warmup_steps))
    return cfg.min_lr + 0.5 * (cfg.lr - cfg.min_lr) * (1 + math.cos(math.pi * progress))


def pooled_texts(encoder: TextEncoder, texts: tuple[str, ...]) -> torch.Tensor:
    """[U, 384] MiniLM sentence vectors, computed once (the encoder's text input).

    In chunks: MiniLMTextEncoder returns its results through a bounded memo (256 texts), so one call with
    more texts than that would silently come back short."""
    pooled = []
    for i in range(0, len(texts), 64):
        chunk = list(texts[i:i + 64])
        got = encoder.encode(chunk)
        if len(got) != len(chunk):
            raise RuntimeError(f"text encoder returned {len(got)} embeddings for {len(chunk)} texts")
        pooled += [e.pooled for e in got]
    return torch.stack(pooled)


@torch.no_grad()
def score_windows(model: AudioTextEncoder, windows: LabelledWindows, pooled: torch.Tensor,
                  prefix: str) -> dict[str, float]:
    """Retrieval metrics and the contrastive loss on fixed windows."""
    model.eval()
    audio = torch.cat([model.embed_audio(torch.from_numpy(windows.audio[i:i + 64]))
                       for i in range(0, len(windows), 64)])
    text = model.embed_text(pooled)
    ids = torch.from_numpy(windows.text_ids)
    out = retrieval_metrics(audio, ids, text, prefix)
    loss = model.contrastive_loss(audio, text[ids], ids[:, None] == ids[None, :])
    out[f"{prefix}loss"] = float(loss)
    out[f"{prefix}retrieval_err"] = 1.0 - 0.5 * (out[f"{prefix}r1_a2t"] + out[f"{prefix}r1_t2a"])
    return out


def train_audio_text(corpus: Path, out_dir: Path, cfg: AudioTextTrainConfig, export_dir: Path | None = None,
                     resume: bool = True, text_encoder: TextEncoder | None = None, log=print,
                     export_only: bool = False, note: str = "") -> dict:
    torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if not export_only:
        (out_dir / "config.json").write_text(json.dumps(cfg.to_dict(), indent=2) + "\n", encoding="utf-8")
    enc_cfg = cfg.encoder
    sr, win = enc_cfg.sample_rate_hz, enc_cfg.clip_frames
    hop, max_frames = int(round(cfg.eval_hop_s * sr)), int(round(cfg.eval_max_s * sr))
    train = CaptionedAudio(corpus, "train", sr, cfg.seed)
    val_split = "val" if _has_split(corpus, "val") else "train"  # tiny corpora have no val items
    val = CaptionedAudio(corpus, val_split, sr, cfg.seed) if val_split != "train" else train
    val_windows = val.windows(win, hop, max_frames, max_windows=400)
    log(f"audiotext: {len(train)} train items ({train.hours:.2f} h, {len(train.texts)} descriptions); "
        f"validating on {val_split} ({len(val_windows)} windows, {len(val.texts)} descriptions)")
    text_encoder = text_encoder or MiniLMTextEncoder()
    train_pooled, val_pooled = pooled_texts(text_encoder, train.texts), pooled_texts(text_encoder, val.texts)
    model = AudioTextEncoder(enc_cfg)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)

    def step_fn(step: int) -> dict[str, float]:
        for group in opt.param_groups:
            group["lr"] = lr_at(step, cfg)
        audio, ids = train.batch(step, cfg.batch_size, win)
        loss = model.contrastive_loss(model.embed_audio(audio), model.embed_text(train_pooled[ids]),
                                      ids[:, None] == ids[None, :])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        grad = float(torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip))
        opt.step()
        return {"loss": loss.item(), "grad_norm": grad, "lr": opt.param_groups[0]["lr"],
                "temperature": model.logit_scale.detach().clamp(max=4.6).exp().item()}

    def eval_fn(step: int) -> dict[str, float]:
        m = score_windows(model, val_windows, val_pooled, "val_")
        return {k: m[k] for k in ("val_loss", "val_r1_a2t", "val_r5_a2t", "val_r1_t2a", "val_retrieval_err")}

    if export_only:
        candidates = [p for p in (out_dir / "best.pt", out_dir / "last.pt") if p.is_file()]
        if not candidates:
            raise ValueError(f"{out_dir}: no best.pt or last.pt to export; train first")
        best, status, steps = candidates[0], "exported again from its checkpoints", None
    else:
        loop = LoopConfig(max_steps=cfg.steps, eval_every=cfg.eval_every, checkpoint_every=cfg.checkpoint_every,
                          log_every=cfg.log_every, max_minutes=cfg.max_minutes, patience_evals=cfg.patience_evals,
                          monitor="val_retrieval_err")
        result = train_loop(loop, model, opt, step_fn, out_dir, eval_fn=eval_fn, resume=resume, log=log)
        if result.status == "nan":
            return {"status": "nan", "step": result.step}
        best, status, steps = result.best_checkpoint or result.last_checkpoint, result.status, result.step
    ck = load_training_checkpoint(best)
    model.load_state_dict(ck["model"])
    if steps is None:
        steps = int(load_training_checkpoint(out_dir / "last.pt")["step"]) if (out_dir / "last.pt").is_file() \
            else int(ck["step"])
    rows = MetricsLogger.read(out_dir / "metrics.csv") if (out_dir / "metrics.csv").is_file() else []
    numbers = {"status": status, "steps": steps, "best_step": int(ck["step"]), "val_split": val_split,
               "train_hours": train.hours, "train_items": len(train), "threads": cfg.threads,
               "wall_minutes": max((r.get("elapsed_s", 0.0) for r in rows), default=0.0) / 60, "note": note,
               **score_windows(model, val_windows, val_pooled, "val_")}
    if _has_split(corpus, "test"):
        test = CaptionedAudio(corpus, "test", sr, cfg.seed)
        numbers.update(score_windows(model, test.windows(win, hop, max_frames), pooled_texts(text_encoder, test.texts),
                                     "test_"))
    export = export_encoder(model, train.windows(win, hop, max_frames, max_windows=cfg.norm_windows), cfg, numbers,
                            corpus, Path(export_dir) if export_dir is not None else out_dir / "export")
    (out_dir / "retrieval.json").write_text(json.dumps(numbers, indent=2) + "\n", encoding="utf-8")
    log(f"audiotext: {status} after {steps} steps (best at {numbers['best_step']}); "
        f"val R@1 a→t {numbers['val_r1_a2t']:.3f}, t→a {numbers['val_r1_t2a']:.3f}; exported to {export}")
    return {**numbers, "export": str(export)}


def export_encoder(model: AudioTextEncoder, norm_windows: LabelledWindows, cfg: AudioTextTrainConfig,
                   numbers: dict, corpus: Path, export: Path) -> Path:
    """Write the encoder, the evaluation statistics of training windows and the card; updates `numbers`."""
    sr = cfg.encoder.sample_rate_hz
    raw = dsp_matrix(norm_windows.audio, sr)
    mean, std = standardizer(raw)
    with torch.no_grad():
        emb = torch.cat([model.embed_audio(torch.from_numpy(norm_windows.audio[i:i + 64]))
                         for i in range(0, len(norm_windows), 64)]).double().numpy()
    dsp_proj, emb_proj = Projection.fit((raw - mean) / std, cfg.fd_dims), Projection.fit(emb, cfg.fd_dims)
    numbers.update(norm_windows=len(norm_windows), fd_dims=cfg.fd_dims, dsp_explained=dsp_proj.explained,
                   emb_explained=emb_proj.explained)
    export.mkdir(parents=True, exist_ok=True)
    save_audio_text(model, export / ENCODER_FILE,
                    extra={"retrieval": json.dumps({k: round(v, 4) if isinstance(v, float) else v
                                                    for k, v in numbers.items()}), "corpus": str(corpus)})
    save_eval_stats(export / STATS_FILE, mean, std, dsp_proj, emb_proj, len(norm_windows))
    write_card(export / "MODEL_CARD.md", model, cfg.to_dict(), numbers, corpus)
    return export


def _has_split(corpus: Path, split: str) -> bool:
    return bool(Corpus.open(corpus).items(split))


# --- CLI (dispatched from cli/cmd_train.py) -------------------------------------------------------------
def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--corpus", type=Path, required=True, help="corpus folder from `lmd data build`")
    p.add_argument("--out", type=Path, default=Path("runs/audiotext"),
                   help="run folder: checkpoints, metrics.csv, loss.png (default runs/audiotext)")
    p.add_argument("--export", type=Path, default=DEFAULT_EVAL_DIR,
                   help=f"where the frozen encoder, DSP statistics and card go (default {DEFAULT_EVAL_DIR})")
    p.add_argument("--config", type=Path, default=DEFAULT_CONFIG, help="JSON training config")
    p.add_argument("--steps", type=int, default=None, help="override steps")
    p.add_argument("--max-minutes", type=float, default=None, help="stop (and export) after this wall time")
    p.add_argument("--threads", type=int, default=None, help="torch threads (1 while another training runs)")
    p.add_argument("--no-resume", action="store_true", help="start fresh even if the run folder has a checkpoint")
    p.add_argument("--export-only", action="store_true",
                   help="skip training: export the run folder's best checkpoint (statistics, card) again")
    p.add_argument("--note", default="", help="a sentence for the card's Training section (e.g. why a run stopped)")


def run(args: argparse.Namespace) -> int:
    import sys

    try:
        cfg = load_config(args.out / "config.json" if args.export_only else args.config)
        overrides = {k: v for k, v in (("steps", args.steps), ("max_minutes", args.max_minutes),
                                       ("threads", args.threads)) if v is not None}
        cfg = replace(cfg, **overrides)
        out = train_audio_text(args.corpus, args.out, cfg, export_dir=args.export, resume=not args.no_resume,
                               log=lambda msg: print(msg, flush=True), export_only=args.export_only,
                               note=args.note)
    except ValueError as exc:
        print(f"lmd train audiotext: {exc}", file=sys.stderr)
        return 2
    if out["status"] == "nan":
        print("lmd train audiotext: stopped on a non-finite loss; the last good checkpoint is kept", file=sys.stderr)
        return 3
    return 0
