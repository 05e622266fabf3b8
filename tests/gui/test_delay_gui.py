"""Generative delay in the window: a jam generator shows the Delay switch beside Jam (marked untrained for a
model never taught it), and Delay time and Dry/Wet as knobs among the performance controls (MIDI-learnable
like Follow); the switch lands through the session like Jam."""

from __future__ import annotations

import os
from pathlib import Path

from PySide6 import QtCore

from lmd_studio.gui.controls import tooltip_for
from lmd_studio.midi.targets import TargetCatalog
from tests.gui.conftest import wait_status
from tests.support.model_folders import tiny_model_folder


def test_the_test_tones_have_no_delay_switch_or_knobs(qtbot, open_window) -> None:
    w = open_window()
    wait_status(qtbot, w, lambda st: st.controls_version >= 0)
    assert not w.meters.delay.isVisible()
    assert not {"delay", "delay_s", "dry_wet"} & set(w.performance.widgets)


def test_delay_switch_and_knobs_for_a_jam_model(qtbot, open_window, make_session, tmp_path: Path) -> None:
    session = make_session(model=str(tiny_model_folder(tmp_path / "tiny")))
    w = open_window(session)
    s = w.session
    wait_status(qtbot, w, lambda st: st.jam is not None)
    assert w.meters.delay.isVisible() and w.meters.delay.text() == "Delay (untrained)"  # the tiny model
    knobs = w.performance.widgets
    assert "delay" not in knobs and "jam" not in knobs  # switches, in the Input row
    for name in ("follow", "delay_s", "dry_wet"):
        assert name in knobs and knobs[name].supported and knobs[name].knob.isEnabled(), name
    assert knobs["delay_s"].value_label.text() == "1.0 s"
    assert knobs["dry_wet"].value_label.text() == "100 %"
    assert "Monitor" in tooltip_for(knobs["dry_wet"].spec, True)
    catalog = TargetCatalog.build(s.engine.mailbox.registry)  # what MIDI learn offers (app/midi_link.py)
    assert all(catalog.info(name).continuous for name in ("delay_s", "dry_wet"))
    qtbot.mouseClick(w.meters.delay, QtCore.Qt.MouseButton.LeftButton)
    wait_status(qtbot, w, lambda st: st.jam is not None and st.jam.delay_on)
    assert s.engine.mailbox.get("delay") == 1.0 and w.meters.delay.isChecked()
    knobs["dry_wet"].knob.setValue(knobs["dry_wet"].knob.maximum() // 2)
    assert s.engine.mailbox.get("dry_wet") == 0.5
    wait_status(qtbot, w, lambda st: st.jam is not None and st.jam.dry_wet == 0.5)
    if shots := os.environ.get("LMD_SCREENSHOTS"):
        w.grab().save(str(Path(shots) / "delay-controls.png"))
    qtbot.mouseClick(w.meters.delay, QtCore.Qt.MouseButton.LeftButton)
    wait_status(qtbot, w, lambda st: st.jam is not None and not st.jam.delay_on)
    assert s.engine.mailbox.get("delay") == 0.0
