"""Writing one fixed range of a RetroBuffer to disk (called on a worker thread or the caller's thread)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from lmd_studio.engine.audio_file import AudioFileError, AudioFileWriter
from lmd_studio.engine.flac_repair import salvage
from lmd_studio.engine.sinks import RecordingResult
from lmd_studio.engine.take_files import (
    build_sidecar,
    iso_from_epoch,
    now_iso,
    sidecar_path_for,
    write_sidecar,
)
from lmd_studio.engine.take_lock import TakeLock

if TYPE_CHECKING:
    from lmd_studio.engine.retro import RetroBuffer


@dataclass(frozen=True, slots=True)
class RetroRange:
    """What to save, fixed when the user asked (so a queued save still gets the moment they meant)."""

    start_counter: int  # ring counter of the first frame
    n_frames: int
    start_stream_position: int | None
    end_wall_s: float | None  # wall clock when the last frame was captured
    events: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.n_frames < 0 or self.start_counter < 0:
            raise ValueError(f"RetroRange: negative frames or counter ({self.n_frames}, {self.start_counter})")


def write_range(retro: RetroBuffer, rng: RetroRange, path: Path, fmt: str,
                metadata: dict[str, Any], overwrite: bool = False) -> RecordingResult:
    cfg = retro.config
    sidecar_path = sidecar_path_for(path)

    def result(frames: int, error: str | None) -> RecordingResult:
        return RecordingResult(path=path, sidecar_path=sidecar_path, frames_written=frames,
                               sample_rate_hz=cfg.sample_rate_hz, error=error)

    if rng.n_frames == 0:
        return result(0, "nothing captured yet: the retro buffer is empty")
    duration_s = rng.n_frames / cfg.sample_rate_hz
    end_wall = rng.end_wall_s
    started_at = None if end_wall is None else iso_from_epoch(end_wall - duration_s)
    ended_at = None if end_wall is None else iso_from_epoch(end_wall)
    end_stream = None if rng.start_stream_position is None else rng.start_stream_position + rng.n_frames

    def sidecar(status: str, frames: int, error: str | None) -> dict[str, Any]:
        return build_sidecar(
            audio_path=path, fmt=fmt, sample_rate_hz=cfg.sample_rate_hz, channels=cfg.channels,
            metadata=metadata, status=status, started_at=started_at, ended_at=ended_at,
            start_position_frames=rng.start_stream_position, end_position_frames=end_stream,
            frames_written=frames, dropped_frames=0, silence_filled_frames=0, events=rng.events,
            error=error, kind="retro") | {"saved_at": now_iso()}

    try:
        writer = retro.writer_factory(path, cfg.sample_rate_hz, cfg.channels, fmt, overwrite=overwrite)
    except AudioFileError as exc:
        return result(0, str(exc))
    lock = TakeLock(path)  # until the final sidecar: start-up recovery must not take this for a crashed save
    try:
        return result(*_write_and_finish(retro, rng, path, fmt, writer, sidecar_path, sidecar))
    finally:
        lock.release()


def _write_and_finish(retro: RetroBuffer, rng: RetroRange, path: Path, fmt: str, writer: AudioFileWriter,
                      sidecar_path: Path, sidecar: Callable[[str, int, str | None], dict[str, Any]],
                      ) -> tuple[int, str | None]:
    """Copy the range into `writer` and write the sidecars; (frames a reader finds, error or None)."""
    cfg = retro.config
    error: str | None = None
    try:
        write_sidecar(sidecar_path, sidecar("recording", 0, None))
        chunk = np.empty((max(1, int(cfg.copy_chunk_s * cfg.sample_rate_hz)), cfg.channels), np.float32)  # [T, C]
        counter, end = rng.start_counter, rng.start_counter + rng.n_frames
        while counter < end:
            n = min(len(chunk), end - counter)
            if not retro.copy_out(counter, chunk[:n]):
                raise AudioFileError(
                    f"{path}: the save fell more than {cfg.slack_s:.0f} s behind the live audio and the "
                    f"rest of the requested range was overwritten; saved the first "
                    f"{(counter - rng.start_counter) / cfg.sample_rate_hz:.1f} s")
            writer.write(chunk[:n])
            counter += n
        writer.close()
    except (AudioFileError, OSError) as exc:
        error = str(exc) if isinstance(exc, AudioFileError) else f"{path}: {exc.strerror or exc}"
        with contextlib.suppress(AudioFileError):
            writer.close()
    frames = writer.frames_written
    if error is not None:
        try:  # what a reader will find, not what we meant to write
            frames = salvage(path, fmt)
        except AudioFileError as exc:
            error, frames = f"{error}; {exc}", 0
    try:
        write_sidecar(sidecar_path, sidecar("failed" if error else "complete", frames, error))
    except OSError as exc:
        note = f"the sidecar {sidecar_path} could not be written ({exc.strerror or exc})"
        error = f"{error}; {note}" if error else note
    return frames, error
