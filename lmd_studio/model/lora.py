"""LoRA adapters on the DiT's attention and MLP projections: training-time parametrisation, the adapter file,
and mixing an adapter into a running generator with a strength knob.

Training (`attach_lora`): every targeted FastLinear gets a parametrisation `W = W0 + (α/r)·B·A` (A [r, in]
random, B [out, r] zeros, so the network starts exactly as the base model); only A and B train.
File (`save_adapter` / `load_adapter`): safetensors, format "lmd-lora", with rank, α, the targets and the
DiT sizes it was trained for in the JSON metadata — a few hundred kB, never a pickle.
Studio (`AdapterMixer`): keeps the base weights of the targeted layers and writes
`W = W0 + strength·(α/r)·B·A` into them in place, so an adapter costs nothing per block; strength 0 (or
no adapter) restores the base weights bit for bit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn
from torch.nn.utils import parametrize

from lmd_studio.model.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from lmd_studio.model.dit import DiT
from lmd_studio.model.dit_config import DiTConfig

LORA_FORMAT = "lmd-lora"
LORA_FORMAT_VERSION = 1
TARGETS: tuple[str, ...] = ("attn.qkv", "attn.out", "cross.q", "cross.kv", "cross.out", "fc1", "fc2")
# sizes that must match between the adapter and the network it is mixed into
_SHAPE_KEYS = ("latent_channels", "d_model", "n_layers", "n_heads", "mlp_ratio", "text_dim")
MAX_STRENGTH = 2.0


@dataclass(frozen=True, slots=True)
class LoraSpec:
    rank: int = 8
    alpha: float = 8.0
    targets: tuple[str, ...] = field(default=TARGETS)

    def __post_init__(self) -> None:
        if self.rank < 1 or self.alpha <= 0:
            raise ValueError(f"LoRA needs rank >= 1 and alpha > 0, got {self.rank}, {self.alpha}")
        bad = sorted(set(self.targets) - set(TARGETS))
        if bad or not self.targets:
            raise ValueError(f"LoRA targets must be a non-empty subset of {TARGETS}, got {list(self.targets)}")

    @property
    def scale(self) -> float:
        return self.alpha / self.rank


def target_layers(dit: DiT, targets: tuple[str, ...] = TARGETS) -> dict[str, nn.Linear]:
    """`blocks.<i>.<target>` → the Linear it names, for every transformer block."""
    out = {}
    for i, block in enumerate(dit.blocks):
        for name in targets:
            module = block
            for part in name.split("."):
                module = getattr(module, part)
            out[f"blocks.{i}.{name}"] = module
    return out


class LoraDelta(nn.Module):
    """The parametrisation W0 → W0 + scale·B·A."""

    def __init__(self, out_features: int, in_features: int, rank: int, scale: float,
                 generator: torch.Generator | None = None) -> None:
        super().__init__()
        self.scale = scale
        self.A = nn.Parameter(torch.randn(rank, in_features, generator=generator) / math.sqrt(in_features))
        self.B = nn.Parameter(torch.zeros(out_features, rank))

    def forward(self, weight: torch.Tensor) -> torch.Tensor:
        return weight + (self.scale * (self.B @ self.A)).to(weight.dtype)


def attach_lora(dit: DiT, spec: LoraSpec, seed: int = 0) -> nn.ModuleDict:
    """Freeze `dit` and add trainable LoRA deltas; returns them (keys: layer names with '.' → '__')."""
    for p in dit.parameters():
        p.requires_grad_(False)
    gen = torch.Generator().manual_seed(seed)
    deltas = nn.ModuleDict()
    for name, layer in target_layers(dit, spec.targets).items():
        delta = LoraDelta(layer.out_features, layer.in_features, spec.rank, spec.scale, gen).to(layer.weight.device)
        parametrize.register_parametrization(layer, "weight", delta)
        deltas[name.replace(".", "__")] = delta
    return deltas


def detach_lora(dit: DiT) -> None:
    """Remove the parametrisations, leaving the base weights (unchanged) in place."""
    for layer in target_layers(dit).values():
        if parametrize.is_parametrized(layer, "weight"):
            parametrize.remove_parametrizations(layer, "weight", leave_parametrized=False)


def save_adapter(path: str | Path, deltas: nn.ModuleDict, spec: LoraSpec, dit_cfg: DiTConfig,
                 extra: dict[str, str] | None = None) -> Path:
    tensors = {}
    for key, delta in deltas.items():
        name = key.replace("__", ".")
        tensors[f"{name}.A"] = delta.A.detach().float()
        tensors[f"{name}.B"] = delta.B.detach().float()
    config = {"rank": spec.rank, "alpha": spec.alpha, "targets": list(spec.targets),
              "dit": {k: getattr(dit_cfg, k) for k in _SHAPE_KEYS}}
    return save_checkpoint(path, tensors, fmt=LORA_FORMAT, format_version=LORA_FORMAT_VERSION, config=config,
                           extra=extra)


@dataclass(frozen=True, slots=True)
class Adapter:
    path: Path
    spec: LoraSpec
    deltas: dict[str, tuple[torch.Tensor, torch.Tensor]]  # layer name → (A [r, in], B [out, r])


def load_adapter(path: str | Path, dit_cfg: DiTConfig | None = None) -> Adapter:
    """Read an adapter file; with `dit_cfg`, reject one trained for a network of other sizes."""
    path = Path(path)
    tensors, config, _ = load_checkpoint(path, fmt=LORA_FORMAT, supported_versions=(LORA_FORMAT_VERSION,))
    try:
        spec = LoraSpec(int(config["rank"]), float(config["alpha"]), tuple(config["targets"]))
        sizes = dict(config["dit"])
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"{path}: bad adapter config ({exc})") from None
    if dit_cfg is not None:
        theirs = {k: getattr(dit_cfg, k) for k in _SHAPE_KEYS}
        if sizes != theirs:
            raise CheckpointError(f"{path}: adapter was trained for a network with {sizes}, this model has {theirs}")
    deltas = {}
    for key in tensors:
        if key.endswith(".A"):
            name = key[:-2]
            if f"{name}.B" not in tensors:
                raise CheckpointError(f"{path}: {name} has A but no B")
            deltas[name] = (tensors[key], tensors[f"{name}.B"])
    if not deltas:
        raise CheckpointError(f"{path}: adapter holds no LoRA weights")
    return Adapter(path, spec, deltas)


class AdapterMixer:
    """Mixes one adapter at a time into an inference network's weights, in place, with a strength."""

    def __init__(self, dit: DiT) -> None:
        self.dit = dit
        self._layers = target_layers(dit)
        self._base = {name: layer.weight.detach().clone() for name, layer in self._layers.items()}
        self.adapter: Adapter | None = None
        self.strength = 0.0

    @torch.no_grad()
    def apply(self, adapter: Adapter | None, strength: float) -> None:
        if not 0.0 <= strength <= MAX_STRENGTH:
            raise ValueError(f"adapter strength must be in [0, {MAX_STRENGTH}], got {strength}")
        if adapter is not None:
            unknown = sorted(set(adapter.deltas) - set(self._layers))
            if unknown:
                raise CheckpointError(f"{adapter.path}: adapter names layers this model lacks: {unknown[:3]}")
            for name, (a, b) in adapter.deltas.items():
                w = self._layers[name].weight
                if (b.shape[0], a.shape[1]) != tuple(w.shape):
                    raise CheckpointError(f"{adapter.path}: {name} is {b.shape[0]}×{a.shape[1]}, the model's "
                                          f"weight is {tuple(w.shape)}")
        for name, layer in self._layers.items():
            base = self._base[name]
            if adapter is None or strength == 0.0 or name not in adapter.deltas:
                new = base
            else:
                a, b = adapter.deltas[name]
                delta = (strength * adapter.spec.scale) * (b.to(base.device) @ a.to(base.device))
                new = (base.float() + delta).to(base.dtype)
            layer.weight.copy_(new)  # in place: the version bump makes FastLinear re-pack its weights
        self.adapter, self.strength = adapter, float(strength)
