"""EngineMetrics: an immutable snapshot the worker publishes after every block (read by GUI, bench)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class EngineMetrics:
    generator_name: str = ""
    block_s: float = 0.0  # duration of one generated block
    block_ms_last: float = 0.0  # wall-clock to generate the last block
    block_ms_mean: float = 0.0  # exponential moving average
    rtf: float = 0.0  # block_ms_mean / block duration: < 1 keeps up, lower is more headroom
    headroom_s: float = 0.0  # audio queued ahead of the playhead
    ring_fill: float = 0.0  # queued / ring capacity
    underruns: int = 0  # callbacks that ran dry while playing
    underrun_frames: int = 0  # frames those callbacks zero-filled: silence heard, and captured into takes
    device_underflows: int = 0  # underflows reported by the audio device
    callback_errors: int = 0
    callback_lateness_p99_ms: float = 0.0
    callback_lateness_max_ms: float = 0.0
    buffer_period_ms: float = 0.0
    control_latency_ms_last: float = 0.0  # parameter set → first changed sample out of the device
    pending_change_s: float = 0.0  # how long until a change made now is heard (countdown; quantised: its line)
    now_change_s: float = 0.0  # how long until a change landing at once is heard (the "now" modifier)
    blocks_generated: int = 0
    steps_blocks: tuple[tuple[int, int], ...] = ()  # (sampling steps, blocks generated with them), ascending
    splices: int = 0  # queued audio regenerated after a control change
    playing: bool = False
    primed: bool = False
    played_s: float = 0.0  # stream time played
    next_boundary_s: float = 0.0  # time until the playhead crosses the next block boundary
    context_s: float = 0.0  # how much past audio the model listens to
    steps_override: int = 0  # > 0 when safe mode lowered the sampling steps
    last_error: str = ""  # generator error message (the worker keeps running)
    capture_overflow_frames: int = 0
    history_bytes: int = 0  # memory of the generator states kept for splices and rewinding
    history_s: float = 0.0  # how far back before the playhead a rewind can go
    next_block_position: int = 0  # ring position where the next block to be generated starts
    # the output limiter (dsp/limiter.py), counted in samples (one channel value) since the engine started:
    clipped_samples_pre_limiter: int = 0  # |x| > 1.0 after the volume: would have clipped without it
    over_full_scale_samples: int = 0  # |y| >= 1.0 leaving the engine (device, capture, render): always 0
    # quantised changes (engine/quantise.py): the setting, and the change waiting for its grid line
    quantise: str = "off"
    landing_position: int = -1  # ring position of the line it lands on (-1: none waiting)
    landing_per_bar: bool = False  # on a bar line (else a beat line)
    landing_skipped: int = 0  # nearer lines it had to let pass (too close to the playhead to regenerate)
    landings: int = 0  # quantised changes spliced in on their line so far

    @property
    def warning(self) -> str:
        """A short human warning when the buffer is about to run dry, else ''."""
        if self.playing and self.primed and self.rtf > 0.95:
            return "generation slower than real time"
        if self.playing and self.primed and self.headroom_s < 0.6 * self.block_s and self.blocks_generated > 2:
            return "buffer running low"
        return ""
