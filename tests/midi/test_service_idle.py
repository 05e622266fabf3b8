"""MIDI that cannot open costs nothing (issue 12): the housekeeping thread sleeps instead of spinning, and
a backend change is applied without a restart, keeping maps and inputs."""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path

import mido
import pytest

from lmd_studio.midi.bindings import Binding, MidiSource
from lmd_studio.midi.service import MidiConfig, MidiService
from tests.midi.conftest import LOOPBACK

BROKEN = "no.such.backend"


def housekeeping_cpu_s() -> float:
    """CPU seconds used so far by this process's "midi-housekeeping" thread (Linux /proc)."""
    thread = next(t for t in threading.enumerate() if t.name == "midi-housekeeping")
    fields = Path(f"/proc/self/task/{thread.native_id}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def test_an_unopenable_midi_system_wakes_the_housekeeping_thread_never(sink, catalog, tmp_path):
    service = MidiService(sink, tmp_path, BROKEN, MidiConfig(scan_interval_s=0.05), catalog)
    service.start()
    try:
        assert BROKEN in service.backend_error
        time.sleep(0.1)  # past the first rescan deadline, where the old loop began to spin
        before = service.housekeeping_passes
        time.sleep(0.5)  # ten scan intervals
        assert service.housekeeping_passes - before == 0  # nothing to rescan: asleep until close()
    finally:
        service.close()


def test_an_open_midi_system_wakes_once_per_scan_interval(make_service):
    service = make_service(MidiConfig(scan_interval_s=0.05))
    time.sleep(0.05)
    before = service.housekeeping_passes
    time.sleep(0.5)
    assert 3 <= service.housekeeping_passes - before <= 12  # ≈ 10 rescans, not a busy loop


def test_a_failing_rescan_waits_a_whole_interval_too(make_service, monkeypatch):
    """A MIDI system whose listing throws (e.g. the JACK server died mid-call) must not be retried at once."""
    service = make_service(MidiConfig(scan_interval_s=0.05))
    from lmd_studio.midi.ports import PortManager

    def broken_scan(self):
        raise RuntimeError("the MIDI system went away")

    monkeypatch.setattr(PortManager, "scan", broken_scan)
    time.sleep(0.1)
    before = service.housekeeping_passes
    time.sleep(0.5)
    assert "went away" in service.backend_error
    assert service.housekeeping_passes - before <= 12


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_an_unopenable_midi_system_costs_no_cpu(sink, catalog, tmp_path):
    """The user's report, measured as they saw it: the thread's CPU time while MIDI is unavailable (the
    old loop used ≈ 40–95 % of a core; now it sleeps)."""
    service = MidiService(sink, tmp_path, BROKEN, MidiConfig(scan_interval_s=0.05), catalog)
    service.start()
    try:
        time.sleep(0.1)
        before = housekeeping_cpu_s()
        time.sleep(1.0)
        assert housekeeping_cpu_s() - before <= 0.02  # two clock ticks of slack
    finally:
        service.close()


def test_reopen_switches_backend_and_keeps_maps_and_inputs(make_service, loopback, params):
    knobs = loopback.plug("Knobs")
    service = make_service()
    service.set_inputs(["Knobs"])
    service.set_binding("Knobs", Binding(MidiSource("cc", 0, 7), "density", takeover="jump"))
    knobs.send(mido.Message("note_on", note=60, velocity=100))
    assert service.active_notes() == ((60, 100),)

    service.reopen(BROKEN)  # e.g. the user picks a backend this machine lacks
    assert BROKEN in service.backend_error and service.port_statuses() == ()
    assert [e.kind for e in service.poll().events] == ["backend"]
    assert service.active_notes() == ()  # no stuck notes: their note-offs could never arrive
    time.sleep(0.2)
    idle = service.housekeeping_passes
    time.sleep(0.3)
    assert service.housekeeping_passes == idle

    service.reopen(LOOPBACK)  # and back: no restart, the same map drives the same knob
    assert service.backend_error == ""
    service.set_inputs(["Knobs"])
    assert [s.state for s in service.port_statuses() if s.controller == "Knobs"] == ["open"]
    knobs.send(mido.Message("control_change", control=7, value=127))
    assert params.get("density") == 1.0
    assert [b.target for b in (i.binding for i in service.bindings("Knobs"))] == ["density"]


def test_reopen_on_the_same_backend_reopens_the_wanted_inputs(make_service, loopback, params):
    knobs = loopback.plug("Knobs")
    service = make_service()
    service.set_inputs(["Knobs"])
    service.set_binding("Knobs", Binding(MidiSource("cc", 0, 7), "density", takeover="jump"))
    service.reopen(LOOPBACK)
    assert {s.controller: s.state for s in service.port_statuses()}["Knobs"] == "open"
    knobs.send(mido.Message("control_change", control=7, value=0))
    assert params.get("density") == 0.0
