"""Configuration of the streaming DiT: sizes, the attention pattern and the conditioning inputs.

One network serves every stage; what differs is configuration:
- stage 0 (base model): `pattern="bidirectional"`, `routing=False` — every frame is noisy.
- stage 1 (LMDM): `pattern="encdec"` or `"blockcausal"`, `routing=True` — adds the context input projection.
- the ARC discriminator: a stage-0 configuration run as a trunk (`DiT.forward(..., n_layers=k,
  return_hidden=True)`).

Window convention (used by training and inference alike): a window holds `T = s + o` latent frames, `s`
context frames then `o` target frames; the global token sits at position `T`. For the block-causal pattern
frames are grouped in chunks of `o`; a query attends to its own chunk and the `W - 1` chunks before it
(`W = window_chunks`, default `s // o`). So **a target block sees `W - 1` cached chunks** — in the training
mask and in the streaming cache, which holds exactly `W - 1` chunks between blocks.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any, Literal

# the musical clock: beat and bar phase as sin/cos, log tempo, a "given" bit
from lmd_studio.core.musical_clock import CLOCK_CHANNELS

Pattern = Literal["bidirectional", "encdec", "blockcausal"]
PATTERNS: tuple[str, ...] = ("bidirectional", "encdec", "blockcausal")

# Frame-aligned control channels (see model/conditioning.py for how they are filled):
# loudness, brightness, onset density (1 value each), pitch salience (12-bin chroma), then one
# "given" bit per control (0 = let the model decide).
CONTROL_NAMES: tuple[str, ...] = ("loudness", "brightness", "density", "pitch")
CHROMA_BINS = 12
CONTROL_VALUE_CHANNELS = 3 + CHROMA_BINS
CONTROL_CHANNELS = CONTROL_VALUE_CHANNELS + len(CONTROL_NAMES)


@dataclass(frozen=True, slots=True)
class DiTConfig:
    """Sizes are in latent frames (`*_frames`) or channels; all validated on construction."""

    latent_channels: int = 32
    d_model: int = 256
    n_layers: int = 6
    n_heads: int = 4
    mlp_ratio: float = 4.0
    text_dim: int = 384
    max_text_tokens: int = 32
    context_frames: int = 64
    block_frames: int = 16
    window_chunks: int = 0  # 0 → context_frames // block_frames
    pattern: Pattern = "blockcausal"
    routing: bool = True
    control_channels: int = CONTROL_CHANNELS
    accomp_channels: int = 33  # latent_channels + 1 mask bit, 0 to leave jam input out
    clock_channels: int = 0  # CLOCK_CHANNELS: the model hears tempo, beat and bar (Model v2); 0: it does not
    rope_base: float = 10000.0
    time_freq_dim: int = 256

    def __post_init__(self) -> None:
        def bad(msg: str) -> None:
            raise ValueError(f"DiTConfig: {msg}")

        for name in ("latent_channels", "d_model", "n_layers", "n_heads", "text_dim", "max_text_tokens",
                     "context_frames", "block_frames", "time_freq_dim"):
            value = getattr(self, name)
            if not isinstance(value, int) or value <= 0:
                bad(f"{name} must be a positive integer, got {value!r}")
        if self.d_model % self.n_heads:
            bad(f"d_model {self.d_model} is not divisible by n_heads {self.n_heads}")
        if self.head_dim % 2:
            bad(f"head_dim {self.head_dim} must be even for RoPE")
        if self.mlp_ratio <= 0:
            bad(f"mlp_ratio must be > 0, got {self.mlp_ratio}")
        if self.context_frames % self.block_frames:
            bad(f"context_frames {self.context_frames} must be a multiple of block_frames {self.block_frames}")
        if self.pattern not in PATTERNS:
            bad(f"pattern must be one of {PATTERNS}, got {self.pattern!r}")
        if self.pattern != "bidirectional" and not self.routing:
            bad(f"pattern {self.pattern!r} needs routing=True (the clean context has its own input path)")
        if self.window_chunks == 0:
            object.__setattr__(self, "window_chunks", self.context_frames // self.block_frames)
        if not 1 <= self.window_chunks <= self.context_frames // self.block_frames:
            bad(f"window_chunks must be in [1, {self.context_frames // self.block_frames}], got {self.window_chunks}")
        if self.control_channels not in (0, CONTROL_CHANNELS):
            bad(f"control_channels must be 0 or {CONTROL_CHANNELS}, got {self.control_channels}")
        if self.clock_channels not in (0, CLOCK_CHANNELS):
            bad(f"clock_channels must be 0 or {CLOCK_CHANNELS}, got {self.clock_channels}")
        if self.accomp_channels not in (0, self.latent_channels + 1):
            bad(f"accomp_channels must be 0 or latent_channels + 1 = {self.latent_channels + 1}, "
                f"got {self.accomp_channels}")
        if self.rope_base <= 1.0:
            bad(f"rope_base must be > 1, got {self.rope_base}")

    # --- derived sizes ---------------------------------------------------------------------------
    @property
    def head_dim(self) -> int:
        return self.d_model // self.n_heads

    @property
    def mlp_dim(self) -> int:
        return int(round(self.d_model * self.mlp_ratio))

    @property
    def window_frames(self) -> int:
        """T = s + o: frames in one training / naive window (the global token is extra)."""
        return self.context_frames + self.block_frames

    @property
    def cached_chunks(self) -> int:
        """Chunks the block-causal cache holds between blocks = chunks a target sees (W - 1)."""
        return self.window_chunks - 1

    @property
    def frame_cond_channels(self) -> int:
        """Layout: controls, then accompaniment, then clock (appended last so older models keep theirs)."""
        return self.control_channels + self.accomp_channels + self.clock_channels

    # --- presets ----------------------------------------------------------------------------------
    @classmethod
    def tiny(cls, **overrides: Any) -> DiTConfig:
        """A few-thousand-parameter model for unit tests and training smoke runs (fast on 1 thread)."""
        base: dict[str, Any] = dict(latent_channels=8, d_model=32, n_layers=2, n_heads=2, mlp_ratio=2.0,
                                    text_dim=16, max_text_tokens=8, context_frames=8, block_frames=2,
                                    accomp_channels=9, time_freq_dim=32)
        base.update(overrides)
        return cls(**base)

    @classmethod
    def default(cls, **overrides: Any) -> DiTConfig:
        """The shipped size (≈ 7 M parameters; the stage configs in training/configs use it): d 256, 6 layers,
        4 heads of 64, blocks of 16 frames (0.74 s) with 64 frames (3 s) of context. `lmd bench model`
        measures it at ≥ 10× real time on 2 CPU cores."""
        return cls(**overrides)

    def for_stage(self, stage: Literal["base", "lmdm", "discriminator"],
                  pattern: Pattern = "blockcausal") -> DiTConfig:
        """The same network sizes configured for a training stage."""
        if stage in ("base", "discriminator"):
            return self.replace(pattern="bidirectional", routing=False)
        if stage == "lmdm":
            if pattern == "bidirectional":
                raise ValueError("DiTConfig.for_stage('lmdm') needs pattern 'encdec' or 'blockcausal'")
            return self.replace(pattern=pattern, routing=True)
        raise ValueError(f"unknown stage {stage!r}; expected base, lmdm or discriminator")

    # --- (de)serialisation --------------------------------------------------------------------------
    def replace(self, **changes: Any) -> DiTConfig:
        values = self.to_dict()
        values.update(changes)
        if "context_frames" in changes or "block_frames" in changes:
            values.setdefault("window_chunks", 0)
            if "window_chunks" not in changes:
                values["window_chunks"] = 0
        return DiTConfig(**values)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, source: str = "config") -> DiTConfig:
        """Parse a JSON config; unknown or malformed keys raise a ValueError naming `source`."""
        if not isinstance(data, dict):
            raise ValueError(f"{source}: DiT config must be a JSON object, got {type(data).__name__}")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"{source}: unknown DiT config keys {unknown}")
        try:
            return cls(**data)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{source}: invalid DiT config ({exc})") from None
