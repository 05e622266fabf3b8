"""Unit conversions. Names carry units: *_db, *_s, *_ms, *_hz, *_frames."""

from __future__ import annotations

import math

SILENCE_FLOOR_DB = -120.0


def db_to_gain(gain_db: float) -> float:
    """Decibels to a linear amplitude factor."""
    return 10.0 ** (gain_db / 20.0)


def gain_to_db(gain: float, floor_db: float = SILENCE_FLOOR_DB) -> float:
    """Linear amplitude factor to decibels, clamped at `floor_db` for silence."""
    if gain <= 0.0:
        return floor_db
    return max(floor_db, 20.0 * math.log10(gain))


def seconds_to_frames(seconds: float, sample_rate_hz: int) -> int:
    """Duration to a whole number of frames (rounded to nearest)."""
    return int(round(seconds * sample_rate_hz))


def frames_to_seconds(frames: int, sample_rate_hz: int) -> float:
    return frames / float(sample_rate_hz)


def next_power_of_two(n: int) -> int:
    if n < 1:
        raise ValueError(f"next_power_of_two needs n >= 1, got {n}")
    return 1 << (n - 1).bit_length()
