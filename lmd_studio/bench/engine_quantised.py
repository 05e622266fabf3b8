"""The quantised-change run of `lmd bench engine`: a change on every bar for `seconds`, and where each one
is really heard relative to its bar line.

The fake generator plays at the device rate (no resampling) with its noise clicks off, and a change flips
its loudness between two levels. Its oscillators run on whatever the loudness, so everything the engine
queued is `level(t) × g(t)`, where g is the same stream made at loudness 1 — which the analysis makes
again from the same start state. Dividing what was played by g gives the level sample by sample; each
change is the point where it crosses half way between the two levels, which is the centre of the
splice's crossfade. That is compared with the bar lines worked out from the tempo alone (the first bar
line and a bar length of beats_per_bar × 60 / bpm s), not with the engine's own clock.

What was played is the ring's content by position, recorded through the engine's block listener (every
block and every spliced tail, as it is queued: a splice overwrites what it replaced).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from lmd_studio.core.fake import FakeBlockGenerator
from lmd_studio.core.generator import BlockControls, BlockGenerator, PromptSlot
from lmd_studio.core.params import DENSITY, LOUDNESS, MASTER_GAIN

QUIET, LOUD = 0.25, 0.85
BPM = 120.0


def change_centres(played: np.ndarray, unit: np.ndarray, quiet: float, loud: float) -> np.ndarray:
    """Sample positions (fractional) where the level of `played` relative to `unit` crosses half way
    between `quiet` and `loud`, in either direction. Samples where `unit` is near zero say nothing."""
    n = min(len(played), len(unit))
    valid = np.flatnonzero(np.abs(unit[:n]) > 0.05 * float(np.abs(unit[:n]).max(initial=0.0)))
    if valid.size < 2:
        return np.zeros(0)
    level = played[valid] / unit[valid]
    mid = 0.5 * (quiet + loud)
    above = level >= mid
    flips = np.flatnonzero(above[1:] != above[:-1])
    # linear interpolation of the crossing between the two valid samples either side of it
    a, b = level[flips], level[flips + 1]
    frac = np.where(b != a, (mid - a) / (b - a), 0.5)
    return valid[flips] + frac * (valid[flips + 1] - valid[flips])


def offsets_to_bar_lines(centres: np.ndarray, first_bar: int, bar_frames: float) -> np.ndarray:
    """Each centre's distance (in frames, signed) to the nearest bar line first_bar + k · bar_frames."""
    k = np.round((centres - first_bar) / bar_frames)
    return centres - (first_bar + k * bar_frames)


def unit_stream(generator: FakeBlockGenerator, controls_values: dict[str, float], prompts: tuple[PromptSlot, ...],
                frames: int, seed: int = 0) -> np.ndarray:
    """The fake generator's mono output at loudness 1 from init_state(seed), `frames` long."""
    values = dict(controls_values, **{LOUDNESS.name: 1.0, DENSITY.name: 0.0})
    controls = BlockControls(values=values, prompts=prompts)
    state = generator.init_state(seed)
    out = []
    for _ in range(frames // generator.block_frames + 1):
        audio, state = generator.generate_block(state, controls)
        out.append(audio[:, 0])
    return np.concatenate(out)[:frames]


def run_quantised(make_generator: Callable[[FakeBlockGenerator], BlockGenerator], seconds: float,
                  buffer_frames: int, block_s: float, grid: str = "bar") -> dict[str, Any]:
    """Play for `seconds` with a change every bar; `make_generator(fake)` wraps the fake (load)."""
    from lmd_studio.app.engine_parts import build_engine, make_backend, make_mailbox
    from lmd_studio.engine import commands as cmd

    backend = make_backend("auto", buffer_frames=buffer_frames)
    rate = backend.sample_rate_hz
    fake = FakeBlockGenerator(rate, 1, block_s)
    generator: BlockGenerator = make_generator(fake)
    mailbox = make_mailbox(generator)
    mailbox.set(DENSITY.name, 0.0)
    mailbox.set(LOUDNESS.name, QUIET)
    mailbox.set(MASTER_GAIN.name, -6.0)
    mailbox.set_bpm(BPM)
    start_values = dict(mailbox.snapshot().controls.values)
    prompts = mailbox.prompts
    parts = build_engine(generator, backend, mailbox, quantise=grid)
    engine = parts.engine
    played = np.zeros(int((seconds + 30.0) * rate), np.float32)

    def keep(position: int, frames: np.ndarray, _index: int, _spliced: bool) -> None:
        end = min(len(played), position + len(frames))
        if end > position:
            played[position:end] = frames[:end - position, 0]

    engine.add_block_listener(keep)
    parts.start()
    engine.send(cmd.Play())
    while not engine.metrics.primed:
        time.sleep(0.01)
    base_underruns = engine.metrics.underruns
    base_device = engine.metrics.device_underflows
    t_end = time.perf_counter() + seconds
    last_bar, level, changes = 0, QUIET, 0
    while time.perf_counter() < t_end:
        reading = engine.clock_map.reading(engine.ring.read_position)
        if reading is not None and reading.bar != last_bar and reading.beat >= 2:  # once a bar, mid-bar
            last_bar = reading.bar
            level = LOUD if level == QUIET else QUIET
            mailbox.set(LOUDNESS.name, level)
            engine.wake()
            changes += 1
        time.sleep(0.005)
    time.sleep(2.5)  # the last change lands on the next bar line and plays
    m = engine.metrics
    heard_until = engine.ring.read_position
    clock = engine.clock_map
    status = backend.status()
    parts.stop()
    first = next((p.start for p in clock.pieces if p.tempo is not None), 0)
    bar_frames = 4 * 60.0 / BPM * rate
    unit = unit_stream(fake, start_values, prompts, heard_until)
    centres = change_centres(played[:heard_until], unit, QUIET, LOUD)
    offsets_ms = offsets_to_bar_lines(centres, first, bar_frames) * 1000.0 / rate
    return {
        "device": f"{status.backend}: {status.device_name}",
        "changes_made": changes,
        "changes_heard": int(len(centres)),
        "landings": m.landings,
        "underruns": m.underruns - base_underruns,
        "device_underflows": m.device_underflows - base_device,
        "offsets_ms": offsets_ms.tolist(),
    }

