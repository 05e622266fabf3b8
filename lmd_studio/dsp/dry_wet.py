"""The Dry/Wet balance of generative delay: the player's own input (dry) against the model's answer (wet).

An equal-power law, as on a delay pedal's mix knob: 0 = only dry, 1 = only wet, ½ = both at −3 dB, so the
sum keeps its loudness across the knob's travel (the two are unrelated signals, their powers add).
"""

from __future__ import annotations

import math


def dry_wet_gains(mix: float) -> tuple[float, float]:
    """(dry gain, wet gain) for a Dry/Wet position in [0, 1] (clamped; NaN counts as all wet)."""
    w = 1.0 if math.isnan(mix) else min(1.0, max(0.0, float(mix)))
    if w == 1.0:
        return 0.0, 1.0  # exactly: the default must leave the model's output untouched
    if w == 0.0:
        return 1.0, 0.0
    return math.cos(0.5 * math.pi * w), math.sin(0.5 * math.pi * w)
