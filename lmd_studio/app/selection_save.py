"""Saving a stretch of the past that the player selected on the timeline.

The RetroBuffer saves "the last N seconds"; a selection ends somewhere in the past. So: save the last
stretch reaching back to the selection's start (plus a margin, since live audio moves on while the job
starts) to a temporary file, then copy just the selected frames into the final file and rewrite the
sidecar for them (positions, duration, the events inside the selection, kind "selection").
"""

from __future__ import annotations

import contextlib
import datetime as dt
from pathlib import Path
from typing import Any

import soundfile as sf

from lmd_studio.app.jobs import BackgroundJob
from lmd_studio.engine.audio_file import AudioFileWriter
from lmd_studio.engine.retro import RetroBuffer
from lmd_studio.engine.sinks import RecordingResult
from lmd_studio.engine.take_files import read_sidecar, sidecar_path_for, write_sidecar

_MARGIN_S = 5.0
_CHUNK_FRAMES = 65536


def save_span(retro: RetroBuffer, capture_start: int, capture_end: int, capture_end_now: int, path: Path,
              fmt: str, metadata: dict[str, Any], job: BackgroundJob | None = None,
              gaps: tuple[tuple[int, int], ...] = ()) -> RecordingResult:
    """Save capture positions [capture_start, capture_end) to `path`, leaving out the `gaps` (capture
    ranges the device played while the stream stood still: the selected music, without the dropouts)."""
    rate = retro.config.sample_rate_hz
    if capture_end <= capture_start:
        raise ValueError(f"{path.name}: the selection is empty")
    seconds = (capture_end_now - capture_start) / rate + _MARGIN_S
    tmp = path.with_name(f".partial-{path.name}")
    tmp_sidecar = sidecar_path_for(tmp)
    try:
        if job:
            job.progress(0.05, "copying from the retro buffer")
        saved = retro.save_last(seconds, tmp, fmt, metadata)
        if not saved.ok:
            return RecordingResult(path, sidecar_path_for(path), 0, rate, error=saved.error)
        side = read_sidecar(tmp_sidecar)
        file_start = side.get("start_position_frames")
        if file_start is None:
            raise ValueError(f"{tmp}: the retro save has no stream position; cannot locate the selection")
        first = max(capture_start, file_start)
        last = min(capture_end, file_start + saved.frames_written)
        if last <= first:
            return RecordingResult(path, sidecar_path_for(path), 0, rate,
                                   error="the selected audio is no longer in the retro buffer")
        if job:
            job.progress(0.5, "writing the selection")
        keep = _without(first, last, gaps)
        writer = AudioFileWriter(path, rate, retro.config.channels, fmt)
        try:
            with sf.SoundFile(str(tmp)) as src:
                for a, b in keep:
                    src.seek(a - file_start)
                    left = b - a
                    while left > 0:
                        block = src.read(min(_CHUNK_FRAMES, left), dtype="float32", always_2d=True)
                        if not len(block):
                            break
                        writer.write(block)
                        left -= len(block)
        finally:
            writer.close()
        frames = writer.frames_written
        side.update({
            "kind": "selection", "status": "complete", "audio_file": path.name,
            "start_position_frames": first, "end_position_frames": keep[-1][1] if keep else first,
            "frames_written": frames, "duration_s": frames / float(rate),
            "dropouts_left_out_frames": (last - first) - sum(b - a for a, b in keep),
            "events": [e for e in side.get("events", [])
                       if any(a <= e.get("position_frames", -1) < b for a, b in keep)],
        })
        side.update(_wall_times(side.get("ended_at"), (file_start + saved.frames_written - first) / rate,
                                frames / float(rate)))
        write_sidecar(sidecar_path_for(path), side)
        return RecordingResult(path, sidecar_path_for(path), frames, rate)
    finally:
        for p in (tmp, tmp_sidecar):
            with contextlib.suppress(OSError):
                p.unlink()


def _without(first: int, last: int, gaps: tuple[tuple[int, int], ...]) -> list[tuple[int, int]]:
    """[first, last) less the gap ranges, as ordered non-empty ranges."""
    keep, pos = [], first
    for a, b in sorted(gaps):
        a, b = max(a, pos), min(b, last)
        if b <= a:
            continue
        keep.append((pos, a))
        pos = b
    keep.append((pos, last))
    return [(a, b) for a, b in keep if b > a]


def _wall_times(file_ended_at: str | None, start_before_end_s: float, duration_s: float) -> dict[str, Any]:
    """started_at/ended_at of the selection, from the wall clock of the saved stretch's last frame."""
    if not file_ended_at:
        return {"started_at": None, "ended_at": None}
    try:
        end = dt.datetime.fromisoformat(file_ended_at)
    except ValueError:
        return {"started_at": None, "ended_at": None}
    start = end - dt.timedelta(seconds=start_before_end_s)
    stop = start + dt.timedelta(seconds=duration_s)
    return {"started_at": start.isoformat(timespec="milliseconds"),
            "ended_at": stop.isoformat(timespec="milliseconds")}
