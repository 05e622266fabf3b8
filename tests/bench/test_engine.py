"""`lmd bench engine`: the real-time engine through an audio server, reported as JSON."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from lmd_studio.bench.engine_quantised import change_centres, offsets_to_bar_lines

ROOT = Path(__file__).resolve().parents[2]


def test_bench_engine_entry_point_prints_the_json_keys() -> None:
    proc = subprocess.run([sys.executable, "-m", "lmd_studio", "bench", "engine", "--seconds", "2",
                           "--latency-seconds", "3", "--change-every", "0.5", "--quantised-seconds", "5", "--json"],
                          capture_output=True, text=True, timeout=180, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout[proc.stdout.index("{"):])
    for key in ("underruns", "callback_lateness_p99_ms", "buffer_period_ms", "control_latency_median_ms",
                "control_latency_p95_ms"):
        assert key in result
    assert result["buffer_period_ms"] > 5.0 and result["control_changes"] >= 2
    assert 0 < result["control_latency_median_ms"] < 2000
    assert "JACK" in result["device"]
    # the quantised run: a change in every bar (2 s at 120 bpm), each found in the audio played
    assert result["quantised_changes_made"] >= 2
    assert result["quantised_changes_heard"] == result["quantised_changes_made"]
    assert result["bar_change_offset_ms_p95"] >= 0.0 and "quantised_run_underruns" in result


def test_change_centres_are_found_to_the_sample() -> None:
    """The analysis on a made-up stream: a level step crossfaded (raised cosine) around known positions."""
    rate = 8000
    t = np.arange(4 * rate) / rate
    unit = (np.sin(2 * np.pi * 220 * t) + 0.5 * np.sin(2 * np.pi * 331 * t)).astype(np.float32)
    level = np.full(len(t), 0.25)
    xf = 96
    fade = 0.5 - 0.5 * np.cos(np.linspace(0.0, np.pi, xf))
    for centre, (a, b) in ((8000, (0.25, 0.85)), (20003, (0.85, 0.25))):
        start = centre - xf // 2
        level[start:start + xf] = a + (b - a) * fade
        level[start + xf:] = b
    centres = change_centres((level * unit).astype(np.float32), unit, 0.25, 0.85)
    np.testing.assert_allclose(centres, [8000 - 0.5, 20003 - 0.5], atol=0.05)  # half way at index (xf-1)/2
    # to the nearest bar line of 8000 frames: 0.5 before 8000, and 3997.5 before 24000
    np.testing.assert_allclose(offsets_to_bar_lines(centres, 0, 8000.0), [-0.5, -3997.5], atol=0.05)
