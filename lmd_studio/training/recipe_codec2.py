"""`lmd train codec2`: the v2 codec (learned magnitude + phase, streaming inverse STFT) on corpus crops.

Loss = head log-magnitude L1 + head LSD (the decoder's own magnitudes vs the true STFT) + multi-resolution
STFT and mel L1 of the decoded waveform + a small L2 on the latents; Gaussian noise on the latents before
decoding, as v1. From `adv_start_step` on (config), small multi-resolution spectrogram discriminators add
hinge + feature-matching terms (training/codec2_disc.py). Validation tracks the issue's targets on fixed
val crops (`val_score`, 1.0 = on target). The shared pieces: StageRun (threads, device, torchrun, summary),
the loop (checkpoints, resume, CSV + PNG, NaN stop, ETA). At the end the best checkpoint gets latent
statistics (standardised latents, as v1) and is exported as `RUN/codec.safetensors` (format lmd-codec2).

With `teacher_codec` (config) the codec keeps that codec's latent space (training/codec2_objective.py): the
export then keeps identity statistics (its raw latents *are* the teacher's standardised ones) and records
the teacher's fingerprint as its `latent_space`, which `lmd model export` accepts in place of its own.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

import torch
from torch import nn

from lmd_studio.model.checkpoint import CheckpointError
from lmd_studio.model.codec2 import Codec2, save_codec2
from lmd_studio.model.codec2_net import Codec2Config, Codec2Net, analyse
from lmd_studio.model.codec_api import LatentCodec
from lmd_studio.training.arc import OptimizerPair
from lmd_studio.training.codec2_config import DEFAULT_CONFIG, Codec2TrainConfig, load_config
from lmd_studio.training.codec2_disc import (
    MultiResolutionDiscriminator,
    feature_matching,
    hinge_d_loss,
    hinge_g_loss,
)
from lmd_studio.training.codec2_objective import Codec2Objective
from lmd_studio.training.codec_data import CropSampler
from lmd_studio.training.latents import codec_fingerprint
from lmd_studio.training.optim import lr_at, optimizer_step
from lmd_studio.training.runner import StageRun, bf16_supported, step_generator

EXPORT_FILE = "codec.safetensors"


class Codec2Pair(nn.Module):
    """The codec and (when the config has an adversarial phase) its discriminators, checkpointed together."""

    def __init__(self, net: Codec2Net, disc: MultiResolutionDiscriminator | None) -> None:
        super().__init__()
        self.net = net
        self.disc = disc


@torch.no_grad()
def fit_latent_stats(net: Codec2Net, sampler: CropSampler, crops: int, batch: int = 16) -> None:
    """Per-channel mean/std of raw latents on training crops, stored in the net (encode() standardises)."""
    net.latent_mean.zero_()
    net.latent_std.fill_(1.0)
    device = net.latent_mean.device
    zs = []
    for i in range(0, crops, batch):
        audio = sampler.batch(10_000_000 + i, min(batch, crops - i)).to(device)
        zs.append(net.encode_frames(analyse(audio, net.cfg)[1]).reshape(-1, net.cfg.latent_channels))
    z = torch.cat(zs)
    net.latent_mean.copy_(z.mean(0))
    net.latent_std.copy_(z.std(0).clamp_min(1e-3))


def load_teacher(path: Path, c: Codec2Config, device: torch.device) -> LatentCodec:
    """The codec whose latent space to keep, on `device`; ValueError naming the file when it cannot be one."""
    from lmd_studio.model.codec import load_codec

    if not path.is_file():
        raise ValueError(f"teacher_codec {path}: no such file (the codec whose latents to keep, e.g. "
                         f"models/default/codec.safetensors)")
    try:
        teacher = load_codec(path)
    except CheckpointError as exc:
        raise ValueError(f"teacher_codec {exc}") from None
    ours = {"sample_rate": c.sample_rate_hz, "audio_channels": c.audio_channels,
            "latent_channels": c.latent_channels, "hop_frames": c.hop_frames}
    differ = [f"{k} {getattr(teacher, k)} vs {v}" for k, v in ours.items() if getattr(teacher, k) != v]
    if differ:
        raise ValueError(f"teacher_codec {path}: its latents cannot be this codec's ({', '.join(differ)})")
    teacher.net.to(device)  # type: ignore[attr-defined]  # both codec kinds keep their network in .net
    return teacher


def train_codec2(run: StageRun, corpus: Path, resume: bool = True) -> dict:
    cfg: Codec2TrainConfig = run.cfg  # type: ignore[assignment]
    c, device, info = cfg.codec, run.device, run.info
    if cfg.batch_size % info.world_size:
        raise ValueError(f"batch_size {cfg.batch_size} is not divisible by {info.world_size} replicas")
    per_rank = cfg.batch_size // info.world_size
    train = CropSampler(corpus, "train", cfg.crop_latent_frames, cfg.seed, c.hop_frames, cfg.commercial_only)
    try:
        val = CropSampler(corpus, "val", cfg.crop_latent_frames, cfg.seed, c.hop_frames, cfg.commercial_only)
    except ValueError:
        val = train  # tiny corpora may have no validation items
    torch.manual_seed(cfg.seed)
    net = Codec2Net(c).to(device)
    disc = MultiResolutionDiscriminator(c.sample_rate_hz, cfg.disc_channels, cfg.disc_layers).to(device) \
        if cfg.adversarial else None
    pair = Codec2Pair(net, disc)
    betas = (0.8, 0.99)
    opt_g = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay, betas=betas)
    opt_d = None if disc is None else torch.optim.AdamW(disc.parameters(), lr=cfg.disc_lr,
                                                       weight_decay=cfg.weight_decay, betas=betas)
    bf16 = cfg.bf16 and bf16_supported(device)
    teacher_path = Path(cfg.teacher_codec) if cfg.teacher_codec else None
    teacher = load_teacher(teacher_path, c, device) if teacher_path else None
    objective = Codec2Objective(cfg, device, bf16, teacher)
    val_crops = val.fixed_set(cfg.eval_crops)
    n_params = sum(p.numel() for p in net.parameters())
    run.log(f"codec2 training: {len(train.items)} train items ({train.hours:.2f} h), {len(val.items)} val items; "
            f"{n_params / 1e6:.1f} M codec parameters, batch {cfg.batch_size} × {cfg.crop_latent_frames} latent "
            f"frames, bf16 {bf16}, adversarial from step {cfg.adv_start_step}, device {device}"
            + (f"; keeps the latent space of {teacher_path}" if teacher_path else ""))

    def step_fn(step: int) -> dict[str, float]:
        gen = step_generator(cfg.seed, step, info.rank)
        audio = train.batch(step * info.world_size + info.rank, per_rank).to(device)
        noise = torch.randn((per_rank, cfg.crop_latent_frames, c.latent_channels), generator=gen) * cfg.latent_noise
        r = objective.reconstruct(net, audio, noise.to(device))
        terms = objective.terms(r)
        loss = objective.weighted(terms)
        metrics = {k: v.item() for k, v in terms.items()}
        if disc is not None and opt_d is not None and step >= cfg.adv_start_step:
            lr_d = lr_at(step - cfg.adv_start_step, cfg, cfg.disc_lr)
            tail = cfg.disc_crop_latent_frames * c.hop_frames  # the end of each crop: the decoder has context
            real_wave, fake_wave = r.target[:, -tail:], r.pred[:, -tail:]
            loss_d = hinge_d_loss(disc(real_wave), disc(fake_wave.detach()))
            d_grad = optimizer_step(loss_d, disc.parameters(), opt_d, lr_d, cfg.grad_clip, info)
            metrics.update(d_loss=loss_d.item(), d_grad=d_grad)
            disc.requires_grad_(False)
            try:
                with torch.no_grad():
                    real = disc(real_wave)
                fake = disc(fake_wave)
                g_adv, fm = hinge_g_loss(fake), feature_matching(real, fake)
            finally:
                disc.requires_grad_(True)
            loss = loss + cfg.adv_weight * g_adv + cfg.fm_weight * fm
            metrics.update(g_adv=g_adv.item(), fm=fm.item())
        lr = lr_at(step, cfg)
        metrics["grad_norm"] = optimizer_step(loss, net.parameters(), opt_g, lr, cfg.grad_clip, info)
        metrics.update(loss=loss.item(), lr=lr)
        return metrics

    def eval_fn(step: int) -> dict[str, float]:
        return objective.validate(net, val_crops)

    optimizer = opt_g if opt_d is None else OptimizerPair(opt_g, opt_d)
    result = run.loop(pair, optimizer, step_fn, eval_fn, resume, monitor="val_score")
    extra: dict = {"corpus": str(corpus), "codec_parameters": n_params}
    if result.status != "nan":
        run.restore_best(pair)
        if info.is_main:
            space: dict[str, str] = {}
            if teacher_path is None:
                fit_latent_stats(net, train, cfg.stats_crops)
            else:  # identity statistics: the encoder was taught the teacher's standardised latents
                space = {"latent_space": codec_fingerprint(teacher_path), "teacher_codec": str(teacher_path)}
            best = objective.validate(net, val_crops)
            path = save_codec2(run.out_dir / EXPORT_FILE, net.cpu(), extra={
                "trained_steps": str(result.step), "corpus": str(corpus),
                "licences": json.dumps(train.corpus.hours_by_licence("train")), "val": json.dumps(best), **space})
            extra.update(export=str(path), val_at_export=best)
            run.log(f"codec2: {result.status} after {result.step} steps (best val_score {result.best}); "
                    f"exported {path}")
    summary = run.finish(None, None, extra)
    summary["codec"] = Codec2(net.cpu()) if result.status != "nan" else None
    return summary


# --- CLI (dispatched from cli/cmd_train.py) -------------------------------------------------------------
def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--corpus", type=Path, required=True, help="corpus folder from `lmd data build`")
    p.add_argument("--out", type=Path, required=True, help="run folder: checkpoints, metrics.csv, loss.png, "
                                                           "codec.safetensors")
    p.add_argument("--config", type=Path, default=DEFAULT_CONFIG, help="JSON training config")
    p.add_argument("--steps", type=int, default=None, help="override steps")
    p.add_argument("--max-minutes", type=float, default=None, help="stop (and export) after this wall time")
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--device", default=None, help="cpu or cuda (default: cuda if available)")
    p.add_argument("--no-resume", action="store_true", help="start fresh even if the run folder has a checkpoint")
    p.add_argument("--export", type=Path, default=None, help="also copy the exported codec here")


def run(args: argparse.Namespace) -> int:
    try:
        cfg = load_config(args.config, steps=args.steps, max_minutes=args.max_minutes, batch_size=args.batch_size,
                          threads=args.threads)
        stage = StageRun.start("codec2", cfg, args.out, log=lambda m: print(m, flush=True),  # type: ignore[arg-type]
                               device=args.device)
        out = train_codec2(stage, args.corpus, resume=not args.no_resume)
    except ValueError as exc:
        print(f"lmd train codec2: {exc}", file=sys.stderr)
        return 2
    if out["status"] == "nan":
        print("lmd train codec2: stopped on a non-finite loss; the last good checkpoint is kept", file=sys.stderr)
        return 3
    if args.export and out.get("export"):
        args.export.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(out["export"], args.export)
        print(f"copied to {args.export}")
    return 0
