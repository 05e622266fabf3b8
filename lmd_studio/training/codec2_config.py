"""The typed training config of `lmd train codec2`, parsed once from JSON (training/configs/codec2.json)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from lmd_studio.model.codec2_net import Codec2Config

DEFAULT_CONFIG = Path(__file__).with_name("configs") / "codec2.json"
_WEIGHTS = ("head_l1_weight", "head_lsd_weight", "mrstft_weight", "mel_weight", "wave_l1_weight", "adv_weight",
            "fm_weight", "latent_l2", "distill_weight")


@dataclass(frozen=True, slots=True)
class Codec2TrainConfig:
    steps: int = 60000
    batch_size: int = 16
    crop_latent_frames: int = 24
    lr: float = 5e-4
    min_lr: float = 2e-5
    warmup_steps: int = 1000
    weight_decay: float = 1e-4
    grad_clip: float = 1.0
    latent_noise: float = 0.1  # Gaussian noise on the raw latents before decoding (DiT latents are imprecise)
    latent_l2: float = 1e-3
    head_l1_weight: float = 1.0  # the decoder's own log-magnitudes vs the true STFT
    head_lsd_weight: float = 0.05  # ... as an LSD in dB (the magnitude-only target)
    mrstft_weight: float = 1.0  # of the waveform, three resolutions
    mel_weight: float = 1.0
    wave_l1_weight: float = 0.0
    adv_start_step: int | None = None  # None: no adversarial phase; else D and the G terms start here
    adv_weight: float = 0.1
    fm_weight: float = 1.0
    disc_lr: float = 2e-4
    disc_channels: int = 16
    disc_layers: int = 3
    disc_crop_latent_frames: int = 12  # the discriminators see the last this-many latent frames of each crop
    eval_every: int = 1000
    eval_crops: int = 32
    checkpoint_every: int = 500
    log_every: int = 25
    max_minutes: float | None = None
    threads: int = 2
    bf16: bool = True  # autocast encoder + decoder trunk where the CPU/GPU runs bf16; head and iSTFT in fp32
    seed: int = 0
    commercial_only: bool = True
    stats_crops: int = 256
    # Keep another codec's latent space (e.g. the shipped v1 codec's, which Model v2 is trained on): the decoder
    # learns to decode that codec's latents and the encoder is distilled onto them, so a DiT trained on its
    # latents works with this codec without retraining. None: a latent space of its own (encoder and decoder
    # trained together). A path relative to the working directory, or absolute.
    teacher_codec: str | None = None
    distill_weight: float = 1.0  # with teacher_codec: weight of the encoder's MSE to the teacher's latents
    codec: Codec2Config = field(default_factory=Codec2Config)

    def __post_init__(self) -> None:
        for name in ("steps", "batch_size", "eval_every", "eval_crops", "checkpoint_every", "log_every", "threads",
                     "stats_crops", "disc_channels", "disc_layers"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.crop_latent_frames < 2:
            raise ValueError(f"crop_latent_frames must be >= 2, got {self.crop_latent_frames}")
        if not 1 <= self.disc_crop_latent_frames <= self.crop_latent_frames:
            raise ValueError(f"disc_crop_latent_frames must be in [1, crop_latent_frames], got "
                             f"{self.disc_crop_latent_frames}")
        if not 0 < self.min_lr <= self.lr or self.disc_lr <= 0:
            raise ValueError(f"need 0 < min_lr <= lr and disc_lr > 0, got {self.min_lr}, {self.lr}, {self.disc_lr}")
        if self.warmup_steps < 0 or self.weight_decay < 0 or self.grad_clip <= 0 or self.latent_noise < 0:
            raise ValueError("warmup_steps, weight_decay and latent_noise must be >= 0 and grad_clip > 0")
        for name in _WEIGHTS:
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.adv_start_step is not None and self.adv_start_step < 0:
            raise ValueError(f"adv_start_step must be >= 0 or null, got {self.adv_start_step}")
        if self.max_minutes is not None and self.max_minutes <= 0:
            raise ValueError(f"max_minutes must be positive, got {self.max_minutes}")

    @property
    def adversarial(self) -> bool:
        return self.adv_start_step is not None

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["codec"] = self.codec.to_dict()
        return d

    @classmethod
    def from_dict(cls, d: dict) -> Codec2TrainConfig:
        unknown = set(d) - {f.name for f in fields(cls)}
        if unknown:
            raise ValueError(f"unknown codec2 training keys {sorted(unknown)}")
        d = dict(d)
        if "codec" in d:
            d["codec"] = Codec2Config.from_dict(d["codec"])
        return cls(**d)


def load_config(path: str | Path, **overrides: Any) -> Codec2TrainConfig:
    """The config file with command-line overrides (None = keep), every error naming the file."""
    path = Path(path)
    try:
        cfg = Codec2TrainConfig.from_dict(json.loads(path.read_text(encoding="utf-8")))
        return replace(cfg, **{k: v for k, v in overrides.items() if v is not None})
    except (OSError, json.JSONDecodeError, TypeError, ValueError) as exc:
        raise ValueError(f"{path}: invalid codec2 training config ({exc})") from None
