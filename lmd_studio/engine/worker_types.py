"""The generation worker's configuration and bookkeeping types (worker.py uses them)."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lmd_studio.dsp.limiter import LimiterConfig
from lmd_studio.engine.quantise import check_quantise


@dataclass(frozen=True, slots=True)
class EngineConfig:
    device_sample_rate_hz: int
    device_channels: int = 2
    prime_blocks: int = 2  # blocks queued before the first sample plays
    ahead_s: float = 1.5  # keep generating while less than this is queued
    ring_s: float = 8.0  # playback ring capacity
    min_splice_margin_s: float = 0.03  # kept ahead of the playhead on a splice, beyond regeneration time
    crossfade_s: float = 0.012
    low_latency: bool = True
    # memory for the generator states kept for splices and rewinding (state_history.py): a real model's
    # state — KV cache + codec decoder state — is 0.9 MB (shipped model) to ~3 MB (Model v2), so 128 MB
    # keeps ~1.8 min of the shipped model's past, ~35 s of Model v2's. Settings › General sets it.
    history_budget_bytes: int = 128 * 2**20
    seed: int = 0
    safe_mode: bool = True
    idle_wait_s: float = 0.004  # worker sleep when there is nothing to do
    capture: bool = True  # feed the capture ring (recording, retro-capture, timeline); off for offline renders
    limiter: LimiterConfig | None = LimiterConfig()  # after the volume, in every output; None = off (tests)
    quantise: str = "off"  # where model changes land while a tempo is set: "off" (at once), "beat", "bar"
    clock_history_s: float = 600.0  # how far back the musical clock remembers tempo changes (the timeline's)

    def __post_init__(self) -> None:
        if self.device_sample_rate_hz <= 0 or self.device_channels < 1:
            raise ValueError(f"bad device format: {self.device_sample_rate_hz} Hz × {self.device_channels} ch")
        if self.prime_blocks < 1:
            raise ValueError(f"prime_blocks must be >= 1, got {self.prime_blocks}")
        if not 0 < self.ahead_s < self.ring_s:
            raise ValueError(f"need 0 < ahead_s ({self.ahead_s}) < ring_s ({self.ring_s})")
        if self.crossfade_s < 0 or self.min_splice_margin_s < 0:
            raise ValueError("crossfade_s and min_splice_margin_s must be >= 0")
        check_quantise(self.quantise)


@dataclass(slots=True)
class QueuedBlock:
    """A generated block in the ring: where it sits and the state it was generated from (a splice
    regenerates it from that state)."""

    index: int
    state_before: Any
    model_version: int
    dev_start: int  # ring position of the block's first frame
    dev_end: int


@dataclass(slots=True)
class Probe:
    """A control change waiting to be heard: measures change → first changed sample out."""

    position: int
    changed_at_s: float


# `listener(position, frames, block_index, spliced)`: see GenerationEngine.add_block_listener
BlockListener = Callable[[int, np.ndarray, int, bool], None]

RECENT_BLOCKS = 16
# The splice budgets this much over the slowest of the recent generation times: enough for the jitter
# seen in the soak (the real model's block times vary ≈ ±10 % between blocks), far less than the 1.5 × mean
# used before, which made every knob move wait ≈ half a generation time longer than needed.
REGEN_HEADROOM = 1.2


@dataclass(slots=True)
class WorkerStats:
    block_ms_last: float = 0.0
    block_ms_mean: float = 0.0
    # the last few generation times, for the splice's regeneration estimate (a worst-case, not a mean)
    block_ms_recent: deque[float] = field(default_factory=lambda: deque(maxlen=RECENT_BLOCKS))
    blocks_generated: int = 0
    splices: int = 0
    splice_misses: int = 0
    last_splice_position: int | None = None  # ring position where the newest splice cut in
    landings: int = 0  # quantised changes spliced in on their grid line
    steps_blocks: dict[int, int] = field(default_factory=dict)  # sampling steps → blocks generated with them
    control_latency_ms: deque[float] = field(default_factory=lambda: deque(maxlen=4096))
    last_error: str = ""
