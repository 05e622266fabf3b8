"""The beat grid in the window: the Tempo control, bar:beat in the transport, bar and beat lines on the
timeline, the countdown in beats, Shift for "now", and quantise in Settings."""

from __future__ import annotations

import re

from PySide6 import QtCore

from lmd_studio.core.params import TEMPO
from lmd_studio.gui.settings_dialog import SettingsDialog
from tests.gui.conftest import wait_status


def _lines(path_item) -> int:  # noqa: ANN001 — a QGraphicsPathItem
    return path_item.path().elementCount() // 2  # a moveTo and a lineTo per line


def test_without_a_tempo_there_is_no_grid(qtbot, open_window) -> None:
    w = open_window()
    w.session.transport.play()
    wait_status(qtbot, w, lambda st: st.playing and st.played_s > 0.5)
    assert w.transport.bar_beat.text() == "–:–" and w.header.bpm.text() == "— BPM"
    assert _lines(w.timeline.bar_lines) == 0 and _lines(w.timeline.beat_lines) == 0
    assert w.performance.widgets[TEMPO.name].auto_box.isChecked()
    assert not w.performance.widgets[TEMPO.name].spin.isEnabled()


def test_a_tempo_shows_bar_beat_and_bar_lines(qtbot, open_window) -> None:
    w = open_window()
    s = w.session
    tempo = w.performance.widgets[TEMPO.name]
    tempo.auto_box.setChecked(False)
    assert tempo.spin is not None and tempo.spin.isEnabled()
    tempo.spin.setValue(120.0)
    qtbot.waitUntil(lambda: s.engine.mailbox.bpm == 120.0, timeout=2000)
    qtbot.keyClick(w, QtCore.Qt.Key.Key_Space)
    wait_status(qtbot, w, lambda st: st.bar >= 2, timeout_ms=8000)
    st = w.last_status
    assert re.fullmatch(r"\d+:[1-4]", w.transport.bar_beat.text())
    assert w.transport.bar_beat.text() == f"{st.bar}:{st.beat}"
    assert w.header.bpm.text() == "120.0 BPM · 4/4"
    qtbot.waitUntil(lambda: _lines(w.timeline.bar_lines) >= 2, timeout=2000)
    frame = s.timeline.frame(w.timeline.span_s, w.timeline.columns())
    assert _lines(w.timeline.beat_lines) >= 3 * _lines(w.timeline.bar_lines) - 3  # 3 beats between bar lines
    assert frame.bar_lines_s and max(frame.bar_lines_s) > frame.play_s  # ahead of the playhead too
    numbers = {label.text() for label in w.timeline.bar_labels if label.isVisible()}
    assert {"1", "2"} <= numbers  # bars numbered on the timeline


def test_a_quantised_knob_counts_beats_and_shift_lands_it_at_once(qtbot, open_window) -> None:
    w = open_window()
    s = w.session
    s.transport.set_quantise("bar")
    s.performance.set_auto(TEMPO.name, False)
    s.performance.set_value(TEMPO.name, 40.0)  # a bar is 6 s: a quantised change waits visibly
    s.transport.play()
    wait_status(qtbot, w, lambda st: st.bar >= 1 and st.playing, timeout_ms=8000)
    assert w.performance.quantise.currentData() == "bar"
    wait_status(qtbot, w, lambda st: st.beat == 1, timeout_ms=8000)  # a bar just began: the next is ≥ 4.5 s off
    knob = w.performance.widgets["temperature"].knob
    knob.setFocus()
    qtbot.keyClick(knob, QtCore.Qt.Key.Key_PageUp)
    label = w.performance.widgets["temperature"].countdown
    qtbot.waitUntil(lambda: re.fullmatch(r"in \d+ beats?( \(next bar\))?", label.text()) is not None, timeout=2000)
    waiting = s.engine.runtime.waiting_change()
    assert waiting is not None and waiting.remaining_s > 3.0 and waiting.per_bar
    brightness = w.performance.widgets["brightness"].knob
    before = s.engine.mailbox.get("brightness")
    brightness.setFocus()
    qtbot.keyClick(brightness, QtCore.Qt.Key.Key_PageUp, QtCore.Qt.KeyboardModifier.ShiftModifier)
    qtbot.waitUntil(lambda: s.engine.runtime.controls_in_use.values["brightness"] > before, timeout=1500)
    # the waiting temperature change went with it: Shift lands everything made so far
    assert s.engine.runtime.controls_in_use.values["temperature"] == s.engine.mailbox.get("temperature")


def test_quantise_in_the_settings_dialog(qtbot, open_window, home) -> None:
    w = open_window()
    s = w.session
    dialog = SettingsDialog(s.settings, [], [], home.recordings_dir, parent=w)
    try:
        assert dialog.quantise.currentData() == "bar"
        dialog.quantise.setCurrentIndex(dialog.quantise.findData("beat"))
        new = dialog.result_settings()
    finally:
        dialog.deleteLater()
    assert new.quantise == "beat"
    s.apply_settings(new)
    wait_status(qtbot, w, lambda st: st.quantise == "beat")
    qtbot.waitUntil(lambda: s.engine.runtime.metrics.quantise == "beat", timeout=2000)
    assert w.performance.quantise.currentData() == "beat"


def test_a_progression_names_the_coming_bars_chords_on_the_timeline(qtbot, open_window) -> None:
    """A minor, I–V–vi–IV at 120 bpm: bar n is labelled with its chord from the bar playing now on (Am Em F
    Dm, repeating); past bars keep their plain numbers; with the key on Auto the chords go."""
    w = open_window()
    s = w.session
    s.performance.set_auto(TEMPO.name, False)
    s.performance.set_value(TEMPO.name, 120.0)
    s.performance.set_auto("pitch", False)
    s.performance.set_value("pitch", 21.0)  # A minor
    s.performance.set_value("progression", 1.0)
    s.transport.play()
    wait_status(qtbot, w, lambda st: st.bar >= 3 and st.playing, timeout_ms=12000)
    expected = {1: "Am", 2: "Em", 3: "F", 4: "Dm", 5: "Am", 6: "Em", 7: "F", 8: "Dm"}
    frame = s.timeline.frame(w.timeline.span_s, w.timeline.columns())
    assert len(frame.bar_chords) == len(frame.bar_numbers) > 0
    now = w.last_status.bar
    for n, chord in zip(frame.bar_numbers, frame.bar_chords):
        if n >= now + 1:  # coming bars (and the current one, unless it began between the status and the frame)
            assert chord == expected[(n - 1) % 8 + 1], (n, chord)
        elif n < now - 1:
            assert chord == "", (n, chord)
    qtbot.waitUntil(lambda: any(re.fullmatch(r"\d+ (Am|Em|F|Dm)", label.text()) for label in w.timeline.bar_labels
                                if label.isVisible()), timeout=2000)
    s.performance.set_auto("pitch", True)
    assert s.timeline.frame(w.timeline.span_s, w.timeline.columns()).bar_chords == ()


def test_the_progression_knob_says_its_chords_or_why_it_is_silent(qtbot, open_window) -> None:
    w = open_window()
    s = w.session
    widget = w.performance.widgets["progression"]
    s.performance.set_value("progression", 1.0)  # I–V–vi–IV; the key starts on C, the tempo on Auto
    qtbot.waitUntil(lambda: widget.value_label.text() == "I–V–vi–IV (set a tempo)", timeout=2000)
    s.performance.set_auto(TEMPO.name, False)
    qtbot.waitUntil(lambda: widget.value_label.text() == "I–V–vi–IV", timeout=2000)
    assert "In C major: C G Am F" in widget.toolTip()
    s.performance.set_value("pitch", 21.0)  # A minor
    qtbot.waitUntil(lambda: "In A minor: Am Em F Dm (i–v–VI–iv)" in widget.toolTip(), timeout=2000)
    s.performance.set_auto("pitch", True)
    qtbot.waitUntil(lambda: widget.value_label.text() == "I–V–vi–IV (set a key)", timeout=2000)
    s.performance.set_value("progression", 0.0)
    qtbot.waitUntil(lambda: widget.value_label.text() == "off", timeout=2000)
