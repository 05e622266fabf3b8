"""One take in progress: the bounded queue from the capture thread and the writer thread that empties it.

`push` (capture thread) copies, appends under a lock held only for the append, and wakes the writer; it
never raises. The writer thread writes in stream order, writes short stream gaps (frames the capture ring
or this queue dropped) as silence so that file positions stay on the stream's timeline, flushes the file
every `flush_interval_s`, and on any I/O error closes what it has (a valid, shorter file), records the
error and stops accepting frames. From creation until `finish` the take holds a TakeLock on its audio
file, so start-up recovery never mistakes it for one a crash cut off.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import deque
from typing import Any

import numpy as np

from lmd_studio.engine.audio_file import AudioFileError, AudioFileWriter
from lmd_studio.engine.flac_repair import salvage
from lmd_studio.engine.recorder_config import RecorderConfig
from lmd_studio.engine.sinks import RecordingResult
from lmd_studio.engine.take_files import build_sidecar, now_iso, sidecar_path_for, write_sidecar
from lmd_studio.engine.take_lock import TakeLock


class TakeWriter:
    def __init__(self, writer: AudioFileWriter, metadata: dict[str, Any], config: RecorderConfig,
                 kind: str, started_at: str, fields: dict[str, Any] | None = None) -> None:
        self._writer = writer
        self._meta = metadata
        self._config = config
        self._kind = kind
        self.path = writer.path
        self.sidecar_path = sidecar_path_for(writer.path)
        self.sample_rate_hz = writer.sample_rate_hz
        self.channels = writer.channels
        self._started_at = started_at
        self._ended_at: str | None = None
        self._max_queued_frames = max(1, int(config.max_queue_s * self.sample_rate_hz))
        self._max_fill_frames = int(config.max_silence_fill_s * self.sample_rate_hz)
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._chunks: deque[tuple[int, np.ndarray]] = deque()
        self._queued_frames = 0
        self._accepting = True
        self._stopping = False
        self._events: list[dict[str, Any]] = []
        self._events_dirty = False
        self._last_end_position: int | None = None  # capture side: end of the newest pushed block
        # writer side
        self._start_position: int | None = None
        self._next_position: int | None = None
        self._silence = np.zeros((min(self.sample_rate_hz, 65536), self.channels), dtype=np.float32)
        self.frames_written = 0
        self.dropped_frames = 0
        self.silence_filled_frames = 0
        self.discontinuities = 0  # backward jumps or gaps too long to fill: the file is spliced there
        self.clipped_samples = 0  # samples beyond full scale, clipped when written
        self.error: str | None = None
        self._stats: dict[str, Any] = {}  # what the app measured around the take (set_stats)
        self._fields: dict[str, Any] = dict(fields or {})  # the sidecar's own top-level entries (set_field)
        self._stats_in_sidecar: dict[str, Any] | None = None  # the stats the last sidecar was built from
        self._final_status: str | None = None  # set once the writer thread wrote its last sidecar
        self._lock_file = TakeLock(self.path)
        self._thread = threading.Thread(target=self._run, name=f"lmd-recorder:{self.path.name}", daemon=True)

    def start_thread(self) -> None:
        self._thread.start()

    # --- capture thread -----------------------------------------------------------------------------
    def push(self, frames: np.ndarray, start_position: int) -> None:
        if not self._accepting:
            return
        if frames.ndim != 2 or frames.shape[1] != self.channels:
            self._fail_from_capture(f"capture delivered frames of shape {frames.shape} to a "
                                    f"{self.channels}-channel take; recording stopped")
            return
        n = frames.shape[0]
        copy = np.array(frames, dtype=np.float32, copy=True)  # the caller reuses its buffer
        with self._lock:
            # re-checked under the lock: stop() on another thread may have cleared the flag since the check
            # above, which mypy's narrowing cannot know
            if not self._accepting:
                return  # type: ignore[unreachable]
            self._last_end_position = start_position + n
            if self._queued_frames + n > self._max_queued_frames:
                self.dropped_frames += n  # the writer is behind: drop, never wait
                return
            self._chunks.append((int(start_position), copy))
            self._queued_frames += n
        self._wake.set()

    def _fail_from_capture(self, message: str) -> None:
        with self._lock:
            self._accepting = False
            self.error = self.error or message
        self._wake.set()

    # --- app threads ----------------------------------------------------------------------------------
    def note_event(self, event: dict[str, Any]) -> None:
        with self._lock:
            stamped = {"time": now_iso(), **event}
            if "position_frames" not in stamped and self._last_end_position is not None:
                stamped["position_frames"] = self._last_end_position
            self._events.append(stamped)
            self._events_dirty = True
        self._wake.set()

    def set_stats(self, stats: dict[str, Any]) -> None:
        """Replace what the app measured around the take (engine dropouts, clipping, steps); it goes into
        the next sidecar written, and `finish` rewrites the final one if it was written before this."""
        with self._lock:
            self._stats = dict(stats)

    def set_field(self, name: str, value: Any) -> None:
        """A top-level sidecar entry (a multi-track take's `alignment`), in the next sidecar written."""
        with self._lock:
            self._fields = {**self._fields, name: value}

    def discard(self) -> None:
        """The take never started (its sidecar, or another file of the take, could not be written): let go
        of the file and remove it and its sidecar."""
        self._lock_file.release()
        with contextlib.suppress(AudioFileError):
            self._writer.close()
        self.path.unlink(missing_ok=True)
        self.sidecar_path.unlink(missing_ok=True)

    def finish(self, timeout_s: float) -> RecordingResult:
        with self._lock:
            self._accepting = False
            self._stopping = True
        self._ended_at = self._ended_at or now_iso()
        self._wake.set()
        self._thread.join(timeout_s)
        error = self.error
        if self._thread.is_alive():
            error = f"{self.path}: the disk did not finish writing within {timeout_s:.0f} s; the file may be incomplete"
        else:
            with self._lock:
                final = self._final_status if self._stats_in_sidecar is not self._stats else None
            if final is not None:  # the writer failed and wrote its sidecar before the app's figures came
                self._finish_sidecar(final)
                error = self.error
            self._lock_file.release()
        return RecordingResult(path=self.path, sidecar_path=self.sidecar_path, frames_written=self.frames_written,
                               sample_rate_hz=self.sample_rate_hz, error=error, dropped_frames=self.dropped_frames)

    def sidecar(self, status: str) -> dict[str, Any]:
        with self._lock:
            events = [dict(e) for e in self._events]
            self._events_dirty = False
            stats = self._stats_in_sidecar = self._stats
            fields = dict(self._fields)
        return build_sidecar(
            audio_path=self.path, fmt=self._writer.fmt, sample_rate_hz=self.sample_rate_hz,
            channels=self.channels, metadata=self._meta, status=status, started_at=self._started_at,
            ended_at=self._ended_at, start_position_frames=self._start_position, end_position_frames=self._next_position,
            frames_written=self.frames_written, dropped_frames=self.dropped_frames,
            silence_filled_frames=self.silence_filled_frames, events=events, error=self.error, kind=self._kind,
            clipped_samples=self.clipped_samples, take_stats=stats, fields=fields)

    # --- writer thread -----------------------------------------------------------------------------------
    def _run(self) -> None:
        cfg = self._config
        last_flush = last_sync = last_sidecar = time.monotonic()
        try:
            while True:
                self._wake.wait(cfg.flush_interval_s)
                self._wake.clear()  # before draining: a push after this sets it again
                with self._lock:
                    chunks, self._chunks = self._chunks, deque()
                    self._queued_frames = 0
                    stopping = self._stopping or not self._accepting
                    events_dirty = self._events_dirty
                    stream_end = self._last_end_position
                for position, data in chunks:
                    self._write_chunk(position, data)
                if stopping and stream_end is not None and self._next_position is not None:
                    self._fill_gap(stream_end)  # blocks dropped at the very end still count as time
                now = time.monotonic()
                if stopping or now - last_flush >= cfg.flush_interval_s:
                    do_sync = cfg.fsync_interval_s > 0 and now - last_sync >= cfg.fsync_interval_s
                    self._writer.flush(fsync=do_sync)
                    last_flush, last_sync = now, (now if do_sync else last_sync)
                if stopping:
                    break
                if events_dirty and now - last_sidecar >= cfg.sidecar_interval_s:
                    write_sidecar(self.sidecar_path, self.sidecar("recording"))
                    last_sidecar = now
            self._writer.close()
        except (AudioFileError, OSError) as exc:
            self._on_write_error(str(exc) if isinstance(exc, AudioFileError) else f"{self.path}: {exc}")
            return
        except Exception as exc:  # noqa: BLE001 — a bug must still leave a closed file and a visible error
            self._on_write_error(f"{self.path}: internal recorder error: {exc!r}")
            return
        if self.error is not None:  # the capture side failed the take (wrong channel count)
            self._finish_sidecar("failed")
        else:
            self._finish_sidecar("complete")

    def _write_chunk(self, position: int, data: np.ndarray) -> None:
        if self._next_position is None:
            self._start_position = position
        elif position > self._next_position:
            self._fill_gap(position)
        elif position < self._next_position:
            self.discontinuities += 1
        self._writer.write(data)
        self.clipped_samples += int(np.count_nonzero(np.abs(data) > 1.0))
        self.frames_written += len(data)
        self._next_position = position + len(data)

    def _fill_gap(self, position: int) -> None:
        gap = position - (self._next_position or 0)
        if 0 < gap <= self._max_fill_frames:
            self._write_silence(gap)
            self._next_position = position
        elif gap > 0:
            self.discontinuities += 1

    def _write_silence(self, n_frames: int) -> None:
        while n_frames > 0:
            n = min(n_frames, len(self._silence))
            self._writer.write(self._silence[:n])
            self.frames_written += n
            self.silence_filled_frames += n
            n_frames -= n

    def _on_write_error(self, message: str) -> None:
        with self._lock:
            self._accepting = False
            self._chunks.clear()
            self.error = message
        self._ended_at = self._ended_at or now_iso()
        with contextlib.suppress(AudioFileError):
            self._writer.close()  # final header from what reached the disk
        try:  # report what a reader will find, not what we meant to write
            self.frames_written = salvage(self.path, self._writer.fmt)
        except AudioFileError as exc:
            self.error = f"{message}; {exc}"
        self._finish_sidecar("failed")

    def _finish_sidecar(self, status: str) -> None:
        self._final_status = status
        try:
            write_sidecar(self.sidecar_path, self.sidecar(status))
        except OSError as exc:
            note = f"the sidecar {self.sidecar_path} could not be updated ({exc.strerror or exc})"
            self.error = f"{self.error}; {note}" if self.error else note
