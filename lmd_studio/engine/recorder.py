"""Recorder: a CaptureSink that writes takes to 24-bit WAV/FLAC on its own writer thread.

Threads: `consume` (capture thread) copies the frames into a bounded queue and returns; the take's writer
thread drains the queue, writes, and flushes the file at least every `flush_interval_s` so a killed process
leaves a valid file missing at most that much. `start`/`stop`/`note_event` come from the app (any thread);
`error` is a plain attribute read the UI can poll. The queue is bounded in frames: when the disk stalls,
new frames are counted as dropped and later written as silence, so the capture thread never waits.

With `tracks` (the audio input on), a take is three files written from the aligned stretches that come
through `consume_tracks` (take_tracks.py): the mix, the input and the generated part, sample-aligned; the
plain `consume` then only tells where the capture stands, so the files start and stop where a one-file
take would.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from lmd_studio.engine.audio_file import DEFAULT_FORMAT, AudioFileError, AudioFileWriter, check_format
from lmd_studio.engine.recorder_config import RecorderConfig
from lmd_studio.engine.sinks import AlignedTracks, RecordingResult
from lmd_studio.engine.take_files import (
    TRACK_NAMES,
    checked_metadata,
    now_iso,
    sidecar_path_for,
    track_path,
    write_sidecar,
)
from lmd_studio.engine.take_tracks import TrackFormat, TrackTakes
from lmd_studio.engine.take_writer import TakeWriter

WriterFactory = Callable[..., AudioFileWriter]  # (path, sample_rate_hz, channels, fmt, overwrite=)


class Recorder:
    """Records takes on request; stays registered as a sink and ignores frames while idle."""

    def __init__(self, config: RecorderConfig | None = None,
                 writer_factory: WriterFactory = AudioFileWriter) -> None:
        self.config = config or RecorderConfig()
        self._writer_factory = writer_factory
        self._take: TakeWriter | None = None
        self._tracks: TrackTakes | None = None  # a multi-track take's writers (set before _take)
        self._capture_end: int | None = None  # capture position just past the newest frame seen
        self.track_wait_s = 3.0  # how long stop() waits for the input tracks to catch up with the capture
        self._control_lock = threading.Lock()  # serialises start/stop callers, never taken by consume
        self._last_error: str | None = None

    # --- capture thread ---------------------------------------------------------------------------
    def consume(self, frames: np.ndarray, start_position: int) -> None:
        self._capture_end = start_position + frames.shape[0]
        tracks = self._tracks  # read before the take: start() sets it first
        take = self._take  # one reference read: start/stop swap it atomically
        if take is not None and tracks is None:
            take.push(frames, start_position)

    def consume_tracks(self, aligned: AlignedTracks, start_position: int) -> None:
        tracks = self._tracks
        if tracks is not None:
            tracks.push(aligned, start_position, self._capture_end)

    # --- app side -----------------------------------------------------------------------------------
    def start(self, path: Path | str, sample_rate_hz: int, channels: int, fmt: str = DEFAULT_FORMAT,
              metadata: Mapping[str, Any] | None = None, overwrite: bool = False,
              tracks: TrackFormat | None = None) -> Path:
        """Open `path` (folders are created) and record from the next captured block on; with `tracks`, also
        `track_path(path, "input")` and `track_path(path, "generated")`.

        An existing file is an error unless `overwrite` (take_files.pick_free_path picks a free name).

        Raises ValueError for bad arguments and AudioFileError (message naming the file and the reason:
        read-only, disk full, a file where a folder should be) when a file or its sidecar cannot be
        created; `error` then says the same."""
        path = Path(path)
        fmt = check_format(fmt)
        meta = checked_metadata(metadata, f"recording {path}")
        alignment = checked_metadata(tracks.alignment if tracks else None, "track alignment")
        with self._control_lock:
            if self._take is not None:
                raise RuntimeError(f"already recording to {self._take.path}; stop() it first")
            self._last_error = None
            mix_fields, track_fields = TrackTakes.fields_for(path, alignment) if tracks else ({}, {})
            opened: list[TakeWriter] = []
            try:
                take = self._open(path, sample_rate_hz, channels, fmt, meta, overwrite, "take", mix_fields)
                opened.append(take)
                if tracks is not None:
                    for name in TRACK_NAMES:
                        ch = tracks.input_channels if name == "input" else channels
                        opened.append(self._open(track_path(path, name), sample_rate_hz, ch, fmt, meta,
                                                 overwrite, "track", track_fields[name]))
            except AudioFileError:
                for writer in opened:
                    writer.discard()
                raise
            for writer in opened:
                writer.start_thread()
            if tracks is not None:
                self._tracks = TrackTakes(opened[0], opened[1], opened[2], alignment, self._capture_end)
            self._take = take
            return path

    def _open(self, path: Path, rate: int, channels: int, fmt: str, meta: dict[str, Any], overwrite: bool,
              kind: str, fields: dict[str, Any]) -> TakeWriter:
        """One file and its first sidecar, not started; AudioFileError (and `error` set) when either fails."""
        try:
            writer = self._writer_factory(path, int(rate), int(channels), fmt, overwrite=overwrite)
        except AudioFileError as exc:
            self._last_error = str(exc)
            raise
        take = TakeWriter(writer, meta, self.config, kind=kind, started_at=now_iso(), fields=fields)
        try:
            write_sidecar(take.sidecar_path, take.sidecar("recording"))
        except OSError as exc:
            take.discard()
            self._last_error = f"cannot write the sidecar {sidecar_path_for(path)}: {exc.strerror or exc}"
            raise AudioFileError(self._last_error) from exc
        return take

    def note_event(self, event: Mapping[str, Any]) -> bool:
        """Add a prompt/parameter change to the take's sidecar; False (ignored) when not recording.

        Stamped with `time` (ISO 8601) and, unless the caller gives one, `position_frames`: the end of the
        last captured block, which trails the audible output by the capture period (~20 ms)."""
        take = self._take
        if take is None:
            return False
        take.note_event(checked_metadata(event, "recorder event"))
        return True

    def stop(self, stats: Mapping[str, Any] | None = None) -> RecordingResult:
        """Finish the take: drain the queue, close the file, rewrite the sidecar. Blocks until done (or
        until `stop_timeout_s` on a stuck disk, reported in the result's error).

        `stats`: what the caller measured around the take (engine underruns, clipping, the steps the
        blocks ran with; see take_files.build_sidecar), stored in the final sidecar."""
        checked = checked_metadata(stats, "recorder stats") if stats is not None else None
        with self._control_lock:
            take = self._take
            if take is None:
                raise RuntimeError("stop() called while not recording")
            # the writer's failure stays visible to `error` while the take finishes (seconds on a slow disk)
            self._last_error = take.error
            tracks = self._tracks
            late = ""
            if tracks is not None and not tracks.stop_at(self._capture_end, self.track_wait_s):
                late = f"the input track did not catch up within {self.track_wait_s:.0f} s; the files end early"
            self._take = None  # consume() stops feeding it from here on
            self._tracks = None
            if checked is not None:
                take.set_stats(checked)
            result = take.finish(self.config.stop_timeout_s)
            if tracks is not None:
                errors = [late] if late else []
                for name, writer in tracks.writers.items():
                    track_result = writer.finish(self.config.stop_timeout_s)
                    if track_result.error:
                        errors.append(f"{name} track: {track_result.error}")
                if errors:
                    result = replace(result, error="; ".join(filter(None, [result.error, *errors])))
            self._last_error = result.error
            return result

    # --- polled by the UI -----------------------------------------------------------------------------
    @property
    def is_recording(self) -> bool:
        return self._take is not None

    @property
    def error(self) -> str | None:
        take = self._take
        return take.error if take is not None else self._last_error

    @property
    def path(self) -> Path | None:
        take = self._take
        return take.path if take is not None else None

    @property
    def frames_written(self) -> int:
        take = self._take
        return take.frames_written if take is not None else 0

    @property
    def dropped_frames(self) -> int:
        take = self._take
        return take.dropped_frames if take is not None else 0

    @property
    def elapsed_s(self) -> float:
        take = self._take
        return take.frames_written / take.sample_rate_hz if take is not None else 0.0

