"""Offline rendering through the same engine code that plays live: the worker is stepped synchronously
and the output stage is pulled buffer by buffer, as an audio device would, only as fast as the CPU goes.

The file is written to a temporary name in the destination folder and renamed over `path` only when the
render succeeded: a failed render (generator error, full disk, Ctrl-C) leaves an existing file untouched
and no partial file behind. File-system failures raise AudioFileError naming `path` and the OS's reason.
"""

from __future__ import annotations

import contextlib
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lmd_studio.core.generator import BlockGenerator
from lmd_studio.engine import commands as cmd
from lmd_studio.engine.audio_file import (
    AudioFileError,
    AudioFileWriter,
    check_format,
    create_temp_beside,
    describe_os_error,
)
from lmd_studio.engine.worker import EngineConfig, GenerationEngine
from lmd_studio.rt.mailbox import ParamMailbox


class RenderError(RuntimeError):
    """The render could not be completed (the message is fit for the user)."""


@dataclass(frozen=True, slots=True)
class RenderResult:
    path: Path
    frames: int
    sample_rate_hz: int
    seconds: float
    wall_s: float
    peak: float  # largest |sample| written (after the limiter: at most its ceiling)
    peak_pre_limiter: float = 0.0  # what the peak would have been without the limiter
    clipped_samples_pre_limiter: int = 0  # samples the limiter caught above full scale (would have clipped)
    over_full_scale_samples: int = 0  # samples written at or above full scale (0)

    @property
    def speed_x_realtime(self) -> float:
        return self.seconds / self.wall_s if self.wall_s > 0 else float("inf")


def render_to_file(generator: BlockGenerator, mailbox: ParamMailbox, seconds: float, path: str | Path,
                   sample_rate_hz: int | None = None, channels: int = 2, seed: int = 0,
                   progress: Callable[[float], None] | None = None, buffer_frames: int = 1024) -> RenderResult:
    """Render `seconds` of audio to `path` (24-bit; format from the suffix: .wav, .flac)."""
    if not (math.isfinite(seconds) and seconds > 0):
        raise ValueError(f"render length must be a number of seconds > 0, got {seconds}")
    path = Path(path)
    fmt = check_format(path.suffix)
    rate = int(sample_rate_hz or generator.sample_rate)
    engine = GenerationEngine(generator, mailbox, EngineConfig(
        device_sample_rate_hz=rate, device_channels=channels, prime_blocks=1, ahead_s=1.0, ring_s=4.0,
        low_latency=False, safe_mode=False, capture=False, seed=seed), max_buffer_frames=buffer_frames)
    engine.send(cmd.Play())
    tmp = create_temp_beside(path)
    writer: AudioFileWriter | None = None
    try:
        writer = AudioFileWriter(tmp, rate, channels, fmt, overwrite=True)
        t0 = time.perf_counter()
        frames, peak = _pull(engine, writer, int(round(seconds * rate)), buffer_frames, progress)
        wall_s = time.perf_counter() - t0
        if engine.stats.last_error:
            raise RenderError(f"the generator failed while rendering {path.name}: {engine.stats.last_error}; "
                              f"{path} was not written")
        writer.close()
        try:
            os.replace(tmp, path)
        except OSError as exc:
            raise AudioFileError(f"cannot write {path}: {describe_os_error(exc)}") from exc
    except AudioFileError as exc:
        _discard(writer, tmp)
        raise AudioFileError(str(exc).replace(str(tmp), str(path))) from exc
    except BaseException:
        _discard(writer, tmp)
        raise
    out = engine.output
    return RenderResult(path, frames, rate, frames / rate, wall_s, peak,
                        peak_pre_limiter=out.limiter.input_peak if out.limiter is not None else peak,
                        clipped_samples_pre_limiter=out.clipped_samples_pre_limiter,
                        over_full_scale_samples=out.over_full_scale_samples)


def _pull(engine: GenerationEngine, writer: AudioFileWriter, total: int, buffer_frames: int,
          progress: Callable[[float], None] | None) -> tuple[int, float]:
    """Pull `total` frames through the output stage into `writer`; returns (frames, peak). The first
    frames out of the limiter are its look-ahead delay (silence), skipped so the file starts where the
    generator does."""
    skip = engine.output.limiter_latency_frames
    need = total + skip
    buf = np.zeros((buffer_frames, engine.config.device_channels), dtype=np.float32)
    pulled = written = 0
    peak = 0.0
    while pulled < need:
        n = min(buffer_frames, need - pulled)
        while engine.ring.readable_frames < n or not engine.output.primed:
            engine.step()
        out = buf[:n]
        engine.output.render(out)
        keep = out[max(0, skip - pulled):]
        pulled += n
        if keep.shape[0]:
            writer.write(keep)
            written += keep.shape[0]
            peak = max(peak, float(np.abs(keep).max()))
        if progress is not None:
            progress(pulled / need)
    return written, peak


def _discard(writer: AudioFileWriter | None, tmp: Path) -> None:
    """Close and delete the temporary file; the error that got us here is the one to report."""
    if writer is not None:
        with contextlib.suppress(AudioFileError):
            writer.close()
    with contextlib.suppress(OSError):
        tmp.unlink()
