"""What every diffusion recipe does around its step function: threads, device, bf16 autocast, per-step random
generators, the shared loop under data parallelism, the run summary and the stage's safetensors export (the
learning-rate schedule and the optimizer step are in optim.py).

A run folder holds `last.pt`/`best.pt` (private, weights_only), `metrics.csv`, `loss.png`, `config.json`,
`summary.json` (steps, wall clock, hardware, losses: what `lmd model export` writes into the model card)
and `model.safetensors` (the stage's network through model_io, the input of the next stage).
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from lmd_studio.model.checkpoint import CheckpointError
from lmd_studio.model.cpu_features import CpuProbe, probe_cpu_features
from lmd_studio.model.dit import DiT
from lmd_studio.model.model_io import DIT_FILE, GeneratorConfig, load_dit, save_dit
from lmd_studio.training import ddp
from lmd_studio.training.loop import LoopConfig, LoopResult, load_training_checkpoint, train_loop
from lmd_studio.training.stage_config import TrainConfig

STAGE_FILE = "model.safetensors"


def bf16_supported(device: torch.device, probe: CpuProbe = probe_cpu_features) -> bool:
    if device.type == "cuda":
        return bool(torch.cuda.is_bf16_supported())
    return probe().bf16_matmul


@contextlib.contextmanager
def autocast(device: torch.device, enabled: bool, probe: CpuProbe = probe_cpu_features) -> Iterator[None]:
    """bf16 autocast where the CPU (oneDNN bf16: AVX512/AMX, cpu_features.py) or GPU supports it; plain fp32
    elsewhere."""
    on = enabled and bf16_supported(device, probe)
    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=on):
        yield


def step_generator(seed: int, step: int, rank: int, stream: int = 0) -> torch.Generator:
    """A CPU generator for one (step, rank): all the step's noise, times and dropout draws come from it."""
    return torch.Generator().manual_seed(((seed * 1_000_003 + step) * 1009 + rank) * 7 + stream)


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def hardware(info: ddp.DistInfo) -> dict[str, Any]:
    dev = info.device
    name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else _cpu_name()
    return {"device": dev.type, "device_name": name, "replicas": info.world_size,
            "torch_threads": torch.get_num_threads(), "cpu_count": os.cpu_count(), "torch": torch.__version__}


def tensorboard_writer(folder: Path):  # noqa: ANN201 — SummaryWriter, or None without the tensorboard package
    """TensorBoard event files next to the CSV when the optional `tensorboard` package is installed."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        return None
    return SummaryWriter(log_dir=str(folder))


def load_init(path: str | Path, device: torch.device | str = "cpu") -> tuple[DiT, GeneratorConfig, Path]:
    """A previous stage: a run folder (its model.safetensors), a model folder (dit.safetensors) or a file."""
    path = Path(path)
    if path.is_dir():
        for name in (STAGE_FILE, DIT_FILE):
            if (path / name).is_file():
                path = path / name
                break
        else:
            raise CheckpointError(f"{path}: no {STAGE_FILE} or {DIT_FILE}; finish that stage first")
    dit, gen = load_dit(path, device=device)
    return dit.train(), gen, path


@dataclass
class StageRun:
    """One recipe invocation: its config, folder, replicas and the log function (silent on replicas)."""

    stage: str
    cfg: TrainConfig
    out_dir: Path
    info: ddp.DistInfo
    log: Callable[[str], None]

    @classmethod
    def start(cls, stage: str, cfg: TrainConfig, out_dir: str | Path, log: Callable[[str], None] = print,
              device: str | None = None) -> StageRun:
        torch.set_num_threads(cfg.threads)
        info = ddp.setup(device)
        torch.manual_seed(cfg.seed + info.rank)
        out = Path(out_dir)
        if info.is_main:
            out.mkdir(parents=True, exist_ok=True)
            (out / "config.json").write_text(json.dumps(cfg.to_dict(), indent=2) + "\n", encoding="utf-8")
        return cls(stage, cfg, out, info, log if info.is_main else (lambda _msg: None))

    @property
    def device(self) -> torch.device:
        return self.info.device

    def loop(self, model: torch.nn.Module, optimizer: Any, step_fn: Callable[[int], dict[str, float]],
             eval_fn: Callable[[int], dict[str, float]] | None, resume: bool, monitor: str = "val_loss"
             ) -> LoopResult:
        cfg, info = self.cfg, self.info
        ddp.broadcast_parameters([model], info)
        prev_wall = 0.0
        last = self.out_dir / "last.pt"
        if resume and last.exists():
            prev_wall = float(load_training_checkpoint(last).get("extra", {}).get("wall_s", 0.0))
        t0 = time.monotonic()
        loop_cfg = LoopConfig(max_steps=cfg.steps, eval_every=cfg.eval_every, checkpoint_every=cfg.checkpoint_every,
                              log_every=cfg.log_every, max_minutes=cfg.max_minutes, monitor=monitor)

        board = tensorboard_writer(self.out_dir / "tensorboard") if info.is_main else None

        def synced_step(step: int) -> dict[str, float]:
            metrics = ddp.average_metrics(step_fn(step), info)
            if board is not None and (step + 1) % cfg.log_every == 0:
                for key, value in metrics.items():
                    board.add_scalar(f"train/{key}", value, step + 1)
            return metrics

        def synced_eval(step: int) -> dict[str, float]:
            metrics = ddp.average_metrics(eval_fn(step), info) if eval_fn else {}
            if board is not None:
                for key, value in metrics.items():
                    board.add_scalar(f"eval/{key}", value, step)
            return metrics

        self.wall_s = lambda: prev_wall + time.monotonic() - t0
        self.model = model
        result = train_loop(loop_cfg, model, optimizer, synced_step, self.out_dir,
                            eval_fn=synced_eval if eval_fn else None, resume=resume, log=self.log,
                            extra=lambda: {"wall_s": self.wall_s()}, is_main=info.is_main,
                            agree=lambda flag: ddp.agree_any(flag, info))
        self.result = result
        if board is not None:
            board.close()
        return result

    def finish(self, dit: DiT | None, generator: GeneratorConfig | None, extra: dict[str, Any]) -> dict[str, Any]:
        """Write summary.json and (from the best checkpoint, else the last) the stage's model.safetensors
        (`dit=None`: no network to export, e.g. a LoRA run, whose product is the adapter file)."""
        result = self.result
        model = dit if dit is not None else self.model
        checksums = ddp.replica_checksums(model, self.info)  # a collective: every replica takes part
        summary: dict[str, Any] = {"stage": self.stage, "status": result.status, "steps": result.step,
                                   "best_val": result.best, "wall_s": round(self.wall_s(), 1),
                                   "hardware": hardware(self.info), "config": self.cfg.to_dict(),
                                   "replica_checksums": checksums,
                                   "replicas_agree": all(c == checksums[0] for c in checksums), **extra}
        if self.info.is_main and result.status != "nan":
            rows = []
            metrics = self.out_dir / "metrics.csv"
            if metrics.exists():
                from lmd_studio.training.logging import MetricsLogger

                rows = [r for r in MetricsLogger.read(metrics) if "loss" in r]
            if rows:
                tail = rows[-min(len(rows), 5):]
                summary["final_loss"] = sum(r["loss"] for r in tail) / len(tail)
            if dit is not None:
                path = save_dit(self.out_dir / STAGE_FILE, dit, generator,
                                extra={"stage": self.stage, "steps": str(result.step)})
                summary["export"] = str(path)
        if self.info.is_main:
            (self.out_dir / "summary.json").write_text(json.dumps(summary, indent=2, default=str) + "\n",
                                                        encoding="utf-8")
        ddp.teardown(self.info)
        return summary

    def restore_best(self, model: torch.nn.Module, key: str = "model") -> None:
        """Load the best checkpoint's weights (when evaluation chose one) before exporting."""
        path = self.result.best_checkpoint or self.result.last_checkpoint
        if path is not None and Path(path).exists():
            state = load_training_checkpoint(Path(path))["model"]
            model.load_state_dict(state)
