"""Response curves for MIDI bindings: monotonic maps of [0, 1] onto [0, 1] with fixed end points.

"exp" gives fine control at the bottom of the travel (the knob's first half moves the value little),
"log" at the top; "s-curve" is gentle at both ends and fast in the middle. The input position is
inverted first (if asked), then shaped, then scaled into the binding's range.
"""

from __future__ import annotations

import math
from typing import Literal

Curve = Literal["linear", "exp", "log", "s-curve"]
CURVES: tuple[Curve, ...] = ("linear", "exp", "log", "s-curve")

# Steepness of exp/log (log is exp's inverse): with k = 4 the knob's midpoint gives 0.12 (exp), 0.83 (log).
_K = 4.0
_EXPM1_K = math.expm1(_K)


def apply_curve(curve: Curve, x: float) -> float:
    """Shape a position `x` in [0, 1] (clamped) by `curve`."""
    x = 0.0 if x < 0.0 else (1.0 if x > 1.0 else x)
    if curve == "linear":
        return x
    if curve == "exp":
        return math.expm1(_K * x) / _EXPM1_K
    if curve == "log":
        return math.log1p(_EXPM1_K * x) / _K
    if curve == "s-curve":
        return x * x * (3.0 - 2.0 * x)
    raise ValueError(f"unknown curve {curve!r}; choose one of {', '.join(CURVES)}")


def shape(x: float, *, curve: Curve = "linear", invert: bool = False, lo: float = 0.0,
          hi: float = 1.0) -> float:
    """A binding's whole transfer: input position → normalised target position in [lo, hi]."""
    if invert:
        x = 1.0 - x
    return lo + (hi - lo) * apply_curve(curve, x)
