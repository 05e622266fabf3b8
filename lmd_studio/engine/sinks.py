"""What the capture thread feeds, and what a finished (or failed) take reports.

The audio callback copies every output buffer into a capture ring; the engine's capture thread drains it
every ~20 ms and hands the frames to each registered `CaptureSink`. `consume` runs on that thread, so a
sink must copy what it needs and return at once: no disk I/O, no waiting on locks held across I/O, and no
exceptions (a raising sink would take the capture thread, and every other sink, down with it).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class CaptureSink(Protocol):
    def consume(self, frames: np.ndarray, start_position: int) -> None:
        """Take `frames` (float32 [frames, channels]); `start_position` is the absolute output frame index
        of frames[0]. Called on the capture thread: copy, never block, never raise. `frames` may be a view
        into a buffer the caller reuses after this returns."""
        ...


@dataclass(frozen=True, slots=True)
class AlignedTracks:
    """One stretch of the output with the audio input lined up to it sample for sample (track_align.py).

    `generated`: what the engine played (the capture); `input`: the input captured while the player heard
    those frames (round trip taken out); `mix`: generated plus the input at the monitor level, kept under
    the ceiling. All three have the same number of frames; `output_position` is the output position of
    frame 0."""

    generated: np.ndarray  # [n, output channels]
    input: np.ndarray  # [n, input channels]
    mix: np.ndarray  # [n, output channels]
    output_position: int

    @property
    def frames(self) -> int:
        return int(self.generated.shape[0])


@runtime_checkable
class TrackSink(Protocol):
    def consume_tracks(self, tracks: AlignedTracks, start_position: int) -> None:
        """Like CaptureSink.consume, for aligned tracks: `start_position` is the capture position of frame 0
        (the same timeline as `consume`'s, arriving a little later: the input has to come back first)."""
        ...


@dataclass(frozen=True, slots=True)
class RecordingResult:
    """The outcome of one take or one retro-capture save.

    `frames_written` counts what a reader will find in the file (after an error: what survived on disk).
    `dropped_frames` counts frames that never reached the file because the writer fell behind (they are
    replaced by silence, so positions in the file still line up with the stream and the sidecar's events).
    """

    path: Path
    sidecar_path: Path
    frames_written: int
    sample_rate_hz: int
    error: str | None = None
    dropped_frames: int = 0

    def __post_init__(self) -> None:
        if self.sample_rate_hz <= 0:
            raise ValueError(f"RecordingResult: sample_rate_hz must be > 0, got {self.sample_rate_hz}")
        if self.frames_written < 0 or self.dropped_frames < 0:
            raise ValueError(
                f"RecordingResult: frame counts must be >= 0, got written={self.frames_written}, "
                f"dropped={self.dropped_frames}")

    @property
    def duration_s(self) -> float:
        return self.frames_written / float(self.sample_rate_hz)

    @property
    def ok(self) -> bool:
        return self.error is None
