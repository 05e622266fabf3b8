"""Long work off the GUI thread: a thread with progress, a stage text, a result or an error, and cancel.

The GUI timer polls `view()`; nothing here calls back into Qt. The work function receives the job and
reports with `job.progress(fraction, stage)`; it may check `job.cancelled` between steps.
"""

from __future__ import annotations

import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class JobView:
    name: str
    fraction: float  # 0..1, or -1 when unknown (busy indicator)
    stage: str
    done: bool
    error: str | None
    elapsed_s: float


class JobCancelled(Exception):
    pass


class BackgroundJob:
    def __init__(self, name: str, work: Callable[[BackgroundJob], Any]) -> None:
        self.name = name
        self._work = work
        self._fraction = -1.0
        self._stage = "starting"
        self._done = threading.Event()
        self._cancel = threading.Event()
        self.result: Any = None
        self.error: str | None = None
        self.detail: str = ""  # traceback for a log, never shown raw
        self._t0 = time.perf_counter()
        self._t1: float | None = None
        self._thread = threading.Thread(target=self._run, name=f"lmd-job:{name}", daemon=True)

    def start(self) -> BackgroundJob:
        self._thread.start()
        return self

    # --- called by the work function -----------------------------------------------------------
    def progress(self, fraction: float, stage: str | None = None) -> None:
        if self._cancel.is_set():
            raise JobCancelled()
        self._fraction = min(1.0, max(-1.0, float(fraction)))
        if stage is not None:
            self._stage = stage

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    # --- called by the owner ---------------------------------------------------------------------
    def cancel(self) -> None:
        self._cancel.set()

    @property
    def done(self) -> bool:
        return self._done.is_set()

    def wait(self, timeout_s: float | None = None) -> bool:
        return self._done.wait(timeout_s)

    def view(self) -> JobView:
        end = self._t1 if self._t1 is not None else time.perf_counter()
        return JobView(self.name, self._fraction, self._stage, self.done, self.error, end - self._t0)

    def _run(self) -> None:
        try:
            self.result = self._work(self)
            self._fraction, self._stage = 1.0, "done"
        except JobCancelled:
            self.error, self._stage = "cancelled", "cancelled"
        except Exception as exc:  # noqa: BLE001 — reported to the user, the app carries on
            self.error = f"{type(exc).__name__}: {exc}" if not isinstance(exc, (OSError, ValueError)) else str(exc)
            self.detail = traceback.format_exc()
            self._stage = "failed"
        finally:
            self._t1 = time.perf_counter()
            self._done.set()


class JobList:
    """Running jobs, each with what to do on the owner's thread once it is done (`finish_done`, called
    from the GUI timer), so a job's result is taken in where the rest of the state lives."""

    def __init__(self) -> None:
        self._jobs: list[tuple[BackgroundJob, Callable[[BackgroundJob], None]]] = []

    def start(self, job: BackgroundJob, on_done: Callable[[BackgroundJob], None]) -> BackgroundJob:
        self._jobs.append((job, on_done))
        return job.start()

    def finish_done(self) -> None:
        for job, on_done in [(j, f) for j, f in self._jobs if j.done]:
            self._jobs.remove((job, on_done))
            on_done(job)

    def views(self) -> tuple[JobView, ...]:
        return tuple(job.view() for job, _ in self._jobs)

    def cancel_and_wait(self, timeout_s: float) -> None:
        """Cancel every job, then wait for each (a job thread still inside torch when the interpreter
        exits can abort it)."""
        for job, _ in self._jobs:
            job.cancel()
        for job, _ in self._jobs:
            job.wait(timeout_s)
