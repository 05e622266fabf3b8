"""`lmd train lmdm --init RUN`: stage 1, the LMDM fine-tune of a stage-0 model (METHOD.md §3).

    lmd train lmdm --init runs/train-base --latents runs/corpus-small/latents-… --out runs/train-lmdm

Every base weight is copied; the only new weights are the context input projection (the routing input,
initialised fresh). Flow matching on the target frames only, with context dropout (20 % all, 30 % the
oldest 1..W-1 chunks), CFG dropout of the prompt and, independently, of the context stream. The attention
mask is exactly the one streaming inference uses (model/masks.py): `--config` picks enc-dec or
block-causal (`pattern`).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from lmd_studio.model.dit import DiT
from lmd_studio.model.dit_config import DiTConfig
from lmd_studio.model.model_io import GeneratorConfig
from lmd_studio.training.flow import CondDropout, lmdm_flow_loss
from lmd_studio.training.long_rollout import latent_rate_hz, long_rollout_config, long_rollout_metrics
from lmd_studio.training.optim import lr_at, optimizer_step
from lmd_studio.training.partner import PartnerPlan
from lmd_studio.training.recipe_common import (
    USER_ERRORS,
    add_common_arguments,
    fail,
    load_config,
    per_rank_batch,
    resolve_latents,
    stage_data,
)
from lmd_studio.training.runner import StageRun, autocast, load_init, step_generator
from lmd_studio.training.stage_config import LmdmConfig


def lmdm_from_base(base: DiT, pattern: str, seed: int) -> DiT:
    """The stage-1 network: base weights everywhere, a freshly initialised context input projection. From a
    stage-1 model of the same pattern (a continuation, e.g. to teach generative delay): all of its weights."""
    if base.cfg.routing:
        if base.cfg.pattern != pattern:
            raise ValueError(f"--init is a stage-1 model trained {base.cfg.pattern}; this config trains {pattern}")
        return base
    torch.manual_seed(seed)
    dit = DiT(base.cfg.for_stage("lmdm", pattern))
    fresh = dit.load_base_weights(base.state_dict())
    assert all(name.startswith("context_in.") for name in fresh)
    return dit


def partner_plan(cfg: LmdmConfig, model: DiTConfig, latents: Path) -> PartnerPlan | None:
    """Jam training's plan for this stage (accompaniment and generative delay), or None when both are off."""
    if cfg.p_partner <= 0.0 and cfg.p_delay <= 0.0:
        return None
    if not model.accomp_channels:
        raise ValueError("p_partner or p_delay > 0 needs a model with accompaniment channels (accomp_channels)")
    rate_hz = json.loads((Path(latents) / "latents.json").read_text(encoding="utf-8"))["latent_rate_hz"]
    lookback = min(model.context_frames, round(cfg.partner_lookback_s * float(rate_hz)))
    return PartnerPlan(cfg.p_partner, model.context_frames, lookback, cfg.p_delay, model.block_frames)


def train_lmdm(run: StageRun, init, latents, resume: bool = True) -> dict:
    cfg: LmdmConfig = run.cfg  # type: ignore[assignment]
    device = run.device
    base, init_gen, init_path = load_init(init)
    dit = lmdm_from_base(base, cfg.pattern, cfg.seed).to(device).train()
    data = stage_data(latents, dit.cfg, cfg, dit.cfg.window_frames, partner_plan(cfg, dit.cfg, latents))
    opt = torch.optim.AdamW(dit.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay, betas=(0.9, 0.99))
    drop = CondDropout(cfg.p_text_drop, cfg.p_control_given, cfg.p_control_hold,
                       p_control_key=cfg.p_control_key, key_from_label=cfg.key_from_label)
    batch_size = per_rank_batch(cfg, run.info)
    run.log(f"lmdm ({cfg.pattern}) from {init_path}: s={dit.cfg.context_frames} o={dit.cfg.block_frames} "
            f"W={dit.cfg.window_chunks}, device {device}")

    def step_fn(step: int) -> dict[str, float]:
        gen = step_generator(cfg.seed, step, run.info.rank)
        with autocast(device, cfg.bf16):
            loss, metrics = lmdm_flow_loss(dit, data.train.batch(step, batch_size, run.info.rank), data.bank, drop,
                                           gen, device, p_full=cfg.p_context_full, p_partial=cfg.p_context_partial,
                                           p_extra_full=cfg.p_context_cfg)
        lr = lr_at(step, cfg)
        metrics["grad_norm"] = optimizer_step(loss, dit.parameters(), opt, lr, cfg.grad_clip, run.info)
        metrics["lr"] = lr
        return metrics

    val = data.val.fixed(cfg.eval_batch)

    def eval_fn(step: int) -> dict[str, float]:
        out = {}
        with torch.no_grad(), autocast(device, cfg.bf16):
            for name, p_full in (("val_loss", 0.0), ("val_loss_no_context", 1.0)):
                loss, _ = lmdm_flow_loss(dit, val, data.bank, CondDropout(0.0, 0.5, 0.5),
                                         torch.Generator().manual_seed(12345), device, p_full=p_full, p_partial=0.0)
                out[name] = loss.item()
        if long_cfg is not None and (not cfg.long_rollout_every or step % cfg.long_rollout_every == 0
                                     or step >= cfg.steps):
            out.update(long_rollout_metrics(dit, val, data.bank, long_cfg, latent_rate_hz(data), device))
        return out

    long_cfg = long_rollout_config(cfg)
    monitor = "long_fd_score" if long_cfg and cfg.checkpoint_monitor == "long_fd_score" else "val_loss"
    run.loop(dit, opt, step_fn, eval_fn, resume, monitor=monitor)
    run.restore_best(dit)
    # a continuation keeps what its init learned (its jam or delay training is still in the weights)
    jam_trained = cfg.p_partner > 0 or (base.cfg.routing and init_gen.jam_trained)
    delay_trained = cfg.p_delay > 0 or (base.cfg.routing and init_gen.delay_trained)
    return run.finish(dit, GeneratorConfig(mode=cfg.pattern, sampler="euler", default_steps=8,
                                           jam_trained=jam_trained, delay_trained=delay_trained),
                      {"init": str(init_path), "latents": str(latents), "pattern": cfg.pattern,
                       "jam_trained": jam_trained, "delay_trained": delay_trained})


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_common_arguments(p, "lmdm")
    p.add_argument("--init", required=True, help="the stage-0 run folder (or its model.safetensors)")


def run(args: argparse.Namespace) -> int:
    try:
        cfg = load_config(LmdmConfig, args)
        stage = StageRun.start("lmdm", cfg, args.out, log=lambda m: print(m, flush=True), device=args.device)
        summary = train_lmdm(stage, args.init, resolve_latents(args, stage.info, stage.log),
                             resume=not args.no_resume)
    except USER_ERRORS as exc:
        return fail("lmdm", exc)
    if summary["status"] == "nan":
        print("lmd train lmdm: stopped on a non-finite loss; the last good checkpoint is kept")
        return 3
    return 0
