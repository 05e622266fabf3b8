"""Saving and loading the DiT, and reading a release folder `models/<name>/`.

A release folder holds `dit.safetensors` (format "lmd-dit") and `codec.safetensors` (the codec's own
format, read by the codec module's `load_codec`). The DiT file's metadata carries
`{"dit": DiTConfig, "generator": GeneratorConfig}` as JSON; all I/O goes through model/checkpoint.py, so a
truncated, corrupt or foreign file, or an unsupported version, raises CheckpointError naming the file.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from lmd_studio.model.checkpoint import CheckpointError, float16_hint, load_checkpoint, save_checkpoint
from lmd_studio.model.codec_api import LatentCodec
from lmd_studio.model.dit import DiT
from lmd_studio.model.dit_config import DiTConfig
from lmd_studio.model.samplers import SAMPLERS
from lmd_studio.model.streaming import MODES

DIT_FORMAT = "lmd-dit"
DIT_FORMAT_VERSION = 1
DIT_FILE = "dit.safetensors"
CODEC_FILE = "codec.safetensors"

CodecLoader = Callable[[Path], LatentCodec]


@dataclass(frozen=True, slots=True)
class GeneratorConfig:
    """How a trained model is meant to be run: streaming mode, sampler, default steps."""

    mode: str = "blockcausal"
    sampler: str = "pingpong"
    default_steps: int = 4
    jam_trained: bool = False  # the accompaniment channels were trained on partner stems (training/partner.py)
    # ... and on re-voiced renders lined up with the target (generative delay, training/partner.py)
    delay_trained: bool = False

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"generator mode must be one of {MODES}, got {self.mode!r}")
        if self.sampler not in SAMPLERS:
            raise ValueError(f"generator sampler must be one of {SAMPLERS}, got {self.sampler!r}")
        if not 1 <= self.default_steps <= 64:
            raise ValueError(f"default_steps must be in [1, 64], got {self.default_steps}")


def save_dit(path: str | Path, dit: DiT, generator: GeneratorConfig | None = None,
             extra: dict[str, str] | None = None) -> Path:
    config: dict[str, Any] = {"dit": dit.cfg.to_dict(), "generator": asdict(generator or GeneratorConfig())}
    return save_checkpoint(path, dict(dit.state_dict()), fmt=DIT_FORMAT, format_version=DIT_FORMAT_VERSION,
                           config=config, extra=extra)


def load_dit(path: str | Path, device: str | torch.device = "cpu") -> tuple[DiT, GeneratorConfig]:
    path = Path(path)
    tensors, config, _ = load_checkpoint(path, fmt=DIT_FORMAT, supported_versions=(DIT_FORMAT_VERSION,),
                                         device=device)
    try:
        cfg = DiTConfig.from_dict(config.get("dit"), source=str(path))
        gen = GeneratorConfig(**config.get("generator", {}))
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"{path}: bad model config ({exc})") from None
    dit = DiT(cfg).to(device)
    expected = dit.state_dict()
    missing = sorted(set(expected) - set(tensors))
    unexpected = sorted(set(tensors) - set(expected))
    if missing or unexpected:
        raise CheckpointError(f"{path}: weights do not match the config (missing {missing[:4]}, "
                              f"unexpected {unexpected[:4]})")
    for name, tensor in tensors.items():
        if tensor.shape != expected[name].shape:
            raise CheckpointError(f"{path}: weight {name} has shape {tuple(tensor.shape)}, the config needs "
                                  f"{tuple(expected[name].shape)}")
        if not torch.isfinite(tensor).all():
            raise CheckpointError(f"{path}: weight {name} contains NaN or inf{float16_hint(tensor)}")
    dit.load_state_dict(tensors)
    return dit.eval(), gen


def default_codec_loader(path: Path) -> LatentCodec:
    """The codec module's loader, imported lazily (the codec lives in model/codec.py)."""
    try:
        from lmd_studio.model import codec as codec_module
    except ImportError as exc:
        raise CheckpointError(f"{path}: this build has no codec module ({exc})") from None
    loader = getattr(codec_module, "load_codec", None)
    if loader is None:
        raise CheckpointError(f"{path}: lmd_studio.model.codec has no load_codec(path)")
    return loader(path)


def load_model_folder(folder: str | Path, *, codec_loader: CodecLoader | None = None,
                      device: str | torch.device = "cpu") -> tuple[DiT, GeneratorConfig, LatentCodec]:
    """Read `models/<name>/`: the DiT, how to run it, and its codec (latent sizes must agree)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise CheckpointError(f"{folder}: model folder not found")
    dit, gen = load_dit(folder / DIT_FILE, device=device)
    codec_path = folder / CODEC_FILE
    if not codec_path.is_file():
        raise CheckpointError(f"{codec_path}: codec file missing from the model folder")
    codec = (codec_loader or default_codec_loader)(codec_path)
    if codec.latent_channels != dit.cfg.latent_channels:
        raise CheckpointError(f"{codec_path}: codec has {codec.latent_channels} latent channels, the DiT in "
                              f"{folder / DIT_FILE} expects {dit.cfg.latent_channels}")
    return dit, gen, codec
