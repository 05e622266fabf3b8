"""`lmd bench engine`: the real-time engine through an audio server, reported as JSON."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_bench_engine_entry_point_prints_the_json_keys() -> None:
    proc = subprocess.run([sys.executable, "-m", "lmd_studio", "bench", "engine", "--seconds", "2",
                           "--latency-seconds", "3", "--change-every", "0.5", "--json"],
                          capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout[proc.stdout.index("{"):])
    for key in ("underruns", "callback_lateness_p99_ms", "buffer_period_ms", "control_latency_median_ms",
                "control_latency_p95_ms"):
        assert key in result
    assert result["buffer_period_ms"] > 5.0 and result["control_changes"] >= 2
    assert 0 < result["control_latency_median_ms"] < 2000
    assert "JACK" in result["device"]
