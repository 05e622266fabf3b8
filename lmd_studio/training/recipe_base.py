"""`lmd train base`: stage 0, the bidirectional text-conditioned rectified-flow DiT on full `s + o` windows.

    lmd train base --corpus runs/corpus-small --codec models/default/codec.safetensors --out runs/train-base

It stands in for the open pretrained model the paper starts from, and is the discriminator's backbone in
stage 2. Output: `<out>/model.safetensors` (+ metrics, loss plot, summary.json).
"""

from __future__ import annotations

import argparse

import torch

from lmd_studio.model.dit import DiT
from lmd_studio.model.model_io import GeneratorConfig
from lmd_studio.training.flow import CondDropout, base_flow_loss
from lmd_studio.training.optim import lr_at, optimizer_step
from lmd_studio.training.recipe_common import (
    USER_ERRORS,
    add_common_arguments,
    fail,
    load_config,
    per_rank_batch,
    resolve_latents,
    stage_data,
)
from lmd_studio.training.runner import StageRun, autocast, step_generator
from lmd_studio.training.stage_config import BaseConfig


def train_base(run: StageRun, latents, resume: bool = True) -> dict:
    cfg: BaseConfig = run.cfg  # type: ignore[assignment]
    device = run.device
    data = stage_data(latents, cfg.model, cfg, cfg.model.window_frames)
    torch.manual_seed(cfg.seed)  # the same initial weights on every replica and every fresh start
    dit = DiT(cfg.model).to(device).train()
    opt = torch.optim.AdamW(dit.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay, betas=(0.9, 0.99))
    drop = CondDropout(cfg.p_text_drop, cfg.p_control_given, cfg.p_control_hold,
                       p_control_key=cfg.p_control_key, key_from_label=cfg.key_from_label)
    batch_size = per_rank_batch(cfg, run.info)
    run.log(f"base: {sum(p.numel() for p in dit.parameters()) / 1e6:.2f} M parameters, "
            f"{data.train.data.frames} train frames, {len(data.bank.texts)} prompts, device {device}")

    def step_fn(step: int) -> dict[str, float]:
        gen = step_generator(cfg.seed, step, run.info.rank)
        with autocast(device, cfg.bf16):
            loss, metrics = base_flow_loss(dit, data.train.batch(step, batch_size, run.info.rank), data.bank,
                                           drop, gen, device)
        lr = lr_at(step, cfg)
        metrics["grad_norm"] = optimizer_step(loss, dit.parameters(), opt, lr, cfg.grad_clip, run.info)
        metrics["lr"] = lr
        return metrics

    val = data.val.fixed(cfg.eval_batch)

    def eval_fn(step: int) -> dict[str, float]:
        with torch.no_grad(), autocast(device, cfg.bf16):
            loss, _ = base_flow_loss(dit, val, data.bank, CondDropout(0.0, 0.5, 0.5),
                                     torch.Generator().manual_seed(12345), device)
        return {"val_loss": loss.item()}

    run.loop(dit, opt, step_fn, eval_fn, resume)
    run.restore_best(dit)
    return run.finish(dit, GeneratorConfig(mode="naive", sampler="euler", default_steps=16),
                      {"latents": str(latents), "parameters": sum(p.numel() for p in dit.parameters())})


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_common_arguments(p, "base")


def run(args: argparse.Namespace) -> int:
    try:
        cfg = load_config(BaseConfig, args)
        stage = StageRun.start("base", cfg, args.out, log=lambda m: print(m, flush=True), device=args.device)
        summary = train_base(stage, resolve_latents(args, stage.info, stage.log), resume=not args.no_resume)
    except USER_ERRORS as exc:
        return fail("base", exc)
    if summary["status"] == "nan":
        print("lmd train base: stopped on a non-finite loss; the last good checkpoint is kept")
        return 3
    return 0
