"""Offline rendering through the same engine code that plays live: the worker is stepped synchronously
and the output stage is pulled buffer by buffer, as an audio device would, only as fast as the CPU goes."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from lmd_studio.core.generator import BlockGenerator
from lmd_studio.engine import commands as cmd
from lmd_studio.engine.worker import EngineConfig, GenerationEngine
from lmd_studio.rt.mailbox import ParamMailbox


@dataclass(frozen=True, slots=True)
class RenderResult:
    path: Path
    frames: int
    sample_rate_hz: int
    seconds: float
    wall_s: float
    peak: float

    @property
    def speed_x_realtime(self) -> float:
        return self.seconds / self.wall_s if self.wall_s > 0 else float("inf")


def render_to_file(generator: BlockGenerator, mailbox: ParamMailbox, seconds: float, path: str | Path,
                   sample_rate_hz: int | None = None, channels: int = 2, subtype: str = "PCM_24",
                   seed: int = 0, progress: Callable[[float], None] | None = None,
                   buffer_frames: int = 1024) -> RenderResult:
    """Render `seconds` of audio to `path` (format from the suffix: .wav, .flac)."""
    if seconds <= 0:
        raise ValueError(f"render length must be > 0 s, got {seconds}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    rate = int(sample_rate_hz or generator.sample_rate)
    engine = GenerationEngine(generator, mailbox, EngineConfig(
        device_sample_rate_hz=rate, device_channels=channels, prime_blocks=1, ahead_s=1.0, ring_s=4.0,
        low_latency=False, safe_mode=False, capture=False, seed=seed), max_buffer_frames=buffer_frames)
    engine.send(cmd.Play())
    total = int(round(seconds * rate))
    buf = np.zeros((buffer_frames, channels), dtype=np.float32)
    done = 0
    peak = 0.0
    t0 = time.perf_counter()
    with sf.SoundFile(str(path), "w", samplerate=rate, channels=channels, subtype=subtype) as fh:
        while done < total:
            n = min(buffer_frames, total - done)
            while engine.ring.readable_frames < n or not engine.output.primed:
                engine.step()
            out = buf[:n]
            engine.output.render(out)
            fh.write(out)
            peak = max(peak, float(np.abs(out).max()))
            done += n
            if progress is not None:
                progress(done / total)
    if engine.stats.last_error:
        raise RuntimeError(f"generator failed while rendering: {engine.stats.last_error}")
    return RenderResult(path, done, rate, done / rate, time.perf_counter() - t0, peak)
