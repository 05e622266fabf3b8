"""The Rec button keeps its promises: a take that cannot start leaves it unchecked, with the reason shown."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from PySide6 import QtCore

from tests.gui.conftest import wait_status


def test_rec_into_an_unusable_folder_shows_why_and_stays_off(qtbot, open_window, make_session, tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder.txt"
    blocker.write_text("a file where the recordings folder should be")
    s = make_session()
    s.apply_settings(dataclasses.replace(s.settings, recordings_dir=str(blocker / "takes")))
    w = open_window(s)
    qtbot.keyClick(w, QtCore.Qt.Key.Key_Space)
    wait_status(qtbot, w, lambda st: st.playing and st.primed)
    qtbot.mouseClick(w.transport.record, QtCore.Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: w.notice_bar.isVisible() and "Cannot record" in w.notice_bar.label.text(), timeout=3000)
    text = w.notice_bar.label.text()
    assert str(blocker / "takes") in text and "Settings" in text
    wait_status(qtbot, w, lambda st: not st.recording)
    qtbot.wait(100)  # a few timer ticks: the button must not be left looking like a take runs
    assert not w.transport.record.isChecked() and w.transport.rec_time.text() == ""
    assert not s.recording.recorder.is_recording
