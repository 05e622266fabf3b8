"""RecorderConfig: how a take is written (flush, fsync and sidecar intervals, queue bound, gap filling).

Its own module because both the Recorder (recorder.py) and the take it starts (take_writer.py) read it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RecorderConfig:
    flush_interval_s: float = 0.25  # crash loss bound: a killed take misses at most about this much
    fsync_interval_s: float = 2.0  # also fsync this often (power-loss safety); 0 = never
    sidecar_interval_s: float = 1.0  # rewrite the sidecar at most this often while events arrive
    max_queue_s: float = 10.0  # writer backlog before frames are dropped
    max_silence_fill_s: float = 10.0  # stream gaps up to this long are written as silence
    stop_timeout_s: float = 15.0  # stop() gives up waiting for a stuck disk after this

    def __post_init__(self) -> None:
        if not 0.0 < self.flush_interval_s <= 0.5:
            raise ValueError(f"RecorderConfig.flush_interval_s must be in (0, 0.5] s, got {self.flush_interval_s}")
        for name in ("fsync_interval_s", "sidecar_interval_s", "max_silence_fill_s"):
            if getattr(self, name) < 0.0:
                raise ValueError(f"RecorderConfig.{name} must be >= 0, got {getattr(self, name)}")
        if self.max_queue_s <= 0.0 or self.stop_timeout_s <= 0.0:
            raise ValueError(f"RecorderConfig: max_queue_s and stop_timeout_s must be > 0, "
                             f"got {self.max_queue_s}, {self.stop_timeout_s}")
