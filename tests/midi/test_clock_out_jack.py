"""MIDI clock out through a real MIDI stack (issue 16): the studio's clock out on a JACK MIDI port, and in a
second process the studio's own clock-in (MidiService → PortRouter → ClockFollower) following it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from lmd_studio.midi.backend import JACK_BACKEND
from lmd_studio.midi.clock_out import ClockOut, ClockOutConfig
from lmd_studio.midi.clock_probe import ClockProbeProcess
from lmd_studio.midi.service import MidiConfig, MidiService

pytestmark = pytest.mark.jack


def locked(probe: ClockProbeProcess, bpm: float, timeout_s: float = 12.0) -> tuple[bool, list, dict]:
    """Whether the receiver's clock-in estimate stays within 0.1 bpm of `bpm` for 4 samples in a row
    (a quarter second apart). A loaded machine can stall a JACK cycle now and then: this waits it out."""
    estimates: list = []
    deadline = time.monotonic() + timeout_s
    reply: dict = {}
    while time.monotonic() < deadline:
        time.sleep(0.25)
        reply = probe.request("take")
        estimates.append(reply["estimate_bpm"])
        recent = estimates[-4:]
        if len(recent) == 4 and all(e is not None and abs(e - bpm) <= 0.1 for e in recent):
            return True, estimates, reply
    return False, estimates, reply


def test_our_clock_in_in_another_process_locks_to_our_clock_out(jack_server, sink, catalog, tmp_path):
    name = f"LMD Studio Clock {os.getpid()}"
    tempo = [120.0]
    with MidiService(sink, tmp_path / "maps", JACK_BACKEND, MidiConfig(virtual_port=False), catalog) as service:
        out = ClockOut(service.open_virtual_output(name), lambda: tempo[0], ClockOutConfig(port_name=name))
        out.start()
        try:
            with ClockProbeProcess(JACK_BACKEND) as probe:
                port = probe.request("listen", name=name)["port"]
                # the studio never listens to its own clock (it would follow itself)
                assert port not in service.available_inputs()
                assert service.open_input(port).state == "error"
                out.play()
                ok, estimates, reply = locked(probe, 120.0)
                assert ok, estimates
                assert reply["playing"]  # the Start reached the follower
                tempo[0] = 97.5
                ok, estimates, _ = locked(probe, 97.5)
                assert ok, estimates
                out.stop()
                time.sleep(0.1)
                events = [e[0] for e in probe.request("take")["events"]]
                assert events == ["stop"]
        finally:
            out.close()
    m = out.metrics
    assert m.ticks_sent > 200 and m.send_errors == 0


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
