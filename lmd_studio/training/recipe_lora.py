"""`lmd train lora --audio DIR --name NAME [--prompt TEXT]`: a personal LoRA adapter from your own loops.

    lmd train lora --audio ~/loops --name my-loops --model models/default --max-minutes 10

Trains rank-r LoRA deltas on the attention/MLP projections of a shipped model with its own objective (the
LMDM flow loss on target frames, context dropout as in stage 1), everything else frozen. Writes
`<adapters dir>/<NAME>.safetensors` (platformdirs' user data dir, or $LMD_STUDIO_HOME/data/adapters),
which the studio mixes in with a strength knob. A fifth of the files is held out; at the end the held-out
flow loss and a latent Fréchet distance of short rollouts are reported with and without the adapter. With
fewer than 3 usable files none is held out: the same figures are then measured on the training files,
and named and printed as such (`train_*`), since they say how well it fits, not how well it generalises.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from pathlib import Path

import numpy as np
import torch

from lmd_studio.model.lora import LoraSpec, attach_lora, save_adapter
from lmd_studio.model.model_io import load_model_folder
from lmd_studio.training.batches import WindowSampler
from lmd_studio.training.flow import CondDropout, lmdm_flow_loss
from lmd_studio.training.latents import LatentSet
from lmd_studio.training.lora_data import load_folder, split_holdout
from lmd_studio.training.optim import lr_at, optimizer_step
from lmd_studio.training.recipe_arc import rollout_fd
from lmd_studio.training.recipe_common import USER_ERRORS, per_rank_batch
from lmd_studio.training.runner import StageRun, autocast, step_generator
from lmd_studio.training.stage_config import CONFIG_DIR, LoraConfig, load_stage_config
from lmd_studio.training.text_bank import TextBank, make_text_encoder

APP_NAME = "lmd-studio"


def user_adapters_dir() -> Path:
    """Where the studio looks for adapters (the same rule as settings/paths.py, which training cannot import)."""
    home = os.environ.get("LMD_STUDIO_HOME", "").strip()
    if home:
        return Path(home) / "data" / "adapters"
    import platformdirs

    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False)) / "adapters"


def safe_name(name: str) -> str:
    clean = re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-.")
    if not clean:
        raise ValueError(f"--name {name!r} has no usable characters")
    return clean


def train_lora(run: StageRun, model_dir: Path, audio_dir: Path, name: str, prompt: str | None, adapters_dir: Path,
               resume: bool = True) -> dict:
    cfg: LoraConfig = run.cfg  # type: ignore[assignment]
    device = run.device
    dit, _, codec = load_model_folder(model_dir, device=device)
    dit.train()
    mc = dit.cfg
    if not mc.routing:
        raise ValueError(f"{model_dir}: LoRA trains stage-1/2 (LMDM) models; this one is a stage-0 model")
    items, report = load_folder(audio_dir, codec, window_frames=mc.window_frames, prompt=prompt,
                                min_seconds=cfg.min_seconds, silence_db=cfg.silence_db)
    for line in report.lines():
        run.log(f"lora: {line}")
    if not items:
        raise ValueError(f"{audio_dir}: no usable audio (see the skipped files above)")
    train_items, held = split_holdout(items, cfg.holdout_fraction)
    with torch.inference_mode():
        silence = codec.encode(torch.zeros(1, codec.audio_channels, 8 * codec.hop_frames))[0].mean(0)
    meta = {"latent_channels": mc.latent_channels, "silence_latent": silence.tolist(), "latent_rate_hz": 0}
    encoder = make_text_encoder(cfg.text_encoder, mc.text_dim, mc.max_text_tokens)
    bank = TextBank.build([it.description for it in items], encoder, mc.max_text_tokens)
    train = WindowSampler(LatentSet(audio_dir, "user", train_items, meta), bank, mc.window_frames, cfg.seed)
    val = WindowSampler(LatentSet(audio_dir, "held", held or train_items, meta), bank, mc.window_frames, cfg.seed + 1)
    spec = LoraSpec(cfg.rank, cfg.alpha)
    deltas = attach_lora(dit, spec, cfg.seed)
    opt = torch.optim.AdamW(deltas.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    drop = CondDropout(cfg.p_text_drop, cfg.p_control_given, cfg.p_control_hold,
                       p_control_key=cfg.p_control_key, key_from_label=cfg.key_from_label)
    batch_size = per_rank_batch(cfg, run.info)
    n_params = sum(p.numel() for p in deltas.parameters())
    run.log(f"lora: rank {cfg.rank}, {n_params / 1e3:.0f} k trainable parameters, {len(train_items)} train / "
            f"{len(held)} held-out files")
    if not held:
        run.log(f"lora: no held-out files (all {len(train_items)} used for training); the metrics at the end "
                f"are on training files")

    def flow(batch, gen, p_full=cfg.p_context_full, p_partial=cfg.p_context_partial, d=drop):
        return lmdm_flow_loss(dit, batch, bank, d, gen, device, p_full=p_full, p_partial=p_partial)

    def step_fn(step: int) -> dict[str, float]:
        with autocast(device, cfg.bf16):
            batch = train.batch(step, batch_size, run.info.rank)
            loss, metrics = flow(batch, step_generator(cfg.seed, step, run.info.rank))
        metrics["grad_norm"] = optimizer_step(loss, deltas.parameters(), opt, lr_at(step, cfg), cfg.grad_clip,
                                              run.info)
        return metrics

    val_batch = val.fixed(cfg.eval_batch)

    def eval_fn(step: int) -> dict[str, float]:
        with torch.no_grad(), autocast(device, cfg.bf16):
            loss, _ = flow(val_batch, torch.Generator().manual_seed(7), 0.0, 0.0, CondDropout(0.0, 0.5, 0.5))
        return {"val_loss": loss.item()}

    before = _measure(dit, deltas, val_batch, bank, cfg, device, eval_fn, strength=0.0)
    run.loop(deltas, opt, step_fn, eval_fn, resume)
    run.restore_best(deltas)
    after = _measure(dit, deltas, val_batch, bank, cfg, device, eval_fn, strength=1.0)
    path = save_adapter(adapters_dir / f"{name}.safetensors", deltas, spec, mc,
                        extra={"name": name, "model": str(model_dir), "steps": str(run.result.step),
                               "prompt": prompt or "", "seconds_of_audio": f"{report.seconds:.1f}"})
    measured = _name_metrics(before, after, len(held))
    where = "held-out" if held else "on training files (none held out):"
    run.log(f"lora: {where} " + ", ".join(f"{k} {v:.4f}" for k, v in measured.items()) + f" → {path}")
    if run.info.is_main:
        (run.out_dir / "report.json").write_text(json.dumps(
            {"used": report.used, "skipped": report.skipped, "adapter": str(path), **measured}, indent=2) + "\n",
            encoding="utf-8")
    run.finish(None, None, {"adapter": str(path), "audio": str(audio_dir), **measured})
    return {"status": run.result.status, "adapter": path, "report": report, **measured}


def _name_metrics(before: dict[str, float], after: dict[str, float], heldout_files: int) -> dict[str, float]:
    """The report's figures; `heldout_*` only when files were held out, else `train_*` (measured on the
    files it trained on)."""
    on = "heldout" if heldout_files else "train"
    return {f"{on}_val_loss_base": before["val_loss"], f"{on}_val_loss_adapter": after["val_loss"],
            f"{on}_latent_fd_base": before["fd"], f"{on}_latent_fd_adapter": after["fd"],
            "heldout_files": heldout_files}


def _measure(dit, deltas, val_batch, bank, cfg, device, eval_fn, strength: float) -> dict[str, float]:
    """Flow loss and latent FD of 2-block rollouts on `val_batch` (held-out files, or the training files
    when none is held out), with the deltas scaled by `strength`."""
    scales = {k: d.scale for k, d in deltas.items()}
    for k, d in deltas.items():
        d.scale = scales[k] * strength
    try:
        dit.eval()
        out = {"val_loss": eval_fn(0)["val_loss"]}
        s, o = dit.cfg.context_frames, dit.cfg.block_frames
        frames = val_batch.latents.shape[1]
        n = max(1, (frames - s) // o)
        sub = type(val_batch)(val_batch.latents[:, : s + n * o], val_batch.controls[:, : s + n * o],
                              val_batch.text_ids)
        out["fd"] = rollout_fd(dit, sub, bank, cfg, device, steps=4) if sub.latents.shape[0] * n * o > 2 else np.nan
        return out
    finally:
        for k, d in deltas.items():
            d.scale = scales[k]
        dit.train()


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--audio", type=Path, required=True, help="folder of your loops (WAV/FLAC/MP3/OGG, any rate)")
    p.add_argument("--name", required=True, help="adapter name (the file is <NAME>.safetensors)")
    p.add_argument("--prompt", default=None, help="one description for every file (default: from file names)")
    p.add_argument("--model", type=Path, default=Path("models/default"), help="model folder to adapt")
    p.add_argument("--adapters-dir", type=Path, default=None, help="where to write the adapter (default: the "
                                                                   "studio's user adapters folder)")
    p.add_argument("--out", type=Path, default=None, help="run folder (default: <adapters dir>/runs/<NAME>)")
    p.add_argument("--config", type=Path, default=CONFIG_DIR / "lora.json")
    p.add_argument("--steps", type=int, default=None)
    p.add_argument("--max-minutes", type=float, default=None)
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--device", default=None)
    p.add_argument("--no-resume", action="store_true")


def run(args: argparse.Namespace) -> int:
    try:
        name = safe_name(args.name)
        cfg = load_stage_config(LoraConfig, args.config, steps=args.steps, max_minutes=args.max_minutes,
                                batch_size=args.batch_size, threads=args.threads)
        adapters = args.adapters_dir or user_adapters_dir()
        out = args.out or adapters / "runs" / name
        stage = StageRun.start("lora", cfg, out, log=lambda m: print(m, flush=True), device=args.device)
        result = train_lora(stage, args.model, args.audio, name, args.prompt, adapters, resume=not args.no_resume)
    except USER_ERRORS as exc:
        print(f"lmd train lora: {exc}", file=sys.stderr)
        return 2
    if result["status"] == "nan":
        print("lmd train lora: stopped on a non-finite loss; the last good checkpoint is kept", file=sys.stderr)
        return 3
    print(f"adapter written to {result['adapter']}")
    return 0
