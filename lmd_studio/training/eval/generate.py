"""Driving a BlockGenerator for the evaluation: prompt clips, long streams, control curves, speed.

Everything goes through the `BlockGenerator` protocol (`init_state(seed)`, `generate_block(state,
controls)`), the same calls the engine makes, so any generator — the torch model, a test oracle, a noise
source — is evaluated alike. Controls the evaluation does not request are set to "let the model decide".
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from lmd_studio.core.generator import BlockControls, BlockGenerator, PromptSlot
from lmd_studio.core.params import BRIGHTNESS, DENSITY, GUIDANCE, LOUDNESS, PITCH, STEPS
from lmd_studio.dsp.resample import resample

AUTO_CONTROLS = (LOUDNESS.name, BRIGHTNESS.name, DENSITY.name, PITCH.name)


@dataclass(frozen=True, slots=True)
class SamplingOverrides:
    """What `lmd eval --steps/--guidance` changes; None keeps the model's own default."""

    steps: int | None = None
    guidance: float | None = None

    def __post_init__(self) -> None:
        if self.steps is not None and not STEPS.minimum <= self.steps <= STEPS.maximum:
            raise ValueError(f"steps must be in [{STEPS.minimum:g}, {STEPS.maximum:g}], got {self.steps}")
        if self.guidance is not None and not GUIDANCE.minimum <= self.guidance <= GUIDANCE.maximum:
            raise ValueError(f"guidance must be in [{GUIDANCE.minimum:g}, {GUIDANCE.maximum:g}], got {self.guidance}")


def block_controls(prompt: str, sampling: SamplingOverrides, given: Mapping[str, float] | None = None
                   ) -> BlockControls:
    """Controls for one block: the prompt, the sampling overrides, `given` knob values, the rest auto."""
    values: dict[str, float] = dict(given or {})
    if sampling.steps is not None:
        values[STEPS.name] = float(sampling.steps)
    if sampling.guidance is not None:
        values[GUIDANCE.name] = float(sampling.guidance)
    auto = frozenset(n for n in AUTO_CONTROLS if n not in values)
    return BlockControls(values=values, auto=auto, prompts=(PromptSlot(prompt, 1.0),))


@dataclass(frozen=True, slots=True)
class Stream:
    audio: np.ndarray  # [N] mono float32 at the evaluation rate
    block_frames: int  # block length at the evaluation rate
    block_ms: tuple[float, ...]  # wall clock per generated block


def run_stream(generator: BlockGenerator, seed: int, n_blocks: int,
               controls: Callable[[int], BlockControls], sample_rate_hz: int) -> Stream:
    """`n_blocks` consecutive blocks from a fresh state; audio mixed to mono at `sample_rate_hz`."""
    state = generator.init_state(seed)
    blocks, times = [], []
    for b in range(n_blocks):
        t0 = time.perf_counter()
        audio, state = generator.generate_block(state, controls(b))
        times.append((time.perf_counter() - t0) * 1000.0)
        if audio.shape != (generator.block_frames, generator.channels):
            raise RuntimeError(f"{generator.name}: block of shape {audio.shape}, expected "
                               f"{(generator.block_frames, generator.channels)}")
        blocks.append(np.asarray(audio, dtype=np.float32).mean(axis=1))
    mono = np.concatenate(blocks) if blocks else np.zeros(0, np.float32)
    if not np.isfinite(mono).all():
        raise RuntimeError(f"{generator.name}: generated audio contains NaN or inf")
    block = generator.block_frames
    if generator.sample_rate != sample_rate_hz:
        mono = resample(mono, generator.sample_rate, sample_rate_hz)
        block = int(round(block * sample_rate_hz / generator.sample_rate))
    return Stream(mono.astype(np.float32), block, tuple(times))


def blocks_for(seconds: float, generator: BlockGenerator) -> int:
    return max(1, math.ceil(seconds * generator.sample_rate / generator.block_frames))


def prompt_clip(generator: BlockGenerator, prompt: str, num_frames: int, seed: int, sampling: SamplingOverrides,
                sample_rate_hz: int) -> Stream:
    """A generated counterpart of a real clip: same prompt, cut to the same number of frames."""
    controls = block_controls(prompt, sampling)
    n_blocks = blocks_for(num_frames / sample_rate_hz, generator)
    s = run_stream(generator, seed, n_blocks, lambda _b: controls, sample_rate_hz)
    audio = s.audio[:num_frames]
    if audio.shape[0] < num_frames:
        audio = np.pad(audio, (0, num_frames - audio.shape[0]))
    return Stream(audio, s.block_frames, s.block_ms)


def control_curve(n_blocks: int, phase: float = 0.0) -> np.ndarray:
    """Requested knob values per block: two slow sine cycles between 0.15 and 0.85."""
    b = np.arange(n_blocks)
    return 0.5 + 0.35 * np.sin(2 * np.pi * 2 * b / max(n_blocks, 1) + phase)


def control_stream(generator: BlockGenerator, prompt: str, control: str, curve: np.ndarray, seed: int,
                   sampling: SamplingOverrides, sample_rate_hz: int) -> Stream:
    """One stream with `control` following `curve` (one value per block), other knobs auto."""
    return run_stream(generator, seed, len(curve),
                      lambda b: block_controls(prompt, sampling, {control: float(curve[b])}), sample_rate_hz)


def measure_speed(generator: BlockGenerator, prompt: str, sampling: SamplingOverrides, timed_blocks: int,
                  warmup_blocks: int, starts: int = 3) -> dict[str, float]:
    """First-audio time (median of `starts` fresh streams, each with a prompt not seen before: text encoding
    included) and the steady-state real-time factor (median block time ÷ block length once the context is
    full). Medians, because one stalled block on a shared machine says nothing about the model."""
    block_s = generator.block_frames / generator.sample_rate
    firsts = []
    state = None
    for i in range(max(1, starts)):
        controls = block_controls(f"{prompt} ({i})", sampling)
        state = generator.init_state(12345 + i)
        t0 = time.perf_counter()
        _, state = generator.generate_block(state, controls)
        firsts.append(time.perf_counter() - t0)
    for _ in range(warmup_blocks):
        _, state = generator.generate_block(state, controls)
    times = []
    for _ in range(max(1, timed_blocks)):
        t0 = time.perf_counter()
        _, state = generator.generate_block(state, controls)
        times.append(time.perf_counter() - t0)
    med = statistics.median(times)
    return {"first_audio_s": statistics.median(firsts), "first_audio_max_s": max(firsts),
            "ms_per_block": med * 1000.0, "block_ms": block_s * 1000.0, "rtf": med / block_s,
            "rtf_min": min(times) / block_s}
