"""The live-audio process settings are really applied (glibc mallopt, the GIL switch interval)."""

from __future__ import annotations

import platform
import sys

import pytest

from lmd_studio.core import process_tuning


def test_tuning_applies_malloc_and_gil_settings() -> None:
    before = sys.getswitchinterval()
    try:
        sys.setswitchinterval(0.005)
        applied = process_tuning.tune_for_live_audio()
        assert sys.getswitchinterval() == pytest.approx(process_tuning.GIL_SWITCH_INTERVAL_S)
        assert f"switchinterval={process_tuning.GIL_SWITCH_INTERVAL_S}" in applied
        if platform.libc_ver()[0] == "glibc":  # glibc Linux (CI): every mallopt call must succeed
            assert {a.split("=")[0] for a in applied} >= {"mmap_threshold", "trim_threshold", "arena_max"}
    finally:
        sys.setswitchinterval(before)
