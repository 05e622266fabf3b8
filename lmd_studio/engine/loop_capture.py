"""Loop capture: the last N bars, from a downbeat, exactly N bars long, looping without a click.

The caller (app/recording.py) finds the bar lines on the engine's musical clock; this module cuts the loop
out of the retro buffer and makes its seam continuous. A loop is played end → start over and over, so the
sample after its last one must continue it the way the music did: the frames that followed the loop's end
(the next bar's downbeat) are crossfaded into its start, which is itself a downbeat. The length stays
exactly N bars; what changes is the first `crossfade_frames`, which now begin where the last bar went on.

WAV loops carry an ACID chunk (engine/acid.py: tempo, beats, meter, root note) that samplers and DAWs read;
both formats get a sidecar of kind "loop" with the same facts.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lmd_studio.engine.acid import AcidInfo, append_acid_chunk
from lmd_studio.engine.audio_file import AudioFileError, check_format, write_whole_file
from lmd_studio.engine.retro import RetroBuffer
from lmd_studio.engine.sinks import RecordingResult
from lmd_studio.engine.take_files import build_sidecar, now_iso, sidecar_path_for, write_sidecar


@dataclass(frozen=True, slots=True)
class LoopSpec:
    start_position: int  # stream position of the first downbeat
    loop_frames: int  # exactly `bars` bars at the tempo played
    bars: int
    beats_per_bar: int
    bpm: float
    root_note: int | None = None  # the key's tonic as a MIDI note, when the key is known
    crossfade_frames: int = 0  # frames after the loop folded into its start (must have been played)
    # where the retro buffer holds those frames: capture ranges that add up to loop + crossfade frames,
    # leaving out what the device played while the stream stood still (empty: contiguous from
    # start_position, when stream and capture positions are the same)
    capture_spans: tuple[tuple[int, int], ...] = ()

    def __post_init__(self) -> None:
        if self.loop_frames <= 0 or self.bars < 1 or self.crossfade_frames < 0:
            raise ValueError(f"a loop needs frames > 0 and bars >= 1, got {self.loop_frames}, {self.bars}")
        if self.crossfade_frames > self.loop_frames:
            raise ValueError("the seam crossfade cannot be longer than the loop")
        if self.capture_spans and sum(b - a for a, b in self.capture_spans) != self.loop_frames + self.crossfade_frames:
            raise ValueError("the capture spans must hold exactly the loop and its crossfade")

    def spans(self) -> tuple[tuple[int, int], ...]:
        return self.capture_spans or ((self.start_position, self.start_position + self.loop_frames + self.crossfade_frames),)


def seamless_loop(audio: np.ndarray, loop_frames: int, crossfade_frames: int) -> np.ndarray:
    """`audio` [loop_frames + crossfade_frames, channels]: the loop and what followed it. Returns the loop
    with the following frames faded into its start (linear: both are the same music a bar apart, so their
    sum keeps its level), so playing it end → start continues as the music did."""
    if audio.shape[0] < loop_frames + crossfade_frames:
        raise ValueError(f"need {loop_frames + crossfade_frames} frames, got {audio.shape[0]}")
    out = np.array(audio[:loop_frames], dtype=np.float32, copy=True)
    if crossfade_frames:
        own = (np.arange(crossfade_frames, dtype=np.float32) / crossfade_frames)[:, None]  # 0 → 1
        out[:crossfade_frames] = own * out[:crossfade_frames] + (1.0 - own) * audio[loop_frames:loop_frames + crossfade_frames]
    return out


def save_loop(retro: RetroBuffer, spec: LoopSpec, path: Path, fmt: str = "wav",
              metadata: Mapping[str, Any] | None = None, wait_s: float = 2.0) -> RecordingResult:
    """Write the loop to `path` (a temporary name beside it, renamed when complete) with its sidecar.
    Frames just played reach the retro buffer a moment later (the capture thread forwards them): up to
    `wait_s` is waited for the last of them."""
    fmt = check_format(fmt)
    rate = retro.config.sample_rate_hz
    sidecar = sidecar_path_for(path)
    last = max(b for _, b in spec.spans())
    deadline = time.monotonic() + wait_s
    while (retro.newest_position or 0) < last and time.monotonic() < deadline:
        time.sleep(0.01)
    pieces = [retro.read_span(a, b) for a, b in spec.spans()]
    if any(p is None for p in pieces):
        return RecordingResult(path, sidecar, 0, rate, error="those bars are no longer (or not yet) in the retro buffer")
    audio = np.concatenate([p for p in pieces if p is not None])
    loop = seamless_loop(audio, spec.loop_frames, spec.crossfade_frames)
    acid = AcidInfo(spec.bars * spec.beats_per_bar, spec.bpm, spec.beats_per_bar, 4, spec.root_note)
    try:
        write_whole_file(path, loop, rate, fmt, (lambda f: append_acid_chunk(f, acid)) if fmt == "wav" else None)
    except (AudioFileError, ValueError) as exc:
        return RecordingResult(path, sidecar, 0, rate, error=str(exc))
    content = build_sidecar(
        audio_path=path, fmt=fmt, sample_rate_hz=rate, channels=loop.shape[1], metadata=dict(metadata or {}),
        status="complete", started_at=None, ended_at=now_iso(), start_position_frames=spec.start_position,
        end_position_frames=spec.start_position + spec.loop_frames, frames_written=loop.shape[0],
        dropped_frames=0, silence_filled_frames=0, events=[], error=None, kind="loop",
        fields={"loop": {"bars": spec.bars, "beats": spec.bars * spec.beats_per_bar, "bpm": spec.bpm,
                         "beats_per_bar": spec.beats_per_bar, "root_note": spec.root_note,
                         "seam_crossfade_frames": spec.crossfade_frames, "acid_chunk": fmt == "wav"}})
    try:
        write_sidecar(sidecar, content)
    except OSError as exc:
        return RecordingResult(path, sidecar, loop.shape[0], rate, error=f"the loop is saved, its sidecar not: {exc}")
    return RecordingResult(path, sidecar, loop.shape[0], rate)
