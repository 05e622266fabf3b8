"""The shared training loop: checkpoint/resume, CSV metrics + loss plot, NaN stop, time limit, early stop.

A recipe supplies the model, the optimizer and two callbacks:
- `step_fn(step) -> metrics` does one optimisation step (its data must depend only on `step` and the seed,
  so a resumed run sees the same batches and reproduces the same losses);
- `eval_fn(step) -> metrics` (optional) scores the model; `LoopConfig.monitor` names the metric that decides
  "best" and early stopping.
Private checkpoints are plain torch files (tensors + numbers only) loaded with `weights_only=True`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from lmd_studio.training.logging import MetricsLogger, plot_metrics


@dataclass(frozen=True, slots=True)
class LoopConfig:
    max_steps: int
    eval_every: int = 200
    checkpoint_every: int = 200
    log_every: int = 10
    max_minutes: float | None = None
    patience_evals: int | None = None  # stop after this many evals without improving `monitor`
    monitor: str = "val_loss"
    min_delta: float = 0.0

    def __post_init__(self) -> None:
        if self.max_steps < 1:
            raise ValueError(f"max_steps must be >= 1, got {self.max_steps}")
        if min(self.eval_every, self.checkpoint_every, self.log_every) < 1:
            raise ValueError("eval_every, checkpoint_every and log_every must be >= 1")
        if self.max_minutes is not None and self.max_minutes <= 0:
            raise ValueError("max_minutes must be positive")
        if self.patience_evals is not None and self.patience_evals < 1:
            raise ValueError("patience_evals must be >= 1")


@dataclass(slots=True)
class LoopResult:
    status: str  # "done", "time_limit", "early_stop", "nan"
    step: int  # steps completed
    best: float | None
    last_checkpoint: Path | None
    best_checkpoint: Path | None


def _rng_state() -> dict:
    # recipes draw their data from generators seeded by (seed, step); only torch's global RNG (dropout,
    # noise drawn without a generator) needs carrying across a resume
    return {"torch": torch.get_rng_state()}


def save_training_checkpoint(path: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer, step: int,
                             best: float | None, bad_evals: int, extra: dict | None = None) -> Path:
    payload = {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "step": step,
               "best": math.nan if best is None else float(best), "bad_evals": bad_evals, "rng": _rng_state(),
               "extra": extra or {}}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(payload, tmp)
    tmp.replace(path)
    return path


def load_training_checkpoint(path: Path) -> dict:
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ValueError(f"{path}: cannot load training checkpoint ({type(exc).__name__}: {exc})") from None


def train_loop(cfg: LoopConfig, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
               step_fn: Callable[[int], dict[str, float]], out_dir: Path,
               eval_fn: Callable[[int], dict[str, float]] | None = None, resume: bool = True,
               log: Callable[[str], None] = print, extra: Callable[[], dict] | None = None,
               is_main: bool = True, agree: Callable[[bool], bool] | None = None) -> LoopResult:
    """`is_main=False` (data-parallel replicas other than rank 0) writes no files; `agree(flag)` turns a
    local stop decision (the time limit) into one every replica shares."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    last_path, best_path = out_dir / "last.pt", out_dir / "best.pt"
    start, best, bad_evals = 0, None, 0
    if resume and last_path.exists():
        ck = load_training_checkpoint(last_path)
        model.load_state_dict(ck["model"])
        optimizer.load_state_dict(ck["optimizer"])
        torch.set_rng_state(ck["rng"]["torch"])
        start, bad_evals = int(ck["step"]), int(ck["bad_evals"])
        best = None if math.isnan(ck["best"]) else float(ck["best"])
        log(f"resumed from {last_path} at step {start}")
    metrics_log = MetricsLogger(out_dir / "metrics.csv", resume_step=start) if is_main else None
    t0 = time.monotonic()
    status, step = "done", start
    saved_last: Path | None = last_path if last_path.exists() else None

    def checkpoint() -> None:
        nonlocal saved_last
        if not is_main:
            return
        saved_last = save_training_checkpoint(last_path, model, optimizer, step, best, bad_evals,
                                              extra() if extra else None)

    while step < cfg.max_steps:
        model.train()
        metrics = step_fn(step)
        if not all(math.isfinite(v) for v in metrics.values()):
            status = "nan"
            log(f"step {step}: non-finite metrics {metrics}; stopped, last good checkpoint kept ({saved_last})")
            break
        step += 1
        elapsed = time.monotonic() - t0
        if step % cfg.log_every == 0 or step == cfg.max_steps:
            if metrics_log is not None:
                metrics_log.log(step, {**metrics, "elapsed_s": elapsed})
            rate = (step - start) / max(elapsed, 1e-9)
            eta = (cfg.max_steps - step) / max(rate, 1e-9)
            log(f"step {step}/{cfg.max_steps} loss {metrics.get('loss', math.nan):.4f} "
                f"{rate:.2f} it/s, ETA {eta / 60:.1f} min")
        if eval_fn is not None and (step % cfg.eval_every == 0 or step == cfg.max_steps):
            model.eval()
            ev = eval_fn(step)
            if metrics_log is not None:
                metrics_log.log(step, ev)
            value = ev.get(cfg.monitor)
            if value is not None and (best is None or value < best - cfg.min_delta):
                best, bad_evals = value, 0
                checkpoint()
                if is_main:
                    save_training_checkpoint(best_path, model, optimizer, step, best, bad_evals,
                                             extra() if extra else None)
            elif value is not None:
                bad_evals += 1
            log(f"eval @ {step}: " + ", ".join(f"{k} {v:.4f}" for k, v in ev.items()) + f" (best {best})")
            if cfg.patience_evals is not None and bad_evals >= cfg.patience_evals:
                status = "early_stop"
                checkpoint()
                break
        if step % cfg.checkpoint_every == 0:
            checkpoint()
        over = cfg.max_minutes is not None and elapsed > cfg.max_minutes * 60
        if agree is not None:
            over = agree(over)
        if over:
            status = "time_limit"
            checkpoint()
            break
    if status == "done":
        checkpoint()
    if metrics_log is not None and metrics_log.rows:
        plot_metrics(out_dir / "metrics.csv", out_dir / "loss.png", title=out_dir.name)
    return LoopResult(status, step, best, saved_last, best_path if best_path.exists() else None)
