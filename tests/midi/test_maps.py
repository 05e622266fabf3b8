"""Map files: round trip, schema_version, malformed files (clear error, file untouched), export/import."""

from __future__ import annotations

import json
import os

import pytest

from lmd_studio.midi.bindings import Binding, MidiSource
from lmd_studio.midi.mapfile import (
    SCHEMA_VERSION,
    MapStore,
    MidiMap,
    MidiMapError,
    controller_file_name,
    load_map,
    map_to_dict,
    save_map,
)

FULL = MidiMap("nanoKONTROL2", (
    Binding(MidiSource("cc", 0, 1), "guidance", range_lo=0.1, range_hi=0.9, invert=True, curve="log",
            smoothing_ms=40.0, takeover="jump"),
    Binding(MidiSource("cc14", None, 3), "master_gain_db"),
    Binding(MidiSource("note", 9, 36), "play_toggle", mode="momentary"),
    Binding(MidiSource("program", 0, 7), "scene_7"),
    Binding(MidiSource("pitchbend", 1), "prompt_weight_1", curve="s-curve"),
))


def test_round_trip_keeps_every_field(tmp_path):
    path = tmp_path / "m.json"
    save_map(FULL, path)
    assert load_map(path) == FULL
    data = json.loads(path.read_text())
    assert data["schema_version"] == SCHEMA_VERSION and data["controller"] == "nanoKONTROL2"
    assert not list(tmp_path.glob(".tmp-*"))  # the atomic write cleaned up


def test_store_uses_one_safe_file_per_controller(tmp_path):
    store = MapStore(tmp_path)
    store.save(FULL)
    weird = MidiMap("a/b:c *?", (Binding(MidiSource("cc", 0, 1), "guidance"),))
    store.save(weird)
    assert store.load("a/b:c *?") == weird and store.load("nanoKONTROL2") == FULL
    assert store.load("never seen") == MidiMap("never seen")
    names = {p.name for p in tmp_path.iterdir()}
    assert names == {controller_file_name("nanoKONTROL2"), controller_file_name("a/b:c *?")}
    assert controller_file_name("a/b") != controller_file_name("a:b")  # same slug, different hash


BAD_FILES = {
    "not json": ("{ not json", "not valid JSON"),
    "a list": ("[]", "must be a JSON object"),
    "no version": (json.dumps({"controller": "x", "bindings": []}), "schema_version"),
    "newer": (json.dumps({"schema_version": 99, "controller": "x", "bindings": []}), "newer LMD Studio"),
    "bindings not list": (json.dumps({"schema_version": 1, "controller": "x", "bindings": {}}), "must be a list"),
    "bad source": (json.dumps({"schema_version": 1, "controller": "x",
                               "bindings": [{"source": "cc:99:1", "target": "guidance"}]}), "binding #0"),
    "bad range": (json.dumps({"schema_version": 1, "controller": "x",
                              "bindings": [{"source": "cc:0:1", "target": "g", "range_lo": 2}]}), "range"),
    "string number": (json.dumps({"schema_version": 1, "controller": "x",
                                  "bindings": [{"source": "cc:0:1", "target": "g", "smoothing_ms": "5"}]}),
                      "smoothing_ms must be a number"),
    "unknown field": (json.dumps({"schema_version": 1, "controller": "x",
                                  "bindings": [{"source": "cc:0:1", "target": "g", "colour": "red"}]}), "colour"),
    "duplicate": (json.dumps({"schema_version": 1, "controller": "x",
                              "bindings": [{"source": "cc:0:1", "target": "g"},
                                           {"source": "cc:0:1", "target": "h"}]}), "bound twice"),
    "no target": (json.dumps({"schema_version": 1, "controller": "x", "bindings": [{"source": "cc:0:1"}]}),
                  "binding #0"),
    "binary": (b"\xff\xfe\x00garbage", "cannot read"),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_malformed_files_give_a_clear_error_naming_the_file(tmp_path, case):
    content, reason = BAD_FILES[case]
    path = tmp_path / "broken.json"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(MidiMapError) as err:
        load_map(path)
    assert str(path) in str(err.value) and reason in str(err.value)


def test_a_malformed_saved_map_is_never_overwritten(make_service, tmp_path, loopback):
    maps = tmp_path / "maps"
    store = MapStore(maps)
    path = store.path_for("Box")
    maps.mkdir()
    path.write_text('{"schema_version": 1, "controller": "Box", "bindings": [oops]}')
    before = (path.read_bytes(), os.stat(path).st_mtime_ns)
    box = loopback.plug("Box")
    service = make_service(maps_dir=maps)
    service.open_input("Box")
    error = service.map_error("Box")
    assert error is not None and str(path) in error and "not valid JSON" in error
    assert any(e.kind == "map_error" for e in service.poll().events)
    # learning still works for this session, but the user's file stays as it was
    service.arm_learn("guidance")
    import mido
    box.send(mido.Message("control_change", control=5, value=1))
    events = service.poll().events
    assert [b.id for b in service.midi_map("Box").bindings] == ["cc:0:5"]
    assert any(e.kind == "map_error" and "not saved" in e.message for e in events)
    assert (path.read_bytes(), os.stat(path).st_mtime_ns) == before
    # until the user says to replace it
    service.discard_broken_map("Box")
    service.remove_binding("Box", "cc:0:5")
    assert load_map(path) == MidiMap("Box")


def test_export_and_import(make_service, tmp_path):
    service = make_service()
    for b in FULL.bindings:
        service.set_binding("Old Box", b)
    exported = tmp_path / "share" / "my.json"
    service.export_map("Old Box", exported)
    assert load_map(exported) == MidiMap("Old Box", FULL.bindings)
    imported = service.import_map("New Box", exported)
    assert imported.controller == "New Box" and service.midi_map("New Box").bindings == FULL.bindings
    assert MapStore(tmp_path / "maps").load("New Box").bindings == FULL.bindings


def test_importing_a_malformed_file_changes_nothing(make_service, tmp_path):
    service = make_service()
    service.set_binding("Box", Binding(MidiSource("cc", 0, 1), "guidance"))
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"schema_version": 1, "controller": "x", "bindings": [{"source": "zz"}]}))
    content = bad.read_bytes()
    with pytest.raises(MidiMapError, match="bad.json"):
        service.import_map("Box", bad)
    assert [b.id for b in service.midi_map("Box").bindings] == ["cc:0:1"]
    assert bad.read_bytes() == content


def test_bindings_to_targets_this_model_lacks_are_listed_inactive_and_kept(make_service, tmp_path):
    store = MapStore(tmp_path / "maps")
    store.save(MidiMap("Box", (Binding(MidiSource("cc", 0, 1), "drumless"),
                               Binding(MidiSource("cc", 0, 2), "guidance"))))
    service = make_service()
    rows = service.bindings("Box")
    assert [(r.binding.target, r.active) for r in rows] == [("drumless", False), ("guidance", True)]
    assert "not in this model" in rows[0].target_label
    service.remove_binding("Box", "cc:0:2")
    assert [b.target for b in store.load("Box").bindings] == ["drumless"]


def test_map_to_dict_is_plain_json():
    data = map_to_dict(FULL)
    assert json.loads(json.dumps(data)) == data  # JSON types only: a tuple or a custom object would not survive
    assert data["schema_version"] == SCHEMA_VERSION and data["controller"] == "nanoKONTROL2"
    assert [b["source"] for b in data["bindings"]] == ["cc:0:1", "cc14:*:3", "note:9:36", "program:0:7",
                                                       "pitchbend:1"]
    assert data["bindings"][0] == {"source": "cc:0:1", "target": "guidance", "range_lo": 0.1, "range_hi": 0.9,
                                   "invert": True, "curve": "log", "smoothing_ms": 40.0, "takeover": "jump",
                                   "mode": "toggle"}
    assert data["bindings"][2]["mode"] == "momentary" and data["bindings"][4]["curve"] == "s-curve"


def test_saved_controllers_lists_readable_and_broken_files(make_service, tmp_path):
    service = make_service()
    service.set_binding("Pad", Binding(MidiSource("cc", 0, 1), "guidance"))
    broken = tmp_path / "maps" / "junk-00000000.midimap.json"
    broken.write_text("{")
    rows = {c: err for c, _, err in service.saved_controllers()}
    assert rows["Pad"] == "" and "not valid JSON" in rows["junk-00000000"]
