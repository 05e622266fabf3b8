"""MIDI clock out through a real MIDI stack (issue 16): the studio's clock out on a JACK MIDI port, and in a
second process the studio's own clock-in (MidiService → PortRouter → ClockFollower) following it."""

from __future__ import annotations

import os
import time

import pytest

from lmd_studio.bench.harness.clock_probe import ClockProbeProcess
from lmd_studio.midi.backend import JACK_BACKEND
from lmd_studio.midi.clock_out import ClockOut, ClockOutConfig
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
