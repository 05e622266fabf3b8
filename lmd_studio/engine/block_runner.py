"""One block from the generator, timed and made safe, and safe mode's steps override.

The worker calls `run` for every block it generates or regenerates: a generator that raises or returns
the wrong shape yields a block of silence and keeps its state (the error goes into the stats, the
instrument keeps playing); non-finite samples become silence. The times feed the splice's regeneration
estimate; the steps each block really ran with are tallied for the take's sidecar. Safe mode lowers the
sampling steps while generation eats more than 80 % of real time and gives them back below 40 %.
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

import numpy as np

from lmd_studio.core.generator import BlockControls, BlockGenerator
from lmd_studio.core.params import STEPS
from lmd_studio.engine.worker_types import WorkerStats


class BlockRunner:
    def __init__(self, generator: BlockGenerator, stats: WorkerStats, safe_mode: bool) -> None:
        self.generator = generator
        self.stats = stats
        self.safe_mode = safe_mode
        self.steps_override = 0  # > 0: safe mode runs at most this many steps
        self._has_steps = any(spec.name == STEPS.name for spec in generator.param_specs)

    def set_safe_mode(self, enabled: bool) -> None:
        self.safe_mode = enabled
        if not enabled:
            self.steps_override = 0

    def controls(self, controls: BlockControls) -> BlockControls:
        """`controls` with the steps override applied."""
        if self.steps_override > 0 and STEPS.name in controls.values:
            values = dict(controls.values)
            values[STEPS.name] = min(values[STEPS.name], float(self.steps_override))
            controls = replace(controls, values=values)
        return controls

    def run(self, state: Any, controls: BlockControls) -> tuple[np.ndarray, Any, float]:
        """(audio [block_frames, channels] float32, next state, milliseconds it took)."""
        g = self.generator
        if self._has_steps:  # what really played, not what the knob asked for
            steps = int(controls.value(STEPS))
            self.stats.steps_blocks[steps] = self.stats.steps_blocks.get(steps, 0) + 1
        t0 = time.perf_counter()
        try:
            audio, next_state = g.generate_block(state, controls)
            audio = np.asarray(audio, dtype=np.float32)
            expected = (g.block_frames, g.channels)
            if audio.shape != expected:
                raise ValueError(f"generator returned shape {audio.shape}, expected {expected}")
            if not np.isfinite(audio).all():
                audio = np.nan_to_num(audio, nan=0.0, posinf=0.0, neginf=0.0)
                self.stats.last_error = "generator produced non-finite samples (replaced by silence)"
        except Exception as exc:  # noqa: BLE001 — a broken block must not stop the instrument
            self.stats.last_error = f"{type(exc).__name__}: {exc}"
            audio = np.zeros((g.block_frames, g.channels), dtype=np.float32)
            next_state = state
        elapsed_ms = (time.perf_counter() - t0) * 1000.0
        s = self.stats
        s.block_ms_last = elapsed_ms
        s.block_ms_mean = elapsed_ms if s.blocks_generated == 0 else 0.8 * s.block_ms_mean + 0.2 * elapsed_ms
        s.block_ms_recent.append(elapsed_ms)
        s.blocks_generated += 1
        return audio, next_state, elapsed_ms

    def adapt_safe_mode(self, user_controls: BlockControls, block_s: float) -> None:
        """After a block: lower or give back steps from the mean generation time."""
        if not self.safe_mode or not self._has_steps:
            return
        rtf = self.stats.block_ms_mean / (1000.0 * block_s)
        user_steps = int(user_controls.value(STEPS))
        current = self.steps_override or user_steps
        if rtf > 0.8 and current > 1:
            self.steps_override = current - 1
        elif rtf < 0.4 and self.steps_override:
            self.steps_override = 0 if self.steps_override + 1 >= user_steps else self.steps_override + 1
