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


def test_start_reaches_a_receiver_on_the_grids_bar_line(jack_server, sink, catalog, tmp_path):
    """Following the engine's grid (beats counted from a bar line, 4/4 at 240 bpm: a bar a second, first
    answering 0.3 s after Play as the engine primes), the Start the other process receives falls on a bar
    line of that grid — to a JACK period and the receiver's time stamps."""
    name = f"LMD Studio Clock bar {os.getpid()}"
    t0 = time.perf_counter() + 1.0  # (after the probe is listening) the grid answers from here, at beat 1.5

    def grid():
        now = time.perf_counter()
        return None if now < t0 else (now, 1.5 + (now - t0) * 4.0, 240.0)

    with MidiService(sink, tmp_path / "maps", JACK_BACKEND, MidiConfig(virtual_port=False), catalog) as service:
        out = ClockOut(service.open_virtual_output(name), lambda: 120.0, ClockOutConfig(port_name=name),
                       timeline=grid, beats_per_bar=lambda: 4)
        out.start()
        try:
            with ClockProbeProcess(JACK_BACKEND) as probe:
                probe.request("listen", name=name)
                time.sleep(max(0.0, t0 - 0.3 - time.perf_counter()))
                out.play()  # 0.3 s before the grid answers: Start waits for it, then for its bar line
                time.sleep(2.5)
                events = probe.request("take")["events"]
        finally:
            out.close()
    starts = [t for kind, t, _ in events if kind == "start"]
    assert len(starts) == 1, events
    beat = 1.5 + (starts[0] - t0) * 4.0
    print(f"\nStart received at grid beat {beat:.4f} ({(beat - round(beat / 4) * 4) * 250:+.2f} ms from the bar line)")
    assert starts[0] > t0 and beat == pytest.approx(round(beat / 4) * 4, abs=0.1), f"Start at beat {beat:.3f}"
