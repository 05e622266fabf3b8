"""Writing one fixed range of a RetroBuffer to disk (called on a worker thread or the caller's thread).

The frames go from the ring to the file writer one chunk at a time: a 5-minute range never exists as a
second copy in memory or on disk. A timeline selection is written the same way, its pieces (the selection
less its dropouts) back to back.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from lmd_studio.engine.audio_file import AudioFileError, AudioFileWriter
from lmd_studio.engine.flac_repair import salvage
from lmd_studio.engine.retro_types import RetroRange, RetroRing, Selection
from lmd_studio.engine.sinks import RecordingResult
from lmd_studio.engine.take_files import (
    build_sidecar,
    iso_from_epoch,
    now_iso,
    sidecar_path_for,
    write_sidecar,
)
from lmd_studio.engine.take_lock import TakeLock


def write_range(retro: RetroRing, rng: RetroRange, path: Path, fmt: str,
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
        selection = rng.selection
        if selection is None:
            return build_sidecar(
                audio_path=path, fmt=fmt, sample_rate_hz=cfg.sample_rate_hz, channels=cfg.channels,
                metadata=metadata, status=status, started_at=started_at, ended_at=ended_at,
                start_position_frames=rng.start_stream_position, end_position_frames=end_stream,
                frames_written=frames, dropped_frames=0, silence_filled_frames=0, events=rng.events,
                error=error, kind="retro") | {"saved_at": now_iso()}
        return _selection_sidecar(rng, selection, path, fmt, cfg.sample_rate_hz, cfg.channels, metadata, status,
                                  frames, error, ended_at)

    try:
        writer = retro.writer_factory(path, cfg.sample_rate_hz, cfg.channels, fmt, overwrite=overwrite)
    except AudioFileError as exc:
        return result(0, str(exc))
    lock = TakeLock(path)  # until the final sidecar: start-up recovery must not take this for a crashed save
    try:
        return result(*_write_and_finish(retro, rng, path, fmt, writer, sidecar_path, sidecar))
    finally:
        lock.release()


def _selection_sidecar(rng: RetroRange, selection: Selection, path: Path, fmt: str, rate: int, channels: int,
                       metadata: dict[str, Any], status: str, frames: int, error: str | None,
                       range_ended_at: str | None) -> dict[str, Any]:
    """A selection's sidecar: its positions (first frame, end of the last piece), the frames its dropouts
    took out, and wall times counted back from the wall clock of the newest frame the buffer held."""
    side = build_sidecar(
        audio_path=path, fmt=fmt, sample_rate_hz=rate, channels=channels, metadata=metadata, status=status,
        started_at=None, ended_at=None, start_position_frames=selection.first,
        end_position_frames=selection.end_position, frames_written=frames, dropped_frames=0,
        silence_filled_frames=0, events=rng.events, error=error, kind="selection")
    side |= {"saved_at": now_iso(), "dropouts_left_out_frames": selection.left_out_frames}
    side.update(_wall_times(range_ended_at, rng.n_frames / rate, frames / float(rate)))
    return side


def _wall_times(range_ended_at: str | None, start_before_end_s: float, duration_s: float) -> dict[str, Any]:
    """started_at/ended_at of a selection, from the wall clock of the newest frame the buffer held."""
    if not range_ended_at:
        return {"started_at": None, "ended_at": None}
    try:
        end = dt.datetime.fromisoformat(range_ended_at)
    except ValueError:
        return {"started_at": None, "ended_at": None}
    start = end - dt.timedelta(seconds=start_before_end_s)
    stop = start + dt.timedelta(seconds=duration_s)
    return {"started_at": start.isoformat(timespec="milliseconds"),
            "ended_at": stop.isoformat(timespec="milliseconds")}


def _write_and_finish(retro: RetroRing, rng: RetroRange, path: Path, fmt: str, writer: AudioFileWriter,
                      sidecar_path: Path, sidecar: Callable[[str, int, str | None], dict[str, Any]],
                      ) -> tuple[int, str | None]:
    """Copy the range into `writer` and write the sidecars; (frames a reader finds, error or None)."""
    cfg = retro.config
    error: str | None = None
    try:
        write_sidecar(sidecar_path, sidecar("recording", 0, None))
        chunk = np.empty((max(1, int(cfg.copy_chunk_s * cfg.sample_rate_hz)), cfg.channels), np.float32)  # [T, C]
        copied = 0
        for counter, end in rng.counter_pieces:
            while counter < end:
                n = min(len(chunk), end - counter)
                if not retro.copy_out(counter, chunk[:n]):
                    raise AudioFileError(
                        f"{path}: the save fell more than {cfg.slack_s:.0f} s behind the live audio and the "
                        f"rest of the requested range was overwritten; saved the first "
                        f"{copied / cfg.sample_rate_hz:.1f} s")
                writer.write(chunk[:n])
                counter += n
                copied += n
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
