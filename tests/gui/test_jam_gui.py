"""Jam mode in the window: a model that can hear a partner shows the Jam switch and the Follow knob; the
switch lands like any change, the model then hears the audio input (here the Null backend's silent input),
and says so when the input is off or the model was never taught to follow."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from PySide6 import QtCore

from lmd_studio.core.generator import HearsInput
from lmd_studio.model.jam import JamGenerator
from lmd_studio.model.jam_input import StreamInputSource
from tests.gui.conftest import wait_status
from tests.support.model_folders import tiny_model_folder


def test_the_test_tones_have_no_jam_switch(qtbot, open_window) -> None:
    w = open_window()
    wait_status(qtbot, w, lambda st: st.controls_version >= 0)
    assert w.last_status.jam is None and not w.meters.jam.isVisible()
    assert "follow" not in {c.spec.name for c in w.session.performance.controls() if c.supported}


def test_jam_switch_hears_the_input_and_says_what_is_missing(qtbot, open_window, make_session,
                                                             tmp_path: Path) -> None:
    folder = tiny_model_folder(tmp_path / "tiny")
    session = make_session(model=str(folder))
    w = open_window(session)
    s = w.session
    generator = s.engine.runtime.generator
    assert isinstance(generator, JamGenerator) and isinstance(generator, HearsInput)
    controls = {c.spec.name: c for c in s.performance.controls()}
    assert controls["follow"].supported and "jam" not in controls  # Follow is a knob, Jam a switch
    wait_status(qtbot, w, lambda st: st.jam is not None)
    assert w.meters.jam.isVisible() and w.meters.jam.text() == "Jam (untrained)"  # the tiny model never learned
    # input off: switching Jam on says where to switch the input on
    qtbot.mouseClick(w.meters.jam, QtCore.Qt.MouseButton.LeftButton)
    wait_status(qtbot, w, lambda st: st.jam is not None and st.jam.on)
    assert "Settings › Audio" in w.meters.input_message.text()
    # the input on (the engine is rebuilt): Jam stays on, and the model hears the input while it plays
    s.apply_settings(dataclasses.replace(s.settings, audio=dataclasses.replace(s.settings.audio, input_enabled=True)))
    wait_status(qtbot, w, lambda st: st.jam is not None and st.jam.on and st.jam.input_on)
    generator = s.engine.runtime.generator
    assert isinstance(generator, JamGenerator) and isinstance(generator.source, StreamInputSource)
    assert generator.source.input is not None  # attached to this engine's input
    s.transport.play()
    qtbot.waitUntil(lambda: generator.source.available_frames() > generator.source.first_frame + 8, timeout=30000)
    assert generator.source.restarts >= 1
    # the timeline: the input in a lane under the music, and the line where the model's hearing of it ends
    wait_status(qtbot, w, lambda st: st.played_s > 1.0)
    qtbot.waitUntil(lambda: w.timeline.input_image.isVisible() and w.timeline.heard_line.isVisible(), timeout=10000)
    frame = s.timeline.frame(16.0, 400)
    assert frame.input_wave is not None and len(frame.input_wave.mins) > 0 and frame.heard_s is not None
    assert 0.0 < frame.heard_s <= frame.play_s + 0.05  # heard up to about the playhead, never ahead of it
    if shots := os.environ.get("LMD_SCREENSHOTS"):
        w.grab().save(str(Path(shots) / "jam-input-lane.png"))
    # off again: the switch lands like any other change
    qtbot.mouseClick(w.meters.jam, QtCore.Qt.MouseButton.LeftButton)
    wait_status(qtbot, w, lambda st: st.jam is not None and not st.jam.on)
    assert s.engine.mailbox.get("jam") == 0.0
