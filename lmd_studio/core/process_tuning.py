"""Process-wide settings a live instrument needs, applied once by the composition root (app.bootstrap).

Why each one (measured in the 10-minute real-model soak, tests/gui/test_soak.py):
- glibc malloc raises its mmap threshold every time a large block is freed, after which tensors of a few MB
  come from the heap and fragment it; RSS then climbed in 15–60 MB steps that were never given back. A
  fixed threshold keeps large buffers on mmap (returned on free) and a fixed trim threshold lets the heap
  shrink again. Fewer arenas keep the worker, pump and GUI threads from each holding their own free space.
- Python hands the GIL over only every `switchinterval` (5 ms by default). The pump thread that feeds the
  audio device process needs the GIL for microseconds every 1.3 ms; a busy GUI or worker thread could
  make it wait whole switch intervals. 1 ms bounds that wait well under one device buffer (5.3 ms).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_M_ARENA_MAX = -8

MMAP_THRESHOLD_BYTES = 1 << 20
TRIM_THRESHOLD_BYTES = 8 << 20
ARENA_MAX = 4
GIL_SWITCH_INTERVAL_S = 0.001


def _glibc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name or "libc.so.6")
    except OSError:
        return None
    return libc if hasattr(libc, "mallopt") else None  # musl has no mallopt


def tune_for_live_audio() -> list[str]:
    """Apply the settings above where the platform has them; returns what was applied (for logs/tests)."""
    applied = []
    libc = _glibc()
    if libc is not None:
        for option, value, label in ((_M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES, "mmap_threshold"),
                                     (_M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES, "trim_threshold"),
                                     (_M_ARENA_MAX, ARENA_MAX, "arena_max")):
            if libc.mallopt(ctypes.c_int(option), ctypes.c_int(value)) == 1:
                applied.append(f"{label}={value}")
    if sys.getswitchinterval() > GIL_SWITCH_INTERVAL_S:
        sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)
        applied.append(f"switchinterval={GIL_SWITCH_INTERVAL_S}")
    return applied
