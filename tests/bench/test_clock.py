"""`lmd bench clock`: the MIDI clock out measured through the running JACK server, reported as JSON."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytestmark = pytest.mark.jack


def test_bench_clock_reports_json_with_its_figures(jack_server):
    out = subprocess.run([sys.executable, "-m", "lmd_studio.cli", "bench", "clock", "--seconds", "3", "--no-link",
                          "--json"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr + out.stdout
    result = json.loads(out.stdout)
    assert result["jack"]["started_here"] is False  # the running server is used, never touched
    midi = result["midi"]
    assert midi["start_received"] and midi["ticks_received"] >= 0.95 * midi["ticks_sent"]
    assert 0.0 <= result["clock_out_jitter_p95_ms"] < 20.0  # the JACK period (5.3 ms) quantises it
    assert result["clock_out_tempo_error_bpm"] < 0.5
    assert 0.0 < result["clock_out_change_beats"] <= 1.5 and midi["send_change_on_beat"]
    assert result["link"] == {"skipped": "--no-link"}
