"""`lmd bench midi`: probe latencies matched to what was sent; the command through a real JACK server
(the running one, or one it starts itself) reports JSON without loading torch."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from lmd_studio.bench.midi import match_probe_latencies_ms
from lmd_studio.core.jack_server import jack_server_running
from lmd_studio.core.params import STANDARD_PARAMS


def test_bench_matching_skips_a_lost_probe_instead_of_shifting():
    spec = STANDARD_PARAMS.spec("guidance")
    sent = [(v, float(i)) for i, v in enumerate([5, 9, 5, 9])]  # values repeat, as probes do
    stamps = [(spec.from_normalized(5 / 127), 0.003),  # probe 1 (t=1.0) lost
              (spec.from_normalized(5 / 127), 2.004), (spec.from_normalized(9 / 127), 3.002)]
    assert match_probe_latencies_ms(sent, stamps) == pytest.approx([3.0, 4.0, 2.0])


@pytest.mark.jack
def test_bench_cli_reports_json_and_imports_no_torch(jack_server):
    code = ("import sys, lmd_studio.bench.midi as b, lmd_studio.cli as c; assert 'torch' not in sys.modules;"
            "sys.exit(c.main(['bench', 'midi', '--count', '40', '--interval-ms', '5', '--json']))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr + out.stdout
    result = json.loads(out.stdout)
    assert result["received"] >= 36 and result["jack"]["started_here"] is False
    assert 0.0 < result["latency_median_ms"] <= result["latency_p95_ms"] <= result["latency_max_ms"]


@pytest.mark.jack
def test_bench_starts_its_own_jack_server_when_none_runs(jack_server):
    # JACK's registry holds 8 servers and unclean exits leak slots, so only fixed names are used
    free = []
    for name in ("lmdmidi0", "lmdmidi1", "lmdmidi2"):
        os.environ["JACK_DEFAULT_SERVER"] = name
        try:
            if not jack_server_running():
                free.append(name)
        finally:
            os.environ["JACK_DEFAULT_SERVER"] = jack_server.server_name
    assert free, "every test server name is taken"
    env = dict(os.environ, JACK_DEFAULT_SERVER=free[0])
    out = subprocess.run([sys.executable, "-m", "lmd_studio.cli", "bench", "midi", "--count", "20", "--json"],
                         capture_output=True, text=True, timeout=120, env=env)
    assert out.returncode == 0, out.stderr + out.stdout
    result = json.loads(out.stdout)
    assert result["jack"]["started_here"] is True and result["received"] >= 18
