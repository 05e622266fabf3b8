"""What the engine did during a take, for its sidecar: dropouts, clipping and the sampling steps really run.

The engine's counters (EngineMetrics) count from the engine's start, and the engine is replaced when the
model or the audio settings change, so a take can span several engines. `TakeStats` samples the metrics
at the start, at every GUI tick and at the stop, and adds up the increases between samples; a counter that
went down belongs to a new engine, whose whole count is new (the way monitoring systems sum counters that
reset). Only a change made between two ticks right before a swap can be missed (a tick is ~20-30 ms).

Steps are tallied per generated block. Blocks are generated up to ~1.5 s ahead of the playhead, so the
blocks counted during a take are those generated while it ran, which lead what it holds by that much.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lmd_studio.engine.metrics import EngineMetrics

# Counters summed per take: the playback ring running dry (silence in the take) and the limiter's
# counters. A counter this engine version does not publish is left out of the sidecar, never reported as 0.
DROPOUT_COUNTERS = ("underruns", "underrun_frames")
CLIPPING_COUNTERS = ("clipped_samples_pre_limiter", "over_full_scale_samples")


class TakeStats:
    """Sums engine counters over one take. Called from one thread (the GUI's)."""

    def __init__(self, first: EngineMetrics) -> None:
        self._last: dict[str, int] = {}
        self._sums: dict[str, int] = {}
        self._last_steps: dict[int, int] = dict(first.steps_blocks)
        self._steps: dict[int, int] = {}
        for name in (*DROPOUT_COUNTERS, *CLIPPING_COUNTERS):
            value = getattr(first, name, None)
            if value is not None:
                self._last[name] = int(value)
                self._sums[name] = 0

    def sample(self, metrics: EngineMetrics) -> None:
        for name in self._last:
            now = int(getattr(metrics, name, 0))
            self._sums[name] += _increase(self._last[name], now)
            self._last[name] = now
        steps_now = dict(metrics.steps_blocks)
        if sum(steps_now.values()) < sum(self._last_steps.values()):  # a new engine: its counts are all new
            self._last_steps = {}
        for steps, blocks in steps_now.items():
            added = blocks - self._last_steps.get(steps, 0)
            if added > 0:
                self._steps[steps] = self._steps.get(steps, 0) + added
        self._last_steps = steps_now

    def summary(self, requested_steps: float | None, safe_mode: bool | None = None) -> dict[str, Any]:
        """The `take_stats` for build_sidecar: `dropouts`, `clipping` and `steps` (None when the model has
        no sampling steps or no block was generated during the take)."""
        dropouts = {name: self._sums[name] for name in DROPOUT_COUNTERS if name in self._sums}
        clipping = {name: self._sums[name] for name in CLIPPING_COUNTERS if name in self._sums}
        return {"dropouts": dropouts, "clipping": clipping,
                "steps": steps_summary(self._steps, requested_steps, safe_mode)}


def steps_summary(blocks_by_steps: Mapping[int, int], requested: float | None,
                  safe_mode: bool | None) -> dict[str, Any] | None:
    if not blocks_by_steps:
        return None
    return {
        "requested": None if requested is None else int(requested),  # the Steps knob
        "run_min": min(blocks_by_steps),  # what the blocks really ran with (safe mode lowers it)
        "run_max": max(blocks_by_steps),
        "blocks_by_steps": {str(k): blocks_by_steps[k] for k in sorted(blocks_by_steps)},
        "safe_mode": safe_mode,
    }


def _increase(before: int, now: int) -> int:
    return now - before if now >= before else now  # went down: a fresh engine counting from zero
