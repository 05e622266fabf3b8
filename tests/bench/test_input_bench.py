"""`lmd bench input`: the audio input through JACK, reported as JSON (a short run; the figures in the report
come from the 60-second default)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.jack


def test_bench_input_entry_point_measures_the_loop_and_the_run() -> None:
    proc = subprocess.run([sys.executable, "-m", "lmd_studio", "bench", "input", "--seconds", "3", "--clicks", "2",
                           "--json"], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-2000:]
    result = json.loads(proc.stdout[proc.stdout.index("{"):])
    for key in ("underruns", "device_underflows", "input_overruns", "roundtrip_error_ms",
                "roundtrip_error_ms_reported", "calibration_frames", "take_frames"):
        assert key in result
    assert result["roundtrip_error_ms"] <= 1.0 and len(result["roundtrip_errors_ms"]) == 4
    assert result["input_overruns"] == 0
    assert result["take_lengths_equal"] and result["take_frames"]["input"] > 2 * 48000
    assert abs(result["input_rms_dbfs"] - result["player_rms_dbfs"]) < 0.5  # the player's tone arrived whole


def test_bench_input_rejects_a_delay_outside_the_studio_range() -> None:
    proc = subprocess.run([sys.executable, "-m", "lmd_studio", "bench", "input", "--delay", "9", "--json"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "between 0.5 and 4 s" in proc.stderr and "Traceback" not in proc.stderr
