"""The recording desk: takes (Recorder), "capture the last N seconds" and saving a selected stretch of the
timeline (RetroBuffer). Files get timestamped names in the recordings folder; every file has its JSON
sidecar. Finished saves come back through `poll()` on the caller's thread (the GUI timer)."""

from __future__ import annotations

import queue
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from lmd_studio.app.capture_chain import CaptureFanout
from lmd_studio.app.jobs import BackgroundJob
from lmd_studio.app.selection_save import save_span
from lmd_studio.engine.recorder import Recorder
from lmd_studio.engine.retro import RetroBuffer, RetroConfig
from lmd_studio.engine.sinks import RecordingResult
from lmd_studio.engine.take_files import default_take_name, pick_free_path


class RecordingDesk:
    def __init__(self, fanout: CaptureFanout, folder: Callable[[], Path], fmt: Callable[[], str],
                 retro_s: float = 300.0, recorder: Recorder | None = None) -> None:
        self._fanout = fanout
        self._folder = folder
        self._fmt = fmt
        self._retro_s = retro_s
        self.recorder = recorder or Recorder()
        self.retro: RetroBuffer | None = None
        self._done: queue.Queue[RecordingResult] = queue.Queue()
        self._jobs: list[BackgroundJob] = []
        fanout.add(self.recorder)

    def configure(self, sample_rate_hz: int, channels: int) -> None:
        """(Re)create the retro buffer for this device format; keeps it when the format is unchanged."""
        r = self.retro
        if r is not None and r.config.sample_rate_hz == sample_rate_hz and r.config.channels == channels:
            return
        if r is not None:
            self._fanout.remove(r)
            r.close()
        self.retro = RetroBuffer(RetroConfig(sample_rate_hz, channels, duration_s=self._retro_s))
        self._fanout.add(self.retro)

    def close(self) -> None:
        if self.recorder.is_recording:
            self._done.put(self.recorder.stop())
        for job in self._jobs:
            job.wait(30.0)
        if self.retro is not None:
            self.retro.close()

    # --- takes ---------------------------------------------------------------------------------------
    @property
    def recording(self) -> bool:
        return self.recorder.is_recording

    def start_take(self, metadata: Mapping[str, Any]) -> Path:
        """Raises AudioFileError (message names the file and the reason) when it cannot start."""
        cfg = self._require_retro().config
        fmt = self._fmt()
        path = pick_free_path(self._folder(), default_take_name(fmt))
        return self.recorder.start(path, cfg.sample_rate_hz, cfg.channels, fmt, metadata)

    def stop_take(self) -> BackgroundJob:
        """Finish the take off the caller's thread (draining the writer may take a moment)."""
        return self._track(BackgroundJob("finish take", lambda job: self.recorder.stop()))

    # --- after the fact ------------------------------------------------------------------------------
    def capture_last(self, seconds: float, metadata: Mapping[str, Any]) -> Path:
        retro = self._require_retro()
        fmt = self._fmt()
        label = f"{int(seconds)}s" if seconds < 60 else f"{int(seconds // 60)}min"
        path = pick_free_path(self._folder(), default_take_name(fmt, prefix=f"lmd-last-{label}"))
        retro.save_last_async(seconds, path, fmt, metadata, on_done=self._done.put)
        return path

    def save_selection(self, capture_start: int, capture_end: int, metadata: Mapping[str, Any]) -> BackgroundJob:
        retro = self._require_retro()
        fmt = self._fmt()
        path = pick_free_path(self._folder(), default_take_name(fmt, prefix="lmd-selection"))
        end_now = self._fanout.end_position
        return self._track(BackgroundJob("save selection", lambda job: save_span(
            retro, capture_start, capture_end, end_now, path, fmt, dict(metadata), job)))

    def note_event(self, event: Mapping[str, Any]) -> None:
        self.recorder.note_event(event)
        if self.retro is not None:
            self.retro.note_event(event)

    def poll(self) -> list[RecordingResult | str]:
        """Finished saves since the last poll (a string for a job that failed outright)."""
        out: list[RecordingResult | str] = []
        while True:
            try:
                out.append(self._done.get_nowait())
            except queue.Empty:
                break
        for job in [j for j in self._jobs if j.done]:
            self._jobs.remove(job)
            if isinstance(job.result, RecordingResult):
                out.append(job.result)
            elif job.error:
                out.append(f"{job.name} failed: {job.error}")
        return out

    def jobs(self) -> list[BackgroundJob]:
        return list(self._jobs)

    def _track(self, job: BackgroundJob) -> BackgroundJob:
        self._jobs.append(job)
        return job.start()

    def _require_retro(self) -> RetroBuffer:
        if self.retro is None:
            raise RuntimeError("the recording desk has no audio format yet (configure() was not called)")
        return self.retro
