"""`lmd train codec`: the spectral autoencoder, trained with spectral losses on corpus crops.

Loss = L1 on normalised log-magnitudes + spectral convergence on linear magnitudes (weights the loud bins
the log loss under-weights) + L1 on log-mel energies + a small L2 on the latents. Gaussian noise is added
to the latents before decoding so the decoder tolerates the imprecise latents a diffusion model produces.
At the end, per-channel latent statistics are measured on training crops and folded into the model, so
`encode` returns roughly standardised latents, and the codec is exported as safetensors.
"""

from __future__ import annotations

import argparse
import json
import math
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import torch

from lmd_studio.dsp.mel import mel_filterbank_torch
from lmd_studio.model.codec import SpectralCodec, save_codec
from lmd_studio.model.codec_net import CodecConfig, CodecNet, frames_to_magnitudes, log_magnitude_frames
from lmd_studio.model.cpu_features import CpuProbe, probe_cpu_features
from lmd_studio.training.codec_data import CropSampler
from lmd_studio.training.loop import LoopConfig, load_training_checkpoint, train_loop

DEFAULT_CONFIG = Path(__file__).with_name("configs") / "codec.json"


@dataclass(frozen=True, slots=True)
class CodecTrainConfig:
    steps: int = 20000
    batch_size: int = 16
    crop_latent_frames: int = 32
    lr: float = 1e-3
    min_lr: float = 1e-4
    warmup_steps: int = 300
    weight_decay: float = 1e-4
    grad_clip: float = 1.0
    latent_noise: float = 0.1
    latent_l2: float = 1e-3
    sc_weight: float = 1.0
    mel_weight: float = 0.5
    n_mels: int = 128
    eval_every: int = 500
    eval_crops: int = 48
    checkpoint_every: int = 500
    log_every: int = 25
    max_minutes: float | None = None
    patience_evals: int | None = 6
    threads: int = 2
    bf16: bool = True
    seed: int = 0
    commercial_only: bool = True
    stats_crops: int = 256
    codec: CodecConfig = field(default_factory=CodecConfig)

    def __post_init__(self) -> None:
        if self.steps < 1 or self.batch_size < 1 or self.crop_latent_frames < 2:
            raise ValueError("steps >= 1, batch_size >= 1 and crop_latent_frames >= 2 are required")
        if not 0 < self.min_lr <= self.lr:
            raise ValueError(f"need 0 < min_lr <= lr, got {self.min_lr}, {self.lr}")
        if self.latent_noise < 0 or self.latent_l2 < 0 or self.sc_weight < 0 or self.mel_weight < 0:
            raise ValueError("loss weights and latent_noise must be >= 0")
        if self.threads < 1 or self.eval_crops < 1 or self.stats_crops < 1:
            raise ValueError("threads, eval_crops and stats_crops must be >= 1")

    @classmethod
    def from_dict(cls, d: dict) -> CodecTrainConfig:
        names = {f.name for f in fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise ValueError(f"unknown codec training keys {sorted(unknown)}")
        d = dict(d)
        if "codec" in d:
            d["codec"] = CodecConfig.from_dict(d["codec"])
        return cls(**d)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["codec"] = self.codec.to_dict()
        return d


def load_config(path: str | Path) -> CodecTrainConfig:
    path = Path(path)
    try:
        return CodecTrainConfig.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, json.JSONDecodeError, TypeError, ValueError) as exc:
        raise ValueError(f"{path}: invalid codec training config ({exc})") from None


class CodecLoss:
    def __init__(self, cfg: CodecTrainConfig, probe: CpuProbe = probe_cpu_features) -> None:
        self.cfg = cfg
        # bf16 autocast only where oneDNN runs bf16 natively (cpu_features.py), the rule inference follows;
        # AVX2-only CPUs train in fp32
        self.bf16 = cfg.bf16 and probe().bf16_matmul
        c = cfg.codec
        self.mel = mel_filterbank_torch(c.sample_rate_hz, c.n_fft, cfg.n_mels)  # [M, K]

    def __call__(self, net: CodecNet, target: torch.Tensor, generator: torch.Generator | None = None
                 ) -> tuple[torch.Tensor, dict[str, float]]:
        cfg = self.cfg
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.bf16):
            z = net.encode_frames(target)
            noise = torch.randn(z.shape, generator=generator) * cfg.latent_noise
            pred, _ = net.decode_frames(z + noise)
        pred, z = pred.float(), z.float()
        l1 = (pred - target).abs().mean()
        m_pred, m_true = frames_to_magnitudes(pred, cfg.codec), frames_to_magnitudes(target, cfg.codec)
        sc = torch.linalg.vector_norm(m_pred - m_true) / torch.linalg.vector_norm(m_true).clamp_min(1e-6)
        mel_l1 = ((m_pred ** 2) @ self.mel.T + 1e-5).log().sub(((m_true ** 2) @ self.mel.T + 1e-5).log()).abs().mean()
        reg = z.pow(2).mean()
        loss = l1 + cfg.sc_weight * sc + cfg.mel_weight * mel_l1 + cfg.latent_l2 * reg
        return loss, {"loss": loss.item(), "l1": l1.item(), "sc": sc.item(), "mel_l1": mel_l1.item(),
                      "latent_rms": reg.sqrt().item()}


@torch.no_grad()
def magnitude_lsd_db(net: CodecNet, target: torch.Tensor, cfg: CodecConfig) -> float:
    """Log-spectral distance (dB) between decoded and true magnitudes: the codec's own loss, no phase."""
    pred, _ = net.decode_frames(net.encode_frames(target))
    p = frames_to_magnitudes(pred, cfg).double() ** 2 + 1e-8
    q = frames_to_magnitudes(target, cfg).double() ** 2 + 1e-8
    return float(((10 * p.log10() - 10 * q.log10()) ** 2).mean(-1).sqrt().mean())


def lr_at(step: int, cfg: CodecTrainConfig) -> float:
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    progress = min(1.0, (step - cfg.warmup_steps) / max(1, cfg.steps - cfg.warmup_steps))
    return cfg.min_lr + 0.5 * (cfg.lr - cfg.min_lr) * (1 + math.cos(math.pi * progress))


@torch.no_grad()
def fit_latent_stats(net: CodecNet, sampler: CropSampler, crops: int, batch: int = 16) -> None:
    """Measure per-channel mean/std of raw latents on training crops and store them in the net."""
    net.latent_mean.zero_()
    net.latent_std.fill_(1.0)
    zs = []
    for i in range(0, crops, batch):
        audio = sampler.batch(10_000_000 + i, min(batch, crops - i))
        zs.append(net.encode_frames(log_magnitude_frames(audio, net.cfg)).reshape(-1, net.cfg.latent_channels))
    z = torch.cat(zs)
    net.latent_mean.copy_(z.mean(0))
    net.latent_std.copy_(z.std(0).clamp_min(1e-3))


def train_codec(corpus: Path, out_dir: Path, cfg: CodecTrainConfig, resume: bool = True, log=print) -> dict:
    torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "config.json").write_text(json.dumps(cfg.to_dict(), indent=2) + "\n", encoding="utf-8")
    c = cfg.codec
    train = CropSampler(corpus, "train", cfg.crop_latent_frames, cfg.seed, c.hop_frames, cfg.commercial_only)
    try:
        val = CropSampler(corpus, "val", cfg.crop_latent_frames, cfg.seed, c.hop_frames, cfg.commercial_only)
    except ValueError:
        val = train  # tiny corpora may have no validation items
    log(f"codec training: {len(train.items)} train items ({train.hours:.2f} h), {len(val.items)} val items")
    net = CodecNet(c)
    opt = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    loss_fn = CodecLoss(cfg)
    val_frames = log_magnitude_frames(val.fixed_set(cfg.eval_crops), c)

    def step_fn(step: int) -> dict[str, float]:
        for group in opt.param_groups:
            group["lr"] = lr_at(step, cfg)
        target = log_magnitude_frames(train.batch(step, cfg.batch_size), c)
        gen = torch.Generator().manual_seed(cfg.seed * 1_000_003 + step)
        loss, metrics = loss_fn(net, target, gen)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        metrics["grad_norm"] = float(torch.nn.utils.clip_grad_norm_(net.parameters(), cfg.grad_clip))
        opt.step()
        metrics["lr"] = opt.param_groups[0]["lr"]
        return metrics

    def eval_fn(step: int) -> dict[str, float]:
        with torch.no_grad():
            loss, m = loss_fn(net, val_frames, torch.Generator().manual_seed(0))
        return {"val_loss": m["l1"] + cfg.sc_weight * m["sc"] + cfg.mel_weight * m["mel_l1"],
                "val_lsd_db": magnitude_lsd_db(net, val_frames, c)}

    loop = LoopConfig(max_steps=cfg.steps, eval_every=cfg.eval_every, checkpoint_every=cfg.checkpoint_every,
                      log_every=cfg.log_every, max_minutes=cfg.max_minutes, patience_evals=cfg.patience_evals,
                      monitor="val_loss")
    result = train_loop(loop, net, opt, step_fn, out_dir, eval_fn=eval_fn, resume=resume, log=log,
                        extra=lambda: {"train_config": json.dumps(cfg.to_dict())})
    if result.status == "nan":
        return {"status": "nan", "step": result.step}
    best = result.best_checkpoint or result.last_checkpoint
    net.load_state_dict(load_training_checkpoint(best)["model"])
    fit_latent_stats(net, train, cfg.stats_crops)
    export_path = out_dir / "codec.safetensors"
    save_codec(export_path, net, extra={"trained_steps": str(result.step), "corpus": str(corpus),
                                        "licences": json.dumps(train.corpus.hours_by_licence("train"))})
    log(f"codec: {result.status} after {result.step} steps (best val_loss {result.best}); exported {export_path}")
    return {"status": result.status, "step": result.step, "best_val_loss": result.best, "export": str(export_path),
            "codec": SpectralCodec(net)}


# --- CLI (dispatched from cli/cmd_train.py) -------------------------------------------------------------
def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--corpus", type=Path, required=True, help="corpus folder from `lmd data build`")
    p.add_argument("--out", type=Path, required=True, help="run folder: checkpoints, metrics.csv, loss.png")
    p.add_argument("--config", type=Path, default=DEFAULT_CONFIG, help="JSON training config")
    p.add_argument("--steps", type=int, default=None, help="override steps")
    p.add_argument("--max-minutes", type=float, default=None, help="stop (and export) after this wall time")
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--no-resume", action="store_true", help="start fresh even if the run folder has a checkpoint")
    p.add_argument("--export", type=Path, default=None, help="also copy the exported codec here")


def run(args: argparse.Namespace) -> int:
    import shutil
    import sys
    from dataclasses import replace

    try:
        cfg = load_config(args.config)
        overrides = {k: v for k, v in (("steps", args.steps), ("max_minutes", args.max_minutes),
                                       ("batch_size", args.batch_size), ("threads", args.threads)) if v is not None}
        cfg = replace(cfg, **overrides)
        out = train_codec(args.corpus, args.out, cfg, resume=not args.no_resume,
                          log=lambda msg: print(msg, flush=True))
    except ValueError as exc:
        print(f"lmd train codec: {exc}", file=sys.stderr)
        return 2
    if out["status"] == "nan":
        print("lmd train codec: stopped on a non-finite loss; the last good checkpoint is kept", file=sys.stderr)
        return 3
    if args.export:
        args.export.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(out["export"], args.export)
        print(f"copied to {args.export}")
    return 0
