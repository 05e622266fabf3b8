"""The recording desk: takes (Recorder), "capture the last N seconds" and saving a selected stretch of the
timeline (RetroBuffer). Files get timestamped names in the recordings folder; every file has its JSON
sidecar with the mix (`metadata()` is asked at the moment of the action). What happened is told to the
player through `notify`; finished saves come back through `poll()` on the caller's thread (the GUI timer).

Promises to the player: a take that cannot start says so at once (folder, reason, what to do) and the
transport never shows it recording; a take the disk gives up on (full, removed) is reported at the next
poll and finished at once, keeping what reached the disk as a readable file; the sidecar of a take says
what the engine really did meanwhile (`engine_metrics`, summed by TakeStats); and at start-up
`recover_unfinished` repairs, in the background, the takes a crash cut off.
"""

from __future__ import annotations

import queue
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from lmd_studio.app.capture_chain import CaptureFanout
from lmd_studio.app.jobs import BackgroundJob
from lmd_studio.app.take_recovery import RecoveryReport, recover_folder
from lmd_studio.app.take_stats import TakeStats
from lmd_studio.engine.audio_file import AudioFileError
from lmd_studio.engine.loop_capture import LoopSpec, save_loop
from lmd_studio.engine.metrics import EngineMetrics
from lmd_studio.engine.recorder import Recorder
from lmd_studio.engine.retro import RetroBuffer
from lmd_studio.engine.retro_types import RetroConfig
from lmd_studio.engine.sinks import RecordingResult
from lmd_studio.engine.take_files import TRACK_NAMES, default_take_name, pick_free_path
from lmd_studio.engine.take_tracks import TrackFormat

LOOP_JOB = "save loop"

class RecordingDesk:
    def __init__(self, fanout: CaptureFanout, folder: Callable[[], Path], fmt: Callable[[], str],
                 retro_s: float = 300.0, recorder: Recorder | None = None,
                 notify: Callable[..., None] = lambda *a: None,
                 metadata: Callable[[], Mapping[str, Any]] = dict,
                 engine_metrics: Callable[[], EngineMetrics] | None = None,
                 tracks: Callable[[], TrackFormat | None] = lambda: None) -> None:
        self._fanout = fanout
        self._notify = notify
        self._metadata = metadata
        self.last_saved: RecordingResult | None = None
        self._last_loop: Path | None = None
        self._folder = folder
        self._fmt = fmt
        self._retro_s = retro_s
        self.recorder = recorder or Recorder()
        self.retro: RetroBuffer | None = None
        self._done: queue.Queue[RecordingResult] = queue.Queue()
        self._jobs: list[BackgroundJob] = []
        self._engine_metrics = engine_metrics
        self._take_stats: TakeStats | None = None
        self._finishing: BackgroundJob | None = None  # the job stopping the current take
        self._tracks = tracks  # the input's tracks for a take (None: the input is off, one file)
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
        if self.recorder.is_recording and not self._finishing_now:
            self.report(self.recorder.stop(self._final_stats()), take=True)
        for job in self._jobs:
            if job.name == "recover takes":
                job.cancel()  # it stops between takes; the rest are repaired at the next start
            job.wait(30.0)
        if self.retro is not None:
            self.retro.close()

    # --- takes ---------------------------------------------------------------------------------------
    @property
    def recording(self) -> bool:
        """A take is running and healthy: False as soon as its writer failed or it is being finished."""
        return self.recorder.is_recording and self.recorder.error is None and not self._finishing_now

    def start_take(self) -> Path | None:
        """Start a take now; None (and a message naming the folder, the reason and what to do) when it cannot."""
        if self.recorder.is_recording:
            self._notify("warning", "Still finishing the previous take; press Rec again in a moment")
            return None
        cfg = self._require_retro().config
        fmt = self._fmt()
        folder = self._folder()
        tracks = self._tracks()
        try:
            path = pick_free_path(folder, default_take_name(fmt), tracks=TRACK_NAMES if tracks else ())
            path = self.recorder.start(path, cfg.sample_rate_hz, cfg.channels, fmt, self._metadata(), tracks=tracks)
        except (AudioFileError, OSError) as exc:
            self._notify("error", f"Cannot record in {folder}: {exc}. {_folder_advice(str(exc))}")
            return None
        except (ValueError, RuntimeError) as exc:
            self._notify("error", f"Cannot record: {exc}")
            return None
        self._take_stats = TakeStats(self._engine_metrics()) if self._engine_metrics is not None else None
        also = " (with the input and generated tracks beside it)" if tracks else ""
        self._notify("info", f"Recording to {path.name}{also}", path)
        return path

    def stop_take(self) -> BackgroundJob | None:
        """Finish the take off the caller's thread (draining the writer may take a moment)."""
        if not self.recorder.is_recording:
            return None
        if self._finishing_now:
            return self._finishing
        stats = self._final_stats()
        self._finishing = self._track(BackgroundJob("finish take", lambda job: self.recorder.stop(stats)))
        return self._finishing

    def toggle_take(self) -> None:
        if self.recorder.is_recording:
            self.stop_take()
        else:
            self.start_take()

    @property
    def _finishing_now(self) -> bool:
        return self._finishing is not None and not self._finishing.done

    def _final_stats(self) -> dict[str, Any] | None:
        """What the engine did during the take, for its sidecar (None without an engine to ask)."""
        if self._take_stats is None or self._engine_metrics is None:
            return None
        self._take_stats.sample(self._engine_metrics())
        meta = self._metadata()
        parameters = meta.get("parameters") or {}
        safe_mode = meta.get("safe_mode")
        return self._take_stats.summary(parameters.get("steps"), None if safe_mode is None else bool(safe_mode))

    def _watch_take(self) -> None:
        """Sum the engine's counters; a take whose writer failed is reported now and finished at once."""
        if not self.recorder.is_recording or self._finishing_now:
            return
        if self._take_stats is not None and self._engine_metrics is not None:
            self._take_stats.sample(self._engine_metrics())
        error = self.recorder.error
        if error is not None:
            self._notify("error", f"Recording stopped: {error}. Keeping what reached the disk…", self.recorder.path)
            self.stop_take()

    # --- after a crash ---------------------------------------------------------------------------------
    def recover_unfinished(self) -> BackgroundJob:
        """Repair, in the background, the takes in the recordings folder that a crash cut off; what was
        recovered is told through `notify` once done (poll)."""
        folder = self._folder()
        return self._track(BackgroundJob("recover takes", lambda job: recover_folder(folder, job)))

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

    def save_selection(self, capture_start: int | None, capture_end: int | None,
                       gaps: tuple[tuple[int, int], ...] = ()) -> BackgroundJob | None:
        """Save captured frames [start, end) (continuous capture positions), less the `gaps`, as a file of
        their own."""
        retro = self._require_retro()
        if capture_start is None or capture_end is None or capture_end - capture_start < retro.config.sample_rate_hz // 20:
            self._notify("warning", "Select a stretch of what has already played to save it")
            return None
        fmt = self._fmt()
        path = pick_free_path(self._folder(), default_take_name(fmt, prefix="lmd-selection"))
        metadata = dict(self._metadata())

        def save(job: BackgroundJob) -> RecordingResult:
            job.progress(0.05, "writing the selection from the retro buffer")
            return retro.save_span(capture_start, capture_end, path, fmt, metadata, leave_out=gaps)

        return self._track(BackgroundJob("save selection", save))

    @property
    def last_loop(self) -> Path | None:
        """The newest loop saved (save_loop), for the window to offer to drag out."""
        return self._last_loop

    def save_loop(self, spec: LoopSpec) -> BackgroundJob | None:
        """Save a loop (engine/loop_capture.py) the caller found on the bar lines, as a file of its own."""
        retro = self._require_retro()
        fmt = self._fmt()
        bars = f"{spec.bars}bar" + ("s" if spec.bars > 1 else "")
        path = pick_free_path(self._folder(), default_take_name(fmt, prefix=f"lmd-loop-{bars}"))
        metadata = dict(self._metadata())
        key = metadata.get("key")
        if spec.root_note is None and isinstance(key, dict) and isinstance(key.get("pitch_class"), int):
            spec = replace(spec, root_note=60 + key["pitch_class"])  # the key's tonic, middle octave

        def save(job: BackgroundJob) -> RecordingResult:
            job.progress(0.05, f"writing {spec.bars} bars from the retro buffer")
            return save_loop(retro, spec, path, fmt, metadata)

        return self._track(BackgroundJob(LOOP_JOB, save))

    def note_event(self, event: Mapping[str, Any]) -> None:
        self.recorder.note_event(event)
        if self.retro is not None:
            self.retro.note_event(event)

    def poll(self) -> None:
        """Watch the take and report every save that finished since the last poll (call from the GUI timer)."""
        self._watch_take()
        while True:
            try:
                self.report(self._done.get_nowait())
            except queue.Empty:
                break
        for job in [j for j in self._jobs if j.done]:
            self._jobs.remove(job)
            if isinstance(job.result, RecordingResult):
                self.report(job.result, take=job.name == "finish take")
                if job.name == LOOP_JOB and job.result.ok:
                    self._last_loop = job.result.path
            elif isinstance(job.result, RecoveryReport):
                for level, text, path in job.result.notices():
                    self._notify(level, text, path)
            elif job.error:
                self._notify("error", f"{job.name} failed: {job.error}")

    def report(self, result: RecordingResult, take: bool = False) -> None:
        if result.ok:
            self.last_saved = result
            self._notify("info", f"Saved {result.path.name} ({result.duration_s:.1f} s)", result.path)
            return
        head = "Recording stopped" if take else f"Saving {result.path.name} failed"
        if result.frames_written:
            kept = f"the {result.duration_s:.1f} s recorded before it are kept in {result.path}"
            self._notify("error", f"{head}: {result.error}; {kept}", result.path)
        else:
            self._notify("error", f"{head}: {result.error}; nothing could be kept", None)

    def jobs(self) -> list[BackgroundJob]:
        return list(self._jobs)

    def _track(self, job: BackgroundJob) -> BackgroundJob:
        self._jobs.append(job)
        return job.start()

    def _require_retro(self) -> RetroBuffer:
        if self.retro is None:
            raise RuntimeError("the recording desk has no audio format yet (configure() was not called)")
        return self.retro


def _folder_advice(reason: str) -> str:
    if "disk full" in reason or "quota" in reason:
        return "Free some space, or choose another recordings folder in Settings."
    return "Choose another recordings folder in Settings."
