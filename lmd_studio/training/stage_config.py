"""Typed configs of the diffusion training stages (base, lmdm, arc, lora), parsed once from JSON.

Shipped files live in `training/configs/<stage>.json`; a test loads every one of them. Unknown keys and
out-of-range values raise a ValueError that names the file.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any, TypeVar

from lmd_studio.model.dit_config import PATTERNS, DiTConfig
from lmd_studio.model.samplers import SAMPLERS
from lmd_studio.training.text_bank import TEXT_ENCODERS

CONFIG_DIR = Path(__file__).with_name("configs")


def _prob(name: str, value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be a probability in [0, 1], got {value}")


def _check_long_rollout(streams: int, seconds: float, segment_s: float) -> None:
    if streams < 0:
        raise ValueError(f"long_rollout_streams must be >= 0, got {streams}")
    if streams and not 0 < segment_s <= seconds:
        raise ValueError(f"need 0 < long_rollout_segment_s ({segment_s}) <= long_rollout_s ({seconds})")


@dataclass(frozen=True, slots=True)
class TrainConfig:
    """What every diffusion stage shares: optimisation, logging, run-time and conditioning dropout."""

    steps: int = 1000
    batch_size: int = 16
    lr: float = 3e-4
    min_lr: float = 3e-5
    warmup_steps: int = 100
    weight_decay: float = 0.01
    grad_clip: float = 1.0
    eval_every: int = 250
    eval_batch: int = 32
    checkpoint_every: int = 100
    log_every: int = 10
    max_minutes: float | None = None
    threads: int = 2
    bf16: bool = True
    seed: int = 0
    text_encoder: str = "minilm"
    p_text_drop: float = 0.1  # CFG dropout on the prompt
    p_control_given: float = 0.5  # each control is given (not "let the model decide") with this probability
    p_control_hold: float = 0.5  # given controls held constant per block, like the studio's knobs
    p_control_key: float = 0.0  # a given pitch control is the window's key profile (the key knob), not chords
    # ... and that profile is the knob's own for the item's labelled key (score and mix items: from its notes)
    # rather than measured on the window, which holds the target's chords (training/controls.py)
    key_from_label: bool = False

    def __post_init__(self) -> None:
        self._check()

    def _check(self) -> None:
        for name in ("steps", "batch_size", "eval_every", "eval_batch", "checkpoint_every", "log_every", "threads"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.warmup_steps < 0:
            raise ValueError(f"warmup_steps must be >= 0, got {self.warmup_steps}")
        if not 0.0 < self.min_lr <= self.lr:
            raise ValueError(f"need 0 < min_lr <= lr, got min_lr {self.min_lr}, lr {self.lr}")
        if self.weight_decay < 0 or self.grad_clip <= 0:
            raise ValueError("weight_decay must be >= 0 and grad_clip > 0")
        if self.max_minutes is not None and self.max_minutes <= 0:
            raise ValueError(f"max_minutes must be positive, got {self.max_minutes}")
        if self.text_encoder not in TEXT_ENCODERS:
            raise ValueError(f"text_encoder must be one of {TEXT_ENCODERS}, got {self.text_encoder!r}")
        for name in ("p_text_drop", "p_control_given", "p_control_hold", "p_control_key"):
            _prob(name, getattr(self, name))

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        if "model" in d:
            d["model"] = self.model.to_dict()  # type: ignore[attr-defined]
        return d


@dataclass(frozen=True, slots=True)
class BaseConfig(TrainConfig):
    """Stage 0: the bidirectional text-conditioned rectified-flow model on full `s + o` windows."""

    model: DiTConfig = field(default_factory=DiTConfig)

    def _check(self) -> None:
        TrainConfig._check(self)
        if self.model.pattern != "bidirectional" or self.model.routing:
            raise ValueError("the base model must be pattern 'bidirectional' with routing false")


@dataclass(frozen=True, slots=True)
class LmdmConfig(TrainConfig):
    """Stage 1: the LMDM fine-tune (routing input fresh, loss on target frames only)."""

    pattern: str = "blockcausal"
    p_context_full: float = 0.2  # drop the whole context: learn to start from nothing
    p_context_partial: float = 0.3  # drop the oldest 1..W-1 chunks: a stream that just started
    p_context_cfg: float = 0.1  # independent CFG dropout of the context stream
    # jam training (training/partner.py): this share of windows from items with partner stems becomes
    # (partner → target), the partner heard up to a cut-off 0..partner_lookback_s before the target block
    p_partner: float = 0.0
    partner_lookback_s: float = 3.0
    # generative delay (training/partner.py): with p_delay a window of an item with a re-voiced render becomes
    # (re-voiced → mix), the partner lined up with the target and visible up to a cut-off into its block
    p_delay: float = 0.0
    # long-rollout monitor (training/long_rollout.py): > 0 streams → it is measured at every evaluation
    long_rollout_streams: int = 0
    long_rollout_s: float = 120.0
    long_rollout_segment_s: float = 30.0
    # what picks the kept checkpoint: "long_fd_score" (the monitor, when it runs) or "val_loss". Why a choice
    # here: the monitor rolls out 8 ping-pong steps without guidance, a way this stage's model is never run
    # (it ships as 8 guided Euler steps, and ARC then trains it for few steps). On v2 its score rose from
    # 35.9 (step 2,000) to 42–53 while every musical and quality meter improved (session 9: step 2,000 vs
    # 5,400 — prompt win rate 0.77 vs 0.90, drift 161→191 vs 120→119, tempo 2/6 vs 3/6), so the v2 configs
    # keep the flow objective here and let the monitor choose at ARC, whose rollouts are how the studio plays.
    checkpoint_monitor: str = "long_fd_score"
    # steps between long rollouts (0: at every evaluation). When val_loss judges, the rollouts are a record of
    # drift, not a choice, and on 2 cores each costs ≈ 6 min (4 streams × 120 s; session 13: the v2 LMDM
    # evaluation at step 500 took 396 s for 20 steps' worth of wall time), so the v2 configs take them less often.
    long_rollout_every: int = 0

    def _check(self) -> None:
        TrainConfig._check(self)
        _check_long_rollout(self.long_rollout_streams, self.long_rollout_s, self.long_rollout_segment_s)
        if self.checkpoint_monitor not in ("long_fd_score", "val_loss"):
            raise ValueError("checkpoint_monitor must be 'long_fd_score' or 'val_loss', "
                             f"got {self.checkpoint_monitor!r}")
        if self.long_rollout_every < 0:
            raise ValueError(f"long_rollout_every must be >= 0, got {self.long_rollout_every}")
        if self.long_rollout_every and self.checkpoint_monitor == "long_fd_score":
            raise ValueError("long_rollout_every must be 0 when the long rollout picks the checkpoint "
                             "(checkpoint_monitor 'long_fd_score' needs it at every evaluation)")
        if self.pattern not in PATTERNS or self.pattern == "bidirectional":
            raise ValueError(f"pattern must be 'encdec' or 'blockcausal', got {self.pattern!r}")
        for name in ("p_context_full", "p_context_partial", "p_context_cfg", "p_partner"):
            _prob(name, getattr(self, name))
        if self.p_context_full + self.p_context_partial > 1.0:
            raise ValueError("p_context_full + p_context_partial must be <= 1")
        if not 0.0 <= self.partner_lookback_s <= 8.0:
            raise ValueError(f"partner_lookback_s must be in [0, 8] s, got {self.partner_lookback_s}")


@dataclass(frozen=True, slots=True)
class ArcConfig(TrainConfig):
    """Stage 2: ARC-Forcing (self-rollouts + relativistic adversarial and contrastive losses)."""

    rollout_blocks: int = 4  # B blocks per self-rollout
    max_steps_per_block: int = 6  # K_max: each block draws k in 1..K_max-1
    disc_fraction: float = 0.75  # the discriminator keeps this fraction of the base model's layers
    disc_head_width: int = 128
    disc_head_blocks: int = 2
    disc_lr: float = 1e-4
    disc_warmup_steps: int = 100  # flow loss on long windows for the discriminator backbone first
    head_warmup_steps: int = 50  # then discriminator-only adversarial steps before the generator joins
    contrastive_weight: float = 1.0
    flow_weight: float = 0.0  # optional flow-matching regulariser on the generator during stage 2
    disc_logsnr_min: float = -6.0  # the (t, ε) real and fake share: logSNR uniform in this range
    disc_logsnr_max: float = 2.0
    p_context_full: float = 0.25
    p_context_partial: float = 0.1
    sampler: str = "pingpong"  # how the shipped model is meant to be run after this stage
    default_steps: int = 4
    # stabilisers for tiny-scale runs (training/arc.py explains each); the defaults leave them off
    ema_decay: float = 0.0  # > 0: keep an EMA of the generator, evaluate and export it
    disc_penalty_weight: float = 0.0  # finite-difference R1/R2 on D (real and fake)
    disc_penalty_sigma: float = 0.05  # its perturbation of the noisy inputs
    moment_weight: float = 0.0  # per-channel mean/std of the rollout vs the real continuation (G only)
    g_every: int = 1  # update G every n-th step after warm-up (D every step)
    full_windows_only: bool = False  # skip items shorter than a clip (no silence-padded "real" data)
    # long-rollout monitor (training/long_rollout.py): > 0 streams → it picks the kept checkpoint
    long_rollout_streams: int = 0
    long_rollout_s: float = 120.0
    long_rollout_segment_s: float = 30.0

    def _check(self) -> None:
        TrainConfig._check(self)
        _check_long_rollout(self.long_rollout_streams, self.long_rollout_s, self.long_rollout_segment_s)
        if not 0.0 <= self.ema_decay < 1.0 or self.disc_penalty_weight < 0 or self.moment_weight < 0:
            raise ValueError("need 0 <= ema_decay < 1, disc_penalty_weight >= 0 and moment_weight >= 0")
        if self.disc_penalty_sigma <= 0 or self.g_every < 1:
            raise ValueError("need disc_penalty_sigma > 0 and g_every >= 1")
        if self.rollout_blocks < 1 or self.max_steps_per_block < 2:
            raise ValueError("rollout_blocks must be >= 1 and max_steps_per_block >= 2")
        if not 0.0 < self.disc_fraction <= 1.0:
            raise ValueError(f"disc_fraction must be in (0, 1], got {self.disc_fraction}")
        if self.disc_head_width < 8 or self.disc_head_blocks < 1 or self.disc_lr <= 0:
            raise ValueError("disc_head_width >= 8, disc_head_blocks >= 1 and disc_lr > 0 are required")
        if self.disc_warmup_steps < 0 or self.head_warmup_steps < 0:
            raise ValueError("warm-up step counts must be >= 0")
        if self.contrastive_weight < 0 or self.flow_weight < 0:
            raise ValueError("loss weights must be >= 0")
        if not self.disc_logsnr_min < self.disc_logsnr_max:
            raise ValueError(f"need disc_logsnr_min < disc_logsnr_max, got {self.disc_logsnr_min}, "
                             f"{self.disc_logsnr_max}")
        for name in ("p_context_full", "p_context_partial"):
            _prob(name, getattr(self, name))
        if self.sampler not in SAMPLERS or not 1 <= self.default_steps <= 64:
            raise ValueError(f"sampler must be one of {SAMPLERS} and default_steps in [1, 64]")


@dataclass(frozen=True, slots=True)
class LoraConfig(TrainConfig):
    """Personal fine-tune: LoRA adapters on the attention/MLP projections, LMDM flow loss on user audio."""

    rank: int = 8
    alpha: float = 8.0
    min_seconds: float = 0.5  # shorter files are skipped as too short
    silence_db: float = -60.0  # files whose loudest frame is quieter are skipped as silent
    holdout_fraction: float = 0.2  # files kept out of training to measure the adapter
    p_context_full: float = 0.2
    p_context_partial: float = 0.3

    def _check(self) -> None:
        TrainConfig._check(self)
        if self.rank < 1 or self.alpha <= 0:
            raise ValueError(f"rank must be >= 1 and alpha > 0, got {self.rank}, {self.alpha}")
        if self.min_seconds <= 0:
            raise ValueError(f"min_seconds must be positive, got {self.min_seconds}")
        if not 0.0 <= self.holdout_fraction < 1.0:
            raise ValueError(f"holdout_fraction must be in [0, 1), got {self.holdout_fraction}")
        for name in ("p_context_full", "p_context_partial"):
            _prob(name, getattr(self, name))


C = TypeVar("C", bound=TrainConfig)
STAGE_CONFIGS: dict[str, type[TrainConfig]] = {"base": BaseConfig, "lmdm": LmdmConfig, "arc": ArcConfig,
                                               "lora": LoraConfig}


def config_from_dict(cls: type[C], data: dict[str, Any], source: str = "config") -> C:
    if not isinstance(data, dict):
        raise ValueError(f"{source}: a training config must be a JSON object")
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ValueError(f"{source}: unknown {cls.__name__} keys {unknown}")
    values = dict(data)
    if "model" in values:
        values["model"] = DiTConfig.from_dict(values["model"], source=source)
    try:
        return cls(**values)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{source}: invalid {cls.__name__} ({exc})") from None


def load_stage_config(cls: type[C], path: str | Path, **overrides: Any) -> C:
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: cannot read training config ({exc})") from None
    cfg = config_from_dict(cls, data, source=str(path))
    overrides = {k: v for k, v in overrides.items() if v is not None}
    try:
        return replace(cfg, **overrides) if overrides else cfg
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{path}: invalid override ({exc})") from None
