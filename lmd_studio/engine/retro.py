"""RetroBuffer: always keeps the last minutes of output in RAM so a good moment can be saved afterwards.

A preallocated float32 ring ([capacity, channels], allocated once) is filled by `consume` on the capture
thread under a lock held only for one memcpy. `save_last` (the last N seconds) and `save_span` (a stretch
selected on the timeline, less its dropouts) fix the range to save at call time, then copy it out one
chunk at a time (each chunk under the lock, so it is never torn by a concurrent `consume`) straight into
the same 24-bit writer and sidecar as the Recorder. The ring holds `duration_s + slack_s`: the slack is
what a slow save may fall behind the live stream before the oldest part of its range would be
overwritten (reported as an error, never saved corrupted).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from lmd_studio.engine.audio_file import DEFAULT_FORMAT, AudioFileWriter, check_format
from lmd_studio.engine.retro_save import write_range
from lmd_studio.engine.retro_types import RetroConfig, RetroRange, Selection
from lmd_studio.engine.sinks import RecordingResult
from lmd_studio.engine.take_files import checked_metadata, now_iso, sidecar_path_for


class RetroBuffer:
    def __init__(self, config: RetroConfig, writer_factory: Callable[..., AudioFileWriter] = AudioFileWriter) -> None:
        self.config = config
        self.writer_factory = writer_factory  # used by retro_save.write_range
        self._capacity = config.capacity_frames
        # [T, C], preallocated and touched now (np.empty + fill, not np.zeros): zeros come from calloc'd
        # pages that only become resident as audio arrives, which reads as a memory leak for 5 minutes
        self._buf = np.empty((self._capacity, config.channels), dtype=np.float32)
        self._buf.fill(0.0)
        self._max_fill = int(config.max_silence_fill_s * config.sample_rate_hz)
        self._lock = threading.Lock()
        self._written = 0  # frames ever written into the ring (ring index = _written % capacity)
        self._next_stream_position: int | None = None
        self._last_wall_s: float | None = None  # wall clock when the newest frame was captured
        self._events: deque[dict[str, Any]] = deque(maxlen=config.max_events)
        self._executor: ThreadPoolExecutor | None = None
        self.rejected_frames = 0  # frames with the wrong channel count (a wiring bug upstream)
        self.discontinuities = 0

    # --- capture thread -----------------------------------------------------------------------------
    def consume(self, frames: np.ndarray, start_position: int) -> None:
        if frames.ndim != 2 or frames.shape[1] != self.config.channels:
            self.rejected_frames += int(frames.shape[0]) if frames.ndim else 1
            return
        n = frames.shape[0]
        with self._lock:
            expected = self._next_stream_position
            if expected is not None and start_position != expected:
                gap = start_position - expected
                if 0 < gap <= self._max_fill:
                    self._write_zeros(gap)  # keep the ring on the stream's timeline
                else:
                    self.discontinuities += 1
            self._write(frames)
            self._next_stream_position = start_position + n
            self._last_wall_s = time.time()

    def _write(self, frames: np.ndarray) -> None:
        n = frames.shape[0]
        if n >= self._capacity:  # only the newest `capacity` frames can be kept
            frames = frames[n - self._capacity:]
            self._written += n - self._capacity
            n = self._capacity
        i = self._written % self._capacity
        first = min(n, self._capacity - i)
        self._buf[i:i + first] = frames[:first]
        self._buf[:n - first] = frames[first:]
        self._written += n

    def _write_zeros(self, n: int) -> None:
        self._written += max(0, n - self._capacity)
        n = min(n, self._capacity)
        i = self._written % self._capacity
        first = min(n, self._capacity - i)
        self._buf[i:i + first] = 0.0
        self._buf[:n - first] = 0.0
        self._written += n

    # --- app side -------------------------------------------------------------------------------------
    def note_event(self, event: Mapping[str, Any]) -> None:
        """Remember a prompt/parameter change; saves include the events inside their range."""
        stamped = {"time": now_iso(), **checked_metadata(event, "retro event")}
        with self._lock:
            if "position_frames" not in stamped and self._next_stream_position is not None:
                stamped["position_frames"] = self._next_stream_position
            self._events.append(stamped)

    @property
    def available_frames(self) -> int:
        return min(self._written, self.config.duration_frames)

    @property
    def available_s(self) -> float:
        return self.available_frames / self.config.sample_rate_hz

    def save_last(self, seconds: float, path: Path | str, fmt: str = DEFAULT_FORMAT,
                  metadata: Mapping[str, Any] | None = None, overwrite: bool = False) -> RecordingResult:
        """Write the last `seconds` (or all that is available) to `path` now, on the calling thread.

        Never raises for I/O problems: they come back in `RecordingResult.error`."""
        rng, fmt, meta = self._prepare(seconds, path, fmt, metadata)
        return write_range(self, rng, Path(path), fmt, meta, overwrite)

    def save_last_async(self, seconds: float, path: Path | str, fmt: str = DEFAULT_FORMAT,
                        metadata: Mapping[str, Any] | None = None,
                        on_done: Callable[[RecordingResult], None] | None = None,
                        overwrite: bool = False) -> Future[RecordingResult]:
        """Like save_last, but the range is fixed now and the file is written on a worker thread.

        `on_done(result)` runs on that worker thread (a GUI must hop back to its own thread)."""
        rng, fmt, meta = self._prepare(seconds, path, fmt, metadata)
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lmd-retro-save")
        future = self._executor.submit(write_range, self, rng, Path(path), fmt, meta, overwrite)
        if on_done is not None:
            future.add_done_callback(lambda f: on_done(f.result()))
        return future

    def save_span(self, start_position: int, end_position: int, path: Path | str, fmt: str = DEFAULT_FORMAT,
                  metadata: Mapping[str, Any] | None = None,
                  leave_out: tuple[tuple[int, int], ...] = ()) -> RecordingResult:
        """Write stream positions [start_position, end_position) less the `leave_out` ranges (what the
        device played while the stream stood still) to `path` now, on the calling thread: the part of it
        the buffer still holds (as far back as save_last reaches), as a sidecar of kind "selection".

        Raises ValueError for an empty span; I/O problems, and a span no longer in the buffer, come back
        in `RecordingResult.error`."""
        if end_position <= start_position:
            raise ValueError(f"{Path(path).name}: the selection is empty")
        fmt = check_format(fmt)
        meta = checked_metadata(metadata, f"selection save to {path}")
        with self._lock:
            newest, available = self._next_stream_position, self.available_frames
            if newest is None or available == 0:
                return self._not_saved(path, "nothing captured yet: the retro buffer is empty")
            first, last = max(start_position, newest - available), min(end_position, newest)
            if last <= first:
                return self._not_saved(path, "the selected audio is no longer in the retro buffer")
            keep = tuple(_without(first, last, leave_out))
            events = [dict(e) for e in self._events if isinstance(e.get("position_frames"), int)
                      and any(a <= e["position_frames"] < b for a, b in keep)]
            # from the selection's first frame to the newest: the sidecar's wall times count back from there
            rng = RetroRange(start_counter=self._written - (newest - first), n_frames=newest - first,
                             start_stream_position=first, end_wall_s=self._last_wall_s, events=events,
                             selection=Selection(first, last, keep))
        return write_range(self, rng, Path(path), fmt, meta)

    @property
    def newest_position(self) -> int | None:
        """The position just past the newest frame captured (None before any)."""
        with self._lock:
            return self._next_stream_position

    def read_span(self, start_position: int, end_position: int) -> np.ndarray | None:
        """A copy of positions [start_position, end_position) ([frames, channels] float32), or None when
        any of it is not (or no longer) in the buffer."""
        n = end_position - start_position
        with self._lock:
            newest = self._next_stream_position
            if n <= 0 or newest is None or start_position < newest - self.available_frames or end_position > newest:
                return None
            counter = self._written - (newest - start_position)
        out = np.empty((n, self.config.channels), np.float32)
        return out if self.copy_out(counter, out) else None

    def _not_saved(self, path: Path | str, error: str) -> RecordingResult:
        return RecordingResult(Path(path), sidecar_path_for(Path(path)), 0, self.config.sample_rate_hz, error=error)

    def close(self) -> None:
        """Wait for queued saves and stop the worker thread."""
        executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True)

    def _prepare(self, seconds: float, path: Path | str, fmt: str,
                 metadata: Mapping[str, Any] | None) -> tuple[RetroRange, str, dict[str, Any]]:
        if not seconds > 0:
            raise ValueError(f"save_last: seconds must be > 0, got {seconds}")
        fmt = check_format(fmt)
        meta = checked_metadata(metadata, f"retro save to {path}")
        want = int(round(seconds * self.config.sample_rate_hz))
        with self._lock:
            n = min(want, self.available_frames)
            start = self._written - n
            end_stream = self._next_stream_position
            start_stream = None if end_stream is None else end_stream - n
            end_wall = self._last_wall_s
            events = [dict(e) for e in self._events
                      if start_stream is not None and isinstance(e.get("position_frames"), int)
                      and start_stream <= e["position_frames"] <= end_stream]
        return RetroRange(start_counter=start, n_frames=n, start_stream_position=start_stream,
                          end_wall_s=end_wall, events=events), fmt, meta

    # --- read by retro_save.write_range ---------------------------------------------------------------------
    def copy_out(self, counter: int, out: np.ndarray) -> bool:
        """Copy frames [counter, counter + len(out)) into `out`; False if live audio overwrote them."""
        n = out.shape[0]
        with self._lock:
            if counter < self._written - self._capacity or counter + n > self._written:
                return False
            i = counter % self._capacity
            first = min(n, self._capacity - i)
            out[:first] = self._buf[i:i + first]
            out[first:] = self._buf[:n - first]
        return True


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
