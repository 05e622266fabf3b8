"""The types the RetroBuffer (retro.py) and its file writing (retro_save.py) share: the buffer's config, a
range fixed at the moment a save is asked for, and the read side of the ring the writing needs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from lmd_studio.engine.audio_file import AudioFileWriter


@dataclass(frozen=True, slots=True)
class RetroConfig:
    sample_rate_hz: int
    channels: int
    duration_s: float = 300.0  # what save_last can reach back to
    slack_s: float = 30.0  # extra ring so an in-progress save is not overwritten by live audio
    copy_chunk_s: float = 1.0  # frames copied per lock hold while saving
    max_silence_fill_s: float = 10.0  # stream gaps up to this long are kept as silence
    max_events: int = 10_000

    def __post_init__(self) -> None:
        if self.sample_rate_hz <= 0 or self.channels <= 0:
            raise ValueError(f"RetroConfig: sample_rate_hz and channels must be > 0, "
                             f"got {self.sample_rate_hz}, {self.channels}")
        if self.duration_s <= 0 or self.slack_s < 0 or self.copy_chunk_s <= 0:
            raise ValueError(f"RetroConfig: need duration_s > 0, slack_s >= 0, copy_chunk_s > 0; got "
                             f"{self.duration_s}, {self.slack_s}, {self.copy_chunk_s}")
        if self.max_silence_fill_s < 0 or self.max_events < 0:
            raise ValueError("RetroConfig: max_silence_fill_s and max_events must be >= 0")

    @property
    def duration_frames(self) -> int:
        return int(round(self.duration_s * self.sample_rate_hz))

    @property
    def capacity_frames(self) -> int:
        return self.duration_frames + int(round(self.slack_s * self.sample_rate_hz))

    @property
    def memory_bytes(self) -> int:
        return self.capacity_frames * self.channels * 4


@dataclass(frozen=True, slots=True)
class Selection:
    """A stretch of the past chosen on the timeline: stream positions [first, last) less the dropouts in it,
    `keep` being what is left, as ordered non-empty ranges."""

    first: int
    last: int
    keep: tuple[tuple[int, int], ...]

    @property
    def left_out_frames(self) -> int:
        return (self.last - self.first) - sum(b - a for a, b in self.keep)

    @property
    def end_position(self) -> int:
        return self.keep[-1][1] if self.keep else self.first


@dataclass(frozen=True, slots=True)
class RetroRange:
    """What to save, fixed when the user asked (so a queued save still gets the moment they meant).

    Ring counters [start_counter, start_counter + n_frames) hold stream positions [start_stream_position,
    start_stream_position + n_frames), and the range ends at the newest frame the buffer had then. Without
    a `selection` all of it is saved (the last N seconds, kind "retro"); with one, its `keep` pieces are
    written back to back (kind "selection"), and `events` are already the ones inside them.
    """

    start_counter: int  # ring counter of the first frame
    n_frames: int
    start_stream_position: int | None
    end_wall_s: float | None  # wall clock when the last frame was captured
    events: list[dict[str, Any]] = field(default_factory=list)
    selection: Selection | None = None

    def __post_init__(self) -> None:
        if self.n_frames < 0 or self.start_counter < 0:
            raise ValueError(f"RetroRange: negative frames or counter ({self.n_frames}, {self.start_counter})")
        if self.selection is not None and self.start_stream_position is None:
            raise ValueError("RetroRange: a selection is in stream positions and needs start_stream_position")

    @property
    def counter_pieces(self) -> list[tuple[int, int]]:
        """Ring-counter ranges to write, in order."""
        if self.selection is None:
            return [(self.start_counter, self.start_counter + self.n_frames)]
        offset = self.start_counter - (self.start_stream_position or 0)
        return [(a + offset, b + offset) for a, b in self.selection.keep]


class RetroRing(Protocol):
    """The read side of a RetroBuffer: what retro_save.write_range copies from."""

    @property
    def config(self) -> RetroConfig: ...

    @property
    def writer_factory(self) -> Callable[..., AudioFileWriter]: ...

    def copy_out(self, counter: int, out: np.ndarray) -> bool:
        """Copy frames [counter, counter + len(out)) into `out`; False if live audio overwrote them."""
        ...
