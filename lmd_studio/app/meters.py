"""Meter ballistics for the GUI: a peak meter with fall-off and peak hold, and the process CPU load."""

from __future__ import annotations

import os
import time

from lmd_studio.core.units import gain_to_db

METER_FLOOR_DB = -60.0


class PeakMeter:
    """Peak in dB that jumps up at once, falls at `fall_db_per_s`, with a held maximum for `hold_s`."""

    def __init__(self, fall_db_per_s: float = 24.0, hold_s: float = 1.5) -> None:
        self.fall_db_per_s = fall_db_per_s
        self.hold_s = hold_s
        self.level_db = METER_FLOOR_DB
        self.hold_db = METER_FLOOR_DB
        self._hold_since_s = 0.0
        self._last_s: float | None = None
        self.clipped = False  # latched at 0 dBFS until reset

    def update(self, peak: float, now_s: float) -> float:
        dt = 0.0 if self._last_s is None else max(0.0, now_s - self._last_s)
        self._last_s = now_s
        db = max(METER_FLOOR_DB, gain_to_db(peak))
        self.level_db = max(db, self.level_db - self.fall_db_per_s * dt, METER_FLOOR_DB)
        if db >= self.hold_db or now_s - self._hold_since_s > self.hold_s:
            self.hold_db = db if db >= self.hold_db else self.level_db
            self._hold_since_s = now_s
        if peak >= 0.999:
            self.clipped = True
        return self.level_db


class CpuMeter:
    """This process's CPU use as % of the whole machine, averaged over at least `window_s`."""

    def __init__(self, window_s: float = 0.5) -> None:
        self.window_s = window_s
        self.cores = os.cpu_count() or 1
        self._wall = time.perf_counter()
        self._cpu = time.process_time()
        self.percent = 0.0

    def update(self) -> float:
        wall, cpu = time.perf_counter(), time.process_time()
        if wall - self._wall >= self.window_s:
            self.percent = 100.0 * (cpu - self._cpu) / ((wall - self._wall) * self.cores)
            self._wall, self._cpu = wall, cpu
        return self.percent
