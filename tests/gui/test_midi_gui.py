"""MIDI in the window, through the in-process loopback MIDI backend: learn from a right-click, the knob
follows the controller, the map editor lists and edits the binding, held notes and actions show up; MIDI
that cannot open is a banner whose button opens Settings → MIDI, where another backend applies at once."""

from __future__ import annotations

import dataclasses

import mido
import pytest
from PySide6 import QtCore, QtWidgets

from lmd_studio.gui.midi_dialog import MidiMapDialog
from tests.gui.conftest import wait_status
from tests.support import mido_loopback


@pytest.fixture
def knobs(monkeypatch):
    monkeypatch.setenv("MIDO_BACKEND", mido_loopback.NAME)
    mido_loopback.reset()
    device = mido_loopback.plug("Knobs")
    yield device
    mido_loopback.reset()


def _use_input(session, name: str) -> None:
    s = session.settings
    session.apply_settings(dataclasses.replace(s, midi=dataclasses.replace(s.midi, inputs=(name,))))


def _cc(device, control: int, value: int, channel: int = 0) -> None:
    device.send(mido.Message("control_change", channel=channel, control=control, value=value))


def test_midi_learn_then_the_knob_follows_the_controller(qtbot, open_window, knobs) -> None:
    w = open_window(midi=True)
    s = w.session
    assert s.midi.available and "Knobs" in s.midi.input_names()
    _use_input(s, "Knobs")
    assert w.performance.widgets["temperature"].learn_enabled
    w.midi_learn("temperature")
    qtbot.waitUntil(lambda: "MIDI learn" in w.notice_bar.label.text(), timeout=2000)
    assert s.midi.learning_target == "temperature" and "Temperature" in w.notice_bar.label.text()
    for v in range(40, 70, 3):  # the player wiggles CC 21
        _cc(knobs, 21, v)
    qtbot.waitUntil(lambda: s.midi.learning_target == "", timeout=3000)
    rows = s.midi.bindings("Knobs")
    assert [(r.source_id, r.target) for r in rows] == [("cc:0:21", "temperature")]
    for v in range(60, 128, 4):  # soft takeover: sweep through the current value, then up to the top
        _cc(knobs, 21, v)
    _cc(knobs, 21, 127)
    qtbot.waitUntil(lambda: abs(s.engine.mailbox.get("temperature") - 1.5) < 1e-6, timeout=2000)
    qtbot.waitUntil(lambda: abs(w.performance.widgets["temperature"].value() - 1.5) < 0.01, timeout=2000)


def test_map_editor_lists_and_edits_bindings(qtbot, open_window, knobs) -> None:
    w = open_window(midi=True)
    s = w.session
    _use_input(s, "Knobs")
    s.midi.learn("brightness")
    for v in (10, 20, 30, 40):
        _cc(knobs, 7, v)
    qtbot.waitUntil(lambda: len(s.midi.bindings("Knobs")) == 1, timeout=3000)
    dialog = MidiMapDialog(s.midi, parent=w)
    dialog.show()
    try:
        assert dialog.controller.currentText() == "Knobs"
        assert dialog.table.rowCount() == 1
        assert "CC 7" in dialog.table.item(0, 0).text() and dialog.table.item(0, 1).text() == "Brightness"
        dialog.table.selectRow(0)
        dialog.invert.setChecked(True)
        dialog.curve.setCurrentText("exp")
        row = s.midi.bindings("Knobs")[0]
        assert row.invert and row.curve == "exp"
        dialog.remove_button.click()
        assert s.midi.bindings("Knobs") == [] and dialog.table.rowCount() == 0
    finally:
        dialog.close()
        dialog.deleteLater()


def test_notes_actions_and_prompt_weights_from_midi(qtbot, open_window, knobs) -> None:
    w = open_window(midi=True)
    s = w.session
    _use_input(s, "Knobs")
    knobs.send(mido.Message("note_on", note=60, velocity=100))
    knobs.send(mido.Message("note_on", note=64, velocity=90))
    wait_status(qtbot, w, lambda st: [n for n, _ in st.held_notes] == [60, 64])
    qtbot.waitUntil(lambda: "C4" in w.header.notes.text() and "E4" in w.header.notes.text(), timeout=2000)
    knobs.send(mido.Message("note_off", note=60))
    knobs.send(mido.Message("note_off", note=64))
    wait_status(qtbot, w, lambda st: st.held_notes == ())
    # actions and prompt weights arrive through the action mailbox the window's timer polls
    s.midi.actions.trigger("play_toggle")
    wait_status(qtbot, w, lambda st: st.playing)
    s.midi.actions.set_prompt_weight(0, 0.25)
    qtbot.waitUntil(lambda: abs(s.prompts.entries()[0].weight - 0.25) < 1e-9, timeout=2000)
    qtbot.waitUntil(lambda: w.prompts.slots[0].weight.value() == 25, timeout=2000)
    s.scenes.save(3, "four")
    s.performance.set_value("density", 0.9)
    s.midi.actions.trigger("scene_3")
    qtbot.waitUntil(lambda: abs(s.engine.mailbox.get("density") - 0.5) < 1e-6, timeout=5000)


def test_escape_cancels_learning_instead_of_panic(qtbot, open_window, knobs) -> None:
    w = open_window(midi=True)
    s = w.session
    s.transport.play()
    wait_status(qtbot, w, lambda st: st.playing)
    w.midi_learn("density")
    qtbot.keyClick(w, QtCore.Qt.Key.Key_Escape)
    assert s.midi.learning_target == ""
    qtbot.wait(300)
    assert s.transport.playing


def test_midi_that_cannot_open_is_a_banner_whose_fix_applies_at_once(qtbot, open_window, monkeypatch) -> None:
    monkeypatch.setenv("MIDO_BACKEND", "no.such.backend")
    mido_loopback.reset()
    mido_loopback.plug("Knobs")
    w = open_window(midi=True)
    s = w.session
    qtbot.waitUntil(lambda: "MIDI is off" in w.notice_bar.label.text(), timeout=3000)
    assert not s.midi.available and "Settings → MIDI" in w.notice_bar.label.text()
    button = w.notice_bar.action_button
    assert button.isVisible() and button.text() == "MIDI settings…"
    seen = {}

    def choose_a_working_backend() -> None:
        dialog = QtWidgets.QApplication.activeModalWidget()
        seen["tab"] = dialog.tabs.tabText(dialog.tabs.currentIndex())
        dialog.midi_backend.setEditText(mido_loopback.NAME)  # typed: any mido backend module
        dialog.accept()

    QtCore.QTimer.singleShot(0, choose_a_working_backend)
    button.click()
    try:
        assert seen["tab"] == "MIDI"
        assert s.settings.midi.backend == mido_loopback.NAME
        assert s.midi.available and "Knobs" in s.midi.input_names()  # no restart needed
        qtbot.waitUntil(lambda: "MIDI is on" in w.notice_bar.label.text(), timeout=3000)
    finally:
        mido_loopback.reset()


def test_settings_offer_the_midi_backends_and_keep_a_typed_one(qtbot, tmp_path) -> None:
    from lmd_studio.gui.settings_dialog import SettingsDialog
    from lmd_studio.settings.schema import MidiSettings, StudioSettings

    jack = "mido.backends.rtmidi/UNIX_JACK"
    dialog = SettingsDialog(StudioSettings(midi=MidiSettings(backend=jack)), [], [], tmp_path)
    qtbot.addWidget(dialog)
    assert dialog.midi_backend.currentText() == "JACK MIDI" and dialog.result_settings().midi.backend == jack
    dialog.midi_backend.setCurrentIndex(dialog.midi_backend.findData(""))
    assert dialog.result_settings().midi.backend == ""
    dialog.show_tab("MIDI")
    assert dialog.tabs.tabText(dialog.tabs.currentIndex()) == "MIDI"
    typed = SettingsDialog(StudioSettings(midi=MidiSettings(backend="my.backend")), [], [], tmp_path)
    qtbot.addWidget(typed)
    assert typed.result_settings().midi.backend == "my.backend"
