"""`lmd train arc --init RUN`: stage 2, ARC-Forcing post-training of a stage-1 model (METHOD.md §3).

    lmd train arc --init runs/train-lmdm --base runs/train-base --latents … --out runs/train-arc

Phases by step: (1) `disc_warmup_steps` of flow loss on long windows (s + B·o frames) for the
discriminator's backbone; (2) `head_warmup_steps` of discriminator-only adversarial steps; (3) alternating
updates: every step rolls out B blocks with the generator, updates D on the detached rollout, then G
through the rollout's last steps (every `g_every`-th step). AdamW for both, gradient clipping at
`grad_clip`. The exported model is meant to be run with ping-pong sampling at 2–4 steps and no CFG
(`sampler`, `default_steps`).

Checkpoint choice: evaluations before the generator's first update measure the stage-1 weights; they are
logged as `val_latent_fd_init` (the baseline to beat) and never count as "best", so the export is always a
post-trained generator (the EMA when `ema_decay` > 0).
"""

from __future__ import annotations

import argparse
import copy
import json
from pathlib import Path

import numpy as np
import torch

from lmd_studio.model.model_io import GeneratorConfig
from lmd_studio.model.samplers import sample_train_times
from lmd_studio.training.arc import (
    DOWNSAMPLE,
    ArcPair,
    Discriminator,
    OptimizerPair,
    d_loss,
    ema_update,
    g_loss,
    moment_loss,
    perturbation_penalty,
    rollout,
    scores_on_rollout,
)
from lmd_studio.training.batches import WindowBatch, WindowSampler
from lmd_studio.training.flow import (
    CondDropout,
    base_flow_loss,
    batch_conditions,
    context_dropout,
    lmdm_flow_loss,
)
from lmd_studio.training.frechet import frechet_distance
from lmd_studio.training.latents import LatentSet
from lmd_studio.training.long_rollout import latent_rate_hz, long_rollout_config, long_rollout_metrics
from lmd_studio.training.optim import lr_at, optimizer_step
from lmd_studio.training.recipe_common import (
    USER_ERRORS,
    StageData,
    add_common_arguments,
    fail,
    load_config,
    per_rank_batch,
    resolve_latents,
    stage_data,
)
from lmd_studio.training.runner import StageRun, autocast, load_init, step_generator
from lmd_studio.training.stage_config import ArcConfig


def _base_path(init: Path, base: str | None) -> Path:
    if base:
        return Path(base)
    summary = Path(init) / "summary.json" if Path(init).is_dir() else None
    if summary and summary.is_file():
        return Path(json.loads(summary.read_text(encoding="utf-8"))["init"])
    raise ValueError("pass --base (the stage-0 model the discriminator starts from)")


def full_windows_only(data: StageData, frames: int, seed: int) -> StageData:
    """The same data without items shorter than one ARC clip. Such items are padded with the codec's
    silence latent, so the "real" continuation is digital silence while the generator saw music: D learns
    that silence looks real. (A split left empty keeps its items: better padded data than none.)"""
    def keep(split: LatentSet) -> LatentSet:
        long = [it for it in split.items if len(it.latents) >= frames]
        return LatentSet(split.root, split.split, long or split.items, split.meta)

    return StageData(WindowSampler(keep(data.train.data), data.bank, frames, seed),
                     WindowSampler(keep(data.val.data), data.bank, frames, seed + 1), data.bank, data.latents)


def eval_metrics(fds: dict[str, float], step: int, g_start: int) -> dict[str, float]:
    """`step` steps done; the generator's first update is step index `g_start`. Before it, the FDs are those
    of the initial (stage-1) weights: a baseline (`*_init`), not a candidate for the exported checkpoint."""
    return fds if step > g_start else {f"{name}_init": value for name, value in fds.items()}


def train_arc(run: StageRun, init, base, latents, resume: bool = True) -> dict:
    cfg: ArcConfig = run.cfg  # type: ignore[assignment]
    device = run.device
    gen_dit, init_gen, init_path = load_init(init, device)
    base_dit, _, base_path = load_init(_base_path(Path(init), base), device)
    mc = gen_dit.cfg
    if not mc.routing:
        raise ValueError(f"{init_path}: --init must be a stage-1 (LMDM) model")
    s, o, nb = mc.context_frames, mc.block_frames, cfg.rollout_blocks
    frames = s + nb * o
    if s % DOWNSAMPLE or o % DOWNSAMPLE:
        raise ValueError(f"context ({s}) and block ({o}) frames must be multiples of {DOWNSAMPLE} for the "
                         "discriminator head")
    torch.manual_seed(cfg.seed)
    disc = Discriminator(base_dit, cfg.disc_fraction, cfg.disc_head_width, cfg.disc_head_blocks).to(device)
    ema = copy.deepcopy(gen_dit) if cfg.ema_decay > 0 else None
    pair = ArcPair(gen_dit, disc, ema)
    data = stage_data(latents, mc, cfg, frames)
    if cfg.full_windows_only:
        data = full_windows_only(data, frames, cfg.seed)
    opt_g = torch.optim.AdamW(gen_dit.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay, betas=(0.0, 0.99))
    opt_d = torch.optim.AdamW(disc.parameters(), lr=cfg.disc_lr, weight_decay=cfg.weight_decay, betas=(0.0, 0.99))
    opts = OptimizerPair(opt_g, opt_d)
    batch_size = per_rank_batch(cfg, run.info)
    # rollouts always keep their prompt
    drop = CondDropout(0.0, cfg.p_control_given, cfg.p_control_hold, p_control_key=cfg.p_control_key,
                       key_from_label=cfg.key_from_label)
    # the flow terms (D warm-up, G regulariser) keep CFG dropout so the unconditional branch stays trained
    flow_drop = CondDropout(cfg.p_text_drop, cfg.p_control_given, cfg.p_control_hold,
                            p_control_key=cfg.p_control_key, key_from_label=cfg.key_from_label)
    g_start = cfg.disc_warmup_steps + cfg.head_warmup_steps
    run.log(f"arc: {nb} blocks × {o} frames after {s}, k in 1..{cfg.max_steps_per_block - 1}, discriminator "
            f"{disc.trunk_layers}/{base_dit.cfg.n_layers} layers; warm-up {cfg.disc_warmup_steps} + "
            f"{cfg.head_warmup_steps} steps, G every {cfg.g_every}, EMA {cfg.ema_decay}, D penalty "
            f"{cfg.disc_penalty_weight}, moments {cfg.moment_weight}, device {device}")

    def step_fn(step: int) -> dict[str, float]:
        gen = step_generator(cfg.seed, step, run.info.rank)
        batch = data.train.batch(step, batch_size, run.info.rank)
        lr_d = lr_at(step, cfg, cfg.disc_lr)
        if step < cfg.disc_warmup_steps:  # phase 1: the backbone learns long windows with the flow loss
            with autocast(device, cfg.bf16):
                loss, m = base_flow_loss(disc.backbone, batch, data.bank, flow_drop, gen, device)
            return {"loss": m["loss"], "d_flow": m["loss"],
                    "d_grad": optimizer_step(loss, disc.parameters(), opt_d, lr_d, cfg.grad_clip, run.info)}
        real = batch.latents.to(device)
        b = real.shape[0]
        with autocast(device, cfg.bf16):
            text, cond = batch_conditions(gen_dit, batch, data.bank, drop, gen, device)
            hidden = context_dropout(b, mc, cfg.p_context_full, cfg.p_context_partial, 0.0, gen)
            steps = [int(k) for k in torch.randint(1, cfg.max_steps_per_block, (nb,), generator=gen)]
            train_g = step >= g_start and (step - g_start) % cfg.g_every == 0
            hidden = hidden.to(device)
            fake_blocks = rollout(gen_dit, real[:, :s], ~hidden, cond, text, steps, gen, grad=train_g)
            fake = torch.cat([real[:, :s], fake_blocks], dim=1)  # [B, s + n·o, C]
            t = sample_train_times(b, gen, logsnr_min=cfg.disc_logsnr_min, logsnr_max=cfg.disc_logsnr_max).to(device)
            eps = torch.randn(real.shape, generator=gen).to(device)  # the same (t, ε) for real and fake
            d_text = disc.backbone.encode_text(data.bank.condition(batch.text_ids))
            wrong_ids = torch.roll(batch.text_ids, 1)
            d_wrong = disc.backbone.encode_text(data.bank.condition(wrong_ids))
            # D sees the context the generator saw: hidden frames are dropped for real, fake and wrong prompt
            sr = scores_on_rollout(disc, real, t, eps, d_text, cond, s, hidden)
            sf = scores_on_rollout(disc, fake.detach(), t, eps, d_text, cond, s, hidden)
            sw = scores_on_rollout(disc, real, t, eps, d_wrong, cond, s, hidden) if cfg.contrastive_weight else None
            loss_d, metrics = d_loss(sr.float(), sf.float(), None if sw is None else sw.float(), cfg.contrastive_weight)
            if cfg.disc_penalty_weight > 0:
                pen = sum(perturbation_penalty(disc, seq, t, eps, d_text, cond, s, hidden, sc, cfg.disc_penalty_sigma,
                                               gen) for seq, sc in ((real, sr), (fake.detach(), sf))) / 2
                metrics["d_penalty"] = pen.item()
                loss_d = loss_d + cfg.disc_penalty_weight * pen
        metrics["d_grad"] = optimizer_step(loss_d, disc.parameters(), opt_d, lr_d, cfg.grad_clip, run.info)
        metrics["loss"] = loss_d.item()
        metrics["mean_steps"] = float(np.mean(steps))
        if not train_g:
            return metrics
        # phase 3: the generator, through its rollout's last steps, against the freshly updated D
        for p in disc.parameters():
            p.requires_grad_(False)
        try:
            with autocast(device, cfg.bf16):
                d_text = disc.backbone.encode_text(data.bank.condition(batch.text_ids))
                with torch.no_grad():
                    sr = scores_on_rollout(disc, real, t, eps, d_text, cond, s, hidden)
                sf = scores_on_rollout(disc, fake, t, eps, d_text, cond, s, hidden)
                loss_g = g_loss(sr.float(), sf.float())
                terms = [loss_g]  # weighted loss terms of the generator step
                if cfg.moment_weight > 0:
                    mom = moment_loss(fake_blocks, real[:, s:])
                    metrics["g_moments"] = mom.item()
                    terms.append(cfg.moment_weight * mom)
                if cfg.flow_weight > 0:  # keep the flow objective alive on the first window of the clip
                    window = batch.frames(s + o)
                    flow, _ = lmdm_flow_loss(gen_dit, window, data.bank, flow_drop, gen, device,
                                             p_full=cfg.p_context_full, p_partial=cfg.p_context_partial)
                    metrics["g_flow"] = flow.item()
                    terms.append(cfg.flow_weight * flow)
            metrics["g_grad"] = optimizer_step(sum(terms), gen_dit.parameters(), opt_g, lr_at(step - g_start, cfg),
                                               cfg.grad_clip, run.info)
        finally:
            for p in disc.parameters():
                p.requires_grad_(True)
        metrics["g_adv"] = loss_g.item()
        if ema is not None:
            ema_update(ema, gen_dit, cfg.ema_decay)
        metrics["loss"] = loss_g.item()
        return metrics

    val = data.val.fixed(cfg.eval_batch)
    baseline: dict[str, float] = {}

    def eval_fn(step: int) -> dict[str, float]:
        # primed with real context (the monitor) and from an empty context (how the studio starts a stream)
        fds = {"val_latent_fd": rollout_fd(pair.shipped, val, data.bank, cfg, device, steps=cfg.default_steps),
               "val_latent_fd_scratch": rollout_fd(pair.shipped, val, data.bank, cfg, device,
                                                   steps=cfg.default_steps, from_scratch=True)}
        metrics = eval_metrics(fds, step, g_start)
        baseline.update({k: v for k, v in metrics.items() if k.endswith("_init")})
        if long_cfg is not None:
            metrics.update(long_rollout_metrics(pair.shipped, val, data.bank, long_cfg, latent_rate_hz(data), device))
        return metrics

    long_cfg = long_rollout_config(cfg, steps=cfg.default_steps)
    run.loop(pair, opts, step_fn, eval_fn, resume, monitor="long_fd_score" if long_cfg else "val_latent_fd")
    run.restore_best(pair)
    # the summary keeps the stage-1 baseline next to best_val, so "did ARC help?" is answered in one file
    return run.finish(pair.shipped, GeneratorConfig(mode=mc.pattern, sampler=cfg.sampler,
                                                    default_steps=cfg.default_steps,
                                                    jam_trained=init_gen.jam_trained,
                                                    delay_trained=init_gen.delay_trained),
                      {"init": str(init_path), "base": str(base_path), "latents": str(latents), **baseline})


@torch.no_grad()
def rollout_fd(dit, val: WindowBatch, bank, cfg: ArcConfig, device, steps: int, from_scratch: bool = False
               ) -> float:
    """Fréchet distance between real and rolled-out latent frames (a cheap in-training quality monitor);
    `from_scratch` hides the real context, as when the studio starts a stream."""
    gen = torch.Generator().manual_seed(4321)
    mc = dit.cfg
    s = mc.context_frames
    real = val.latents.to(device)
    text, cond = batch_conditions(dit, val, bank, CondDropout(0.0, 0.0, 0.0), gen, device)
    visible = torch.full((real.shape[0], s), not from_scratch, dtype=torch.bool, device=device)
    n = (real.shape[1] - s) // mc.block_frames
    fake = rollout(dit, real[:, :s], visible, cond, text, [steps] * n, gen, grad=False)
    c = real.shape[2]
    return frechet_distance(real[:, s:].reshape(-1, c).cpu().numpy(), fake.reshape(-1, c).cpu().numpy())


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_common_arguments(p, "arc")
    p.add_argument("--init", required=True, help="the stage-1 run folder (or its model.safetensors)")
    p.add_argument("--base", default=None, help="the stage-0 model for the discriminator (default: the one "
                                                "the stage-1 run started from)")


def run(args: argparse.Namespace) -> int:
    try:
        cfg = load_config(ArcConfig, args)
        stage = StageRun.start("arc", cfg, args.out, log=lambda m: print(m, flush=True), device=args.device)
        summary = train_arc(stage, args.init, args.base, resolve_latents(args, stage.info, stage.log),
                            resume=not args.no_resume)
    except USER_ERRORS as exc:
        return fail("arc", exc)
    if summary["status"] == "nan":
        print("lmd train arc: stopped on a non-finite loss; the last good checkpoint is kept")
        return 3
    return 0
