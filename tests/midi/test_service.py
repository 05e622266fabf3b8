"""MidiService on the in-process backend: ports, hot-plug, virtual port, learn, map editing."""

from __future__ import annotations

import time

import mido
import pytest

from lmd_studio.core.params import GUIDANCE
from lmd_studio.midi.backend import JACK_BACKEND, MIDO_DEFAULT_BACKEND, MidiBackendError, resolve_backend_name
from lmd_studio.midi.bindings import Binding, MidiSource
from lmd_studio.midi.ports import controller_name, list_midi_ports
from lmd_studio.midi.service import MidiConfig, MidiService
from tests.midi.conftest import LOOPBACK


def cc(n, v, ch=0):
    return mido.Message("control_change", channel=ch, control=n, value=v)


def wait_for(predicate, timeout_s=3.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()


def test_backend_resolution_order():
    assert resolve_backend_name("x.y", environ={"MIDO_BACKEND": "a.b"}) == "x.y"
    assert resolve_backend_name(None, environ={"MIDO_BACKEND": "a.b"}) == "a.b"
    assert resolve_backend_name("", use_jack=True, environ={}) == JACK_BACKEND
    assert resolve_backend_name(None, environ={}) == MIDO_DEFAULT_BACKEND


def test_list_midi_ports_and_a_broken_backend(loopback):
    loopback.plug("Knob Box")
    assert list_midi_ports(LOOPBACK) == (("Knob Box",), ())
    with pytest.raises(MidiBackendError, match="no.such.backend"):
        list_midi_ports("no.such.backend")


def test_a_missing_backend_does_not_stop_the_service(sink, catalog, tmp_path):
    service = MidiService(sink, tmp_path, "no.such.backend", catalog=catalog)
    service.start()
    try:
        assert "no.such.backend" in service.backend_error
        assert service.available_inputs() == ()
        assert [e.kind for e in service.poll().events] == ["backend"]
    finally:
        service.close()


def test_controller_names_drop_alsa_numbers():
    assert controller_name("nanoKONTROL2:nanoKONTROL2 MIDI 1 20:0") == "nanoKONTROL2:nanoKONTROL2 MIDI 1"
    assert controller_name("Knob Box:Knob Box") == "Knob Box:Knob Box"


def test_several_inputs_at_once_each_with_its_map(loopback, make_service, params):
    a, b = loopback.plug("Box A"), loopback.plug("Box B")
    service = make_service()
    assert set(service.available_inputs()) == {"Box A", "Box B"}
    service.set_inputs(["Box A", "Box B"])
    service.set_binding("Box A", Binding(MidiSource("cc", 0, 1), "guidance", takeover="jump"))
    service.set_binding("Box B", Binding(MidiSource("cc", 0, 1), "temperature", takeover="jump"))
    a.send(cc(1, 127))
    b.send(cc(1, 0))
    assert params.get("guidance") == GUIDANCE.maximum and params.get("temperature") == 0.5
    assert {s.controller: s.state for s in service.port_statuses()} == {
        "LMD Studio": "open", "Box A": "open", "Box B": "open"}


def test_virtual_port_receives_from_other_programs(loopback, make_service, params):
    service = make_service()
    service.set_binding("LMD Studio", Binding(MidiSource("cc", 3, 9), "density", takeover="jump"))
    out = mido.Backend(LOOPBACK).open_output("LMD Studio")
    out.send(cc(9, 127, ch=3))
    assert params.get("density") == 1.0
    assert "LMD Studio" not in service.available_inputs()


def test_virtual_port_unsupported_is_a_status_not_a_crash(loopback, make_service):
    loopback.virtual_supported = False
    service = make_service()
    (status,) = service.port_statuses()
    assert status.state == "error" and "virtual" in status.error
    assert any(e.kind == "port" for e in service.poll().events)


def test_hot_plug_a_vanished_port_is_reopened(loopback, make_service, params):
    box = loopback.plug("Box")
    service = make_service()  # scans every 50 ms
    service.open_input("Box")
    service.set_binding("Box", Binding(MidiSource("cc", 0, 1), "guidance", takeover="jump"))
    box.send(cc(1, 127))
    assert params.get("guidance") == GUIDANCE.maximum
    service.poll()
    loopback.unplug("Box")
    assert wait_for(lambda: {s.controller: s.state for s in service.port_statuses()}["Box"] == "missing")
    events = [e.message for e in service.poll().events]
    assert any("disconnected" in m for m in events)
    box = loopback.plug("Box")
    assert wait_for(lambda: {s.controller: s.state for s in service.port_statuses()}["Box"] == "open")
    box.send(cc(1, 0))
    assert params.get("guidance") == GUIDANCE.minimum  # same map, same binding after the replug
    assert any("connected" in e.message for e in service.poll().events)


def test_opening_a_port_that_is_not_there_waits_for_it(loopback, make_service):
    service = make_service()
    status = service.open_input("Later Box")
    assert status.state == "missing"
    loopback.plug("Later Box")
    assert wait_for(lambda: service.port_statuses()[-1].state == "open")


def test_learn_a_cc_end_to_end(loopback, make_service, params, tmp_path):
    box = loopback.plug("Box")
    service = make_service()
    service.open_input("Box")
    service.arm_learn("guidance")
    assert service.learn_state().armed and service.learn_state().target == "guidance"
    for v in (10, 11, 12):
        box.send(cc(7, v, ch=2))
    assert params.get("guidance") == GUIDANCE.default  # swallowed while learning
    assert service.learn_state().heard == "CC 7, ch 3"
    events = service.poll().events
    learned = [e for e in events if e.kind == "learned"]
    assert learned and learned[0].binding.source == MidiSource("cc", 2, 7) and learned[0].controller == "Box"
    assert not service.learn_state().armed
    box.send(cc(7, 127, ch=2)), box.send(cc(7, 0, ch=2))  # soft takeover: from 1/8 of travel, passes it
    assert params.get("guidance") == GUIDANCE.minimum
    # saved per controller
    assert [b.id for b in service.midi_map("Box").bindings] == ["cc:2:7"]
    assert len(list((tmp_path / "maps").glob("*.midimap.json"))) == 1  # make_service's maps folder


def test_learn_detects_14bit_pairs_and_replaces_old_bindings(loopback, make_service):
    box = loopback.plug("Box")
    service = make_service()
    service.open_input("Box")
    service.set_binding("Box", Binding(MidiSource("cc", 0, 50), "guidance"))
    service.set_binding("Box", Binding(MidiSource("cc", 0, 51), "temperature"))
    service.arm_learn("guidance")
    for v in range(5):
        box.send(cc(2, 64)), box.send(cc(34, v * 20))
    service.poll()
    ids = {b.id: b.target for b in service.midi_map("Box").bindings}
    assert ids == {"cc:0:51": "temperature", "cc14:0:2": "guidance"}


def test_learn_notes_programs_pitch_bend_and_actions(loopback, make_service):
    box = loopback.plug("Box")
    service = make_service()
    service.open_input("Box")
    for target, msg in [("play_toggle", mido.Message("note_on", channel=9, note=36, velocity=100)),
                        ("scene_5", mido.Message("program_change", channel=0, program=12)),
                        ("brightness", mido.Message("pitchwheel", channel=1, pitch=300))]:
        service.arm_learn(target)
        box.send(msg)
        service.poll()
    got = {b.target: (b.id, b.takeover) for b in service.midi_map("Box").bindings}
    assert got == {"play_toggle": ("note:9:36", "jump"), "scene_5": ("program:0:12", "jump"),
                   "brightness": ("pitchbend:1", "soft")}


def test_learn_waits_for_the_settle_time_and_picks_the_control_moved_most(loopback, make_service):
    box = loopback.plug("Box")
    service = make_service(MidiConfig(scan_interval_s=0.05, learn_settle_s=0.2))
    service.open_input("Box")
    service.arm_learn("density")
    box.send(cc(1, 0))  # a stray touch first
    for v in range(6):
        box.send(cc(74, v))
    assert not [e for e in service.poll().events if e.kind == "learned"]  # too early
    time.sleep(0.25)
    learned = [e for e in service.poll().events if e.kind == "learned"]
    assert learned[0].binding.source == MidiSource("cc", 0, 74)


def test_cancel_learn_and_unknown_target(make_service, loopback):
    box = loopback.plug("Box")
    service = make_service()
    service.open_input("Box")
    with pytest.raises(KeyError, match="no_such_knob"):
        service.arm_learn("no_such_knob")
    service.arm_learn("guidance")
    service.cancel_learn()
    box.send(cc(1, 5))
    service.poll()
    assert service.midi_map("Box").bindings == ()


def test_map_editor_operations(make_service, tmp_path):
    service = make_service()
    service.set_binding("Pad", Binding(MidiSource("cc", 0, 1), "guidance"))
    service.set_binding("Pad", Binding(MidiSource("note", 9, 40), "panic", mode="momentary"))
    service.set_binding("Pad", Binding(MidiSource("cc", 0, 1), "guidance", curve="exp", invert=True))  # edit
    rows = service.bindings("Pad")
    assert [(r.binding.id, r.binding.curve, r.active) for r in rows] == [("cc:0:1", "exp", True),
                                                                         ("note:9:40", "linear", True)]
    assert rows[1].target_label.startswith("Panic")
    service.remove_binding("Pad", "cc:0:1")
    assert [r.binding.id for r in service.bindings("Pad")] == ["note:9:40"]
    # a fresh service reads what was saved
    again = make_service()
    assert [b.id for b in again.midi_map("Pad").bindings] == ["note:9:40"]
    with pytest.raises(KeyError):
        service.set_binding("Pad", Binding(MidiSource("cc", 0, 2), "nonexistent"))


def test_panic_and_active_notes(loopback, make_service, params):
    box = loopback.plug("Keys")
    service = make_service()
    service.open_input("Keys")
    box.send(mido.Message("note_on", note=60, velocity=80))
    box.send(mido.Message("note_on", note=64, velocity=90))
    assert service.active_notes() == ((60, 80), (64, 90)) == service.poll().held_notes
    service.panic()
    assert service.active_notes() == () and params.snapshot().controls.held_notes == ()


def test_clock_through_the_service(loopback, make_service, params):
    box = loopback.plug("Clock")
    service = make_service()
    service.open_input("Clock")
    service.set_follow_transport(True)
    box.send(mido.Message("start"))
    assert dict(service.sink.actions.poll().actions) == {"play": 1}
    box.send(mido.Message("clock"))
    assert service.clock_state().receiving


def test_alsa_renumbered_port_is_reopened_under_its_new_name(loopback, make_service, params):
    box = loopback.plug("nano:nano MIDI 1 20:0")
    service = make_service()
    service.open_input("nano:nano MIDI 1 20:0")
    service.set_binding("nano:nano MIDI 1", Binding(MidiSource("cc", 0, 1), "guidance", takeover="jump"))
    box.send(cc(1, 127))
    assert params.get("guidance") == GUIDANCE.maximum
    loopback.unplug("nano:nano MIDI 1 20:0")
    box = loopback.plug("nano:nano MIDI 1 24:0")  # replugged: ALSA gave it a new client number
    assert wait_for(lambda: service.port_statuses()[-1].name == "nano:nano MIDI 1 24:0"
                    and service.port_statuses()[-1].state == "open")
    box.send(cc(1, 0))
    assert params.get("guidance") == GUIDANCE.minimum


def test_set_inputs_closes_ports_no_longer_chosen(loopback, make_service, params):
    a = loopback.plug("A")
    loopback.plug("B")
    service = make_service()
    service.set_inputs(["A", "B"])
    service.set_binding("A", Binding(MidiSource("cc", 0, 1), "guidance", takeover="jump"))
    service.set_inputs(["B"])
    assert {s.controller for s in service.port_statuses()} == {"LMD Studio", "B"}
    a.send(cc(1, 127))
    assert params.get("guidance") == GUIDANCE.default


def test_smoothed_binding_glides_on_the_housekeeping_thread(loopback, make_service, params):
    box = loopback.plug("Box")
    service = make_service()
    service.open_input("Box")
    service.set_binding("Box", Binding(MidiSource("cc", 0, 1), "brightness", smoothing_ms=30.0,
                                       takeover="jump"))
    params.set("brightness", 0.0)
    box.send(cc(1, 127))
    assert params.get("brightness") < 0.5  # not there at once
    assert wait_for(lambda: params.get("brightness") == 1.0, timeout_s=2.0)


def test_prompt_weight_soft_takeover_respects_weights_set_in_the_gui(loopback, make_service, actions):
    box = loopback.plug("Box")
    service = make_service()
    service.open_input("Box")
    service.set_binding("Box", Binding(MidiSource("cc", 0, 40), "prompt_weight_0"))
    actions.sync_prompt_weight(0, 0.75)  # what the Session reports when the user drags the slider
    box.send(cc(40, 10)), box.send(cc(40, 60))
    assert actions.poll().prompt_weights == ()
    box.send(cc(40, 100))  # 60 → 100 passes 0.75·127 ≈ 95
    assert actions.poll().prompt_weights == ((0, pytest.approx(100 / 127)),)


def test_set_catalog_follows_a_model_with_other_parameters(loopback, make_service, actions, tmp_path):
    from lmd_studio.core.params import STANDARD_PARAMS, ParamSpec
    from lmd_studio.midi.mapfile import MapStore, MidiMap
    from lmd_studio.midi.sink import MailboxSink
    from lmd_studio.midi.targets import TargetCatalog
    from lmd_studio.rt.mailbox import ParamMailbox

    MapStore(tmp_path / "maps").save(MidiMap("Box", (Binding(MidiSource("cc", 0, 1), "drumless", takeover="jump"),)))
    box = loopback.plug("Box")
    service = make_service()
    service.open_input("Box")
    assert [r.active for r in service.bindings("Box")] == [False]
    registry = STANDARD_PARAMS.merged([ParamSpec("drumless", "Drumless", 0.0, 1.0, 0.0)])
    catalog = TargetCatalog.build(registry)
    new_params = ParamMailbox(registry)
    service.sink = MailboxSink(new_params, actions, catalog)  # what a switchable sink does for the app
    service.set_catalog(catalog)
    assert [r.active for r in service.bindings("Box")] == [True]
    box.send(cc(1, 127))
    assert new_params.get("drumless") == 1.0
