"""The recording desk: takes (Recorder), "capture the last N seconds" and saving a selected stretch of the
timeline (RetroBuffer). Files get timestamped names in the recordings folder; every file has its JSON
sidecar with the mix (`metadata()` is asked at the moment of the action). What happened is told to the
player through `notify`; finished saves come back through `poll()` on the caller's thread (the GUI timer).
"""

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
                 retro_s: float = 300.0, recorder: Recorder | None = None,
                 notify: Callable[..., None] = lambda *a: None,
                 metadata: Callable[[], Mapping[str, Any]] = dict) -> None:
        self._fanout = fanout
        self._notify = notify
        self._metadata = metadata
        self.last_saved: RecordingResult | None = None
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
            self.report(self.recorder.stop())
        for job in self._jobs:
            job.wait(30.0)
        if self.retro is not None:
            self.retro.close()

    # --- takes ---------------------------------------------------------------------------------------
    @property
    def recording(self) -> bool:
        return self.recorder.is_recording

    def start_take(self) -> Path | None:
        """Start a take now; None (and a message naming the file and the reason) when it cannot."""
        cfg = self._require_retro().config
        fmt = self._fmt()
        try:
            path = pick_free_path(self._folder(), default_take_name(fmt))
            path = self.recorder.start(path, cfg.sample_rate_hz, cfg.channels, fmt, self._metadata())
        except (OSError, ValueError, RuntimeError) as exc:
            self._notify("error", f"Cannot record: {exc}")
            return None
        self._notify("info", f"Recording to {path.name}", path)
        return path

    def stop_take(self) -> BackgroundJob | None:
        """Finish the take off the caller's thread (draining the writer may take a moment)."""
        if not self.recorder.is_recording:
            return None
        return self._track(BackgroundJob("finish take", lambda job: self.recorder.stop()))

    def toggle_take(self) -> None:
        if self.recorder.is_recording:
            self.stop_take()
        else:
            self.start_take()

    # --- after the fact ------------------------------------------------------------------------------
    def capture_last(self, seconds: float) -> Path | None:
        retro = self._require_retro()
        if retro.available_frames == 0:
            self._notify("warning", "Nothing to capture yet: press play first")
            return None
        fmt = self._fmt()
        label = f"{int(seconds)}s" if seconds < 60 else f"{int(seconds // 60)}min"
        try:
            path = pick_free_path(self._folder(), default_take_name(fmt, prefix=f"lmd-last-{label}"))
            retro.save_last_async(seconds, path, fmt, self._metadata(), on_done=self._done.put)
        except (OSError, ValueError) as exc:
            self._notify("error", f"Cannot capture: {exc}")
            return None
        have = retro.available_s
        note = f" (only {have:.0f} s played so far)" if have < seconds - 0.5 else ""
        wanted = f"{seconds:.0f} s" if seconds < 60 else f"{seconds / 60:.0f} min"
        self._notify("info", f"Saving the last {wanted}{note} to {path.name}", path)
        return path

    def save_selection(self, capture_start: int | None, capture_end: int | None) -> BackgroundJob | None:
        """Save captured frames [start, end) (continuous capture positions) as a file of their own."""
        retro = self._require_retro()
        if capture_start is None or capture_end is None or capture_end - capture_start < retro.config.sample_rate_hz // 20:
            self._notify("warning", "Select a stretch of what has already played to save it")
            return None
        fmt = self._fmt()
        path = pick_free_path(self._folder(), default_take_name(fmt, prefix="lmd-selection"))
        end_now = self._fanout.end_position
        metadata = dict(self._metadata())
        return self._track(BackgroundJob("save selection", lambda job: save_span(
            retro, capture_start, capture_end, end_now, path, fmt, metadata, job)))

    def note_event(self, event: Mapping[str, Any]) -> None:
        self.recorder.note_event(event)
        if self.retro is not None:
            self.retro.note_event(event)

    def poll(self) -> None:
        """Report every save that finished since the last poll (call from the GUI timer)."""
        while True:
            try:
                self.report(self._done.get_nowait())
            except queue.Empty:
                break
        for job in [j for j in self._jobs if j.done]:
            self._jobs.remove(job)
            if isinstance(job.result, RecordingResult):
                self.report(job.result)
            elif job.error:
                self._notify("error", f"{job.name} failed: {job.error}")

    def report(self, result: RecordingResult) -> None:
        if result.ok:
            self.last_saved = result
            self._notify("info", f"Saved {result.path.name} ({result.duration_s:.1f} s)", result.path)
        else:
            self._notify("error", f"Saving {result.path.name} failed: {result.error}", result.path)

    def jobs(self) -> list[BackgroundJob]:
        return list(self._jobs)

    def _track(self, job: BackgroundJob) -> BackgroundJob:
        self._jobs.append(job)
        return job.start()

    def _require_retro(self) -> RetroBuffer:
        if self.retro is None:
            raise RuntimeError("the recording desk has no audio format yet (configure() was not called)")
        return self.retro
