"""A take with the audio input on: the mix, the input and the generated part as three files that line up
sample for sample (`take.wav`, `take.input.wav`, `take.generated.wav`).

All three are written from the same AlignedTracks stretches (track_align.py), cut to the same capture
positions: from where the capture stood when Rec was pressed (`start_position`) to where it stood at stop
(`stop_at`). So frame k of each file is the same moment, whatever the chunking; the mix's sidecar says so
under `alignment`, with the round trip that was taken out of the input.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lmd_studio.engine.sinks import AlignedTracks
from lmd_studio.engine.take_files import TRACK_NAMES, track_path
from lmd_studio.engine.take_writer import TakeWriter


@dataclass(frozen=True, slots=True)
class TrackFormat:
    """Asked for at take start: the input's channel count and how it was aligned (for the sidecar:
    roundtrip_latency_frames, reported_latency_frames, calibration_frames, input_channels, device, …)."""

    input_channels: int
    alignment: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.input_channels not in (1, 2):
            raise ValueError(f"a take's input track has 1 or 2 channels, got {self.input_channels}")


class TrackTakes:
    """The three writers of one multi-track take, fed from the capture thread by `push`."""

    def __init__(self, mix: TakeWriter, input_track: TakeWriter, generated: TakeWriter,
                 alignment: dict[str, Any], start_position: int | None) -> None:
        self.mix = mix
        self.writers = {"input": input_track, "generated": generated}
        self._alignment = dict(alignment)
        self.start_position = start_position  # None: from the first stretch that comes
        self.stop_position: int | None = None
        self.end_position: int | None = None  # capture position just past the newest stretch pushed
        self._first_output: int | None = None
        self._arrived = threading.Condition()

    @staticmethod
    def fields_for(mix_path: Path, alignment: dict[str, Any]) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
        """Sidecar fields of the mix and of each track file."""
        names = {t: track_path(mix_path, t).name for t in TRACK_NAMES}
        mix = {"tracks": {"mix": mix_path.name, **names}, "alignment": alignment}
        tracks = {t: {"track": t, "take": mix_path.name, "alignment": alignment} for t in TRACK_NAMES}
        return mix, tracks

    def all_writers(self) -> list[TakeWriter]:
        return [self.mix, *self.writers.values()]

    # --- capture thread ---------------------------------------------------------------------------------
    def push(self, tracks: AlignedTracks, position: int, captured_end: int | None = None) -> None:
        """Write the part of `tracks` (at capture `position`) that falls into the take: from its start, up to
        the stop, and never past `captured_end` (where the capture stands: no track can be ahead of it)."""
        n = tracks.frames
        lo = 0 if self.start_position is None else max(0, self.start_position - position)
        stop = self.stop_position if self.stop_position is not None else captured_end
        hi = n if stop is None else min(n, stop - position)
        if hi > lo:
            if self._first_output is None:
                self.start_position = position + lo
                self._first_output = tracks.output_position + lo
                self._mark_alignment()
            at = position + lo
            self.mix.push(tracks.mix[lo:hi], at)
            self.writers["input"].push(tracks.input[lo:hi], at)
            self.writers["generated"].push(tracks.generated[lo:hi], at)
        with self._arrived:
            self.end_position = position + n
            self._arrived.notify_all()

    def _mark_alignment(self) -> None:
        alignment = {**self._alignment, "first_frame_output_position": self._first_output,
                     "first_frame_capture_position": self.start_position}
        for writer in self.all_writers():
            writer.set_field("alignment", alignment)

    # --- app side ------------------------------------------------------------------------------------------
    def stop_at(self, position: int | None, timeout_s: float) -> bool:
        """End every file at capture `position` (None: with what has come) and wait up to `timeout_s` for the
        tracks to get there (the input trails the capture by the round trip). False on a timeout."""
        if position is None:
            return True
        self.stop_position = position
        with self._arrived:
            return self._arrived.wait_for(
                lambda: self.end_position is not None and self.end_position >= position, timeout_s)

