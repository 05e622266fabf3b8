"""The studio window driven like a player would: keys, clicks, sliders; checked through the Session."""

from __future__ import annotations

import json

import numpy as np
import soundfile as sf
from PySide6 import QtCore, QtWidgets

from lmd_studio.app.engine_parts import DEFAULT_PROMPT
from lmd_studio.app.session_api import StudioApi
from tests.gui.conftest import wait_status


def test_first_run_state(open_window) -> None:
    w = open_window()
    s = w.session
    assert isinstance(s, StudioApi)
    assert s.first_run
    assert w.prompts.slots[0].text.text() == DEFAULT_PROMPT
    assert not s.transport.playing and w.timeline.hint.textItem.toPlainText() == "Press Space to play"
    assert w.transport.play.hasFocus() or not w.isActiveWindow()
    assert "Test tones" in w.windowTitle()
    assert set(w.performance.widgets) >= {"temperature", "loudness", "brightness", "density", "seed", "pitch"}
    assert not w.performance.widgets["guidance"].knob.isEnabled()  # the test tones ignore guidance
    assert not w.header.adapter.isEnabled()  # no adapter support: disabled with a tooltip
    assert "no adapter support" in w.header.adapter.toolTip()


def test_space_plays_and_stops(qtbot, open_window) -> None:
    w = open_window()
    qtbot.keyClick(w, QtCore.Qt.Key.Key_Space)
    wait_status(qtbot, w, lambda st: st.playing and st.primed and st.played_s > 0.3)
    assert w.transport.play.isChecked() and "Stop" in w.transport.play.text()
    frame = w.session.timeline.frame(16.0, 400)
    assert frame.play_s > 0.3 and frame.ahead_s > frame.play_s and len(frame.wave.maxs) > 0
    assert float(np.max(frame.wave.maxs)) > 0.01  # real audio on the timeline
    image = w.timeline.wave_image.image
    assert image is not None and image.shape[2] == 4 and image[..., 3].any()  # drawn
    qtbot.keyClick(w, QtCore.Qt.Key.Key_Space)
    wait_status(qtbot, w, lambda st: not st.playing)
    played = w.last_status.played_s
    qtbot.wait(300)
    assert w.session.tick().played_s == played  # stopped means stopped


def test_prompt_weight_and_text_reach_the_mailbox(qtbot, open_window) -> None:
    w = open_window()
    s = w.session
    w.prompts.morph.setValue(0.0)  # land at once, so the test does not depend on the morph curve
    w.prompts.slots[0].weight.setValue(40)
    qtbot.waitUntil(lambda: abs(s.engine.mailbox.prompts[0].weight - 0.4) < 1e-9, timeout=2000)
    field = w.prompts.slots[1].text
    field.setFocus()
    qtbot.keyClicks(field, "rainy rhodes")
    qtbot.keyClick(field, QtCore.Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: [p.text for p in s.engine.mailbox.prompts] == [DEFAULT_PROMPT, "rainy rhodes"], timeout=2000)
    assert "rainy rhodes" in s.prompts.suggestions()  # into the prompt history
    w.prompts.slots[1].enabled_box.setChecked(False)
    qtbot.waitUntil(lambda: [p.text for p in s.engine.mailbox.prompts] == [DEFAULT_PROMPT], timeout=2000)


def test_prompt_morph_is_gradual(qtbot, open_window) -> None:
    w = open_window()
    s = w.session
    w.prompts.morph.setValue(1.5)
    s.prompts.set_text(1, "deep sub bass")
    seen = []
    qtbot.waitUntil(lambda: seen.append(tuple(p.weight for p in s.engine.mailbox.prompts)) or
                    (len(seen[-1]) == 2 and seen[-1][1] > 0.999), timeout=5000)
    middles = [ws[1] for ws in seen if len(ws) == 2 and 0.05 < ws[1] < 0.95]
    assert middles, f"no intermediate weights published during the morph: {seen}"


def test_knob_by_keyboard_reaches_the_engine_with_a_countdown(qtbot, open_window) -> None:
    w = open_window()
    s = w.session
    s.transport.play()
    wait_status(qtbot, w, lambda st: st.playing and st.primed)
    knob = w.performance.widgets["temperature"].knob
    knob.setFocus()
    before = s.engine.mailbox.get("temperature")
    qtbot.keyClick(knob, QtCore.Qt.Key.Key_PageUp)
    qtbot.waitUntil(lambda: s.engine.mailbox.get("temperature") > before + 0.05, timeout=2000)
    label = w.performance.widgets["temperature"].countdown
    qtbot.waitUntil(lambda: label.text().startswith(("in ", "✓")), timeout=2000)
    assert "temperature" in s.tick().countdowns or label.text()
    # auto ("let the model decide") reaches the mailbox too
    w.performance.widgets["loudness"].auto_box.setChecked(True)
    qtbot.waitUntil(lambda: s.engine.mailbox.is_auto("loudness"), timeout=2000)
    assert not w.performance.widgets["loudness"].knob.isEnabled()


def test_the_key_knob_turns_through_major_then_minor_keys(qtbot, open_window) -> None:
    w = open_window()
    key = w.performance.widgets["pitch"]
    key.auto_box.setChecked(False)
    key.knob.setFocus()
    key.knob.setValue(key.knob.minimum())
    qtbot.waitUntil(lambda: key.value_label.text() == "C", timeout=2000)
    key.knob.setValue(key.knob.maximum())  # the last position: B minor
    qtbot.waitUntil(lambda: key.value_label.text() == "Bm", timeout=2000)
    qtbot.waitUntil(lambda: w.session.engine.mailbox.get("pitch") == 23.0, timeout=2000)
    key.knob.setValue(key.knob.minimum() + 21 * (key.knob.maximum() - key.knob.minimum()) // 23)
    qtbot.waitUntil(lambda: key.value_label.text() == "Am", timeout=2000)


def test_record_a_take_to_wav_with_sidecar(qtbot, open_window) -> None:
    w = open_window()
    s = w.session
    qtbot.keyClick(w, QtCore.Qt.Key.Key_Space)
    wait_status(qtbot, w, lambda st: st.playing and st.primed)
    qtbot.mouseClick(w.transport.record, QtCore.Qt.MouseButton.LeftButton)
    wait_status(qtbot, w, lambda st: st.recording and st.record_elapsed_s > 1.0)
    s.performance.set_value("brightness", 0.9)
    qtbot.wait(500)
    qtbot.keyClick(w, QtCore.Qt.Key.Key_R)  # the shortcut stops it
    qtbot.waitUntil(lambda: s.recording.last_saved is not None, timeout=10000)
    result = s.recording.last_saved
    assert result.ok and result.path.suffix == ".wav"
    info = sf.info(str(result.path))
    assert info.subtype == "PCM_24" and info.samplerate == 48000 and info.channels == 2
    assert info.frames >= int(1.2 * 48000)
    audio, _ = sf.read(str(result.path))
    assert np.abs(audio).max() > 0.01
    side = json.loads(result.sidecar_path.read_text())
    assert side["format"] == "lmd-take" and side["status"] == "complete" and side["kind"] == "take"
    assert side["prompts"][0]["text"] == DEFAULT_PROMPT and side["model"].startswith("Test tones")
    assert any(e.get("name") == "brightness" for e in side["events"])
    assert str(result.path.name) in w.notice_bar.label.text()


def test_capture_the_last_seconds(qtbot, open_window) -> None:
    w = open_window()
    s = w.session
    s.transport.play()
    wait_status(qtbot, w, lambda st: st.retro_available_s > 2.0)
    qtbot.mouseClick(w.transport.capture_buttons[0], QtCore.Qt.MouseButton.LeftButton)  # "30 s"
    qtbot.waitUntil(lambda: s.recording.last_saved is not None, timeout=10000)
    r = s.recording.last_saved
    assert r.ok and "last-30s" in r.path.name
    seconds = sf.info(str(r.path)).frames / 48000
    assert 2.0 <= seconds < 30.0  # all there was: less than 30 s had played
    assert json.loads(r.sidecar_path.read_text())["kind"] == "retro"


def test_save_a_selected_stretch_of_the_timeline(qtbot, open_window) -> None:
    w = open_window()
    s = w.session
    s.transport.play()
    wait_status(qtbot, w, lambda st: st.played_s > 3.0, timeout_ms=8000)
    play_s = s.timeline.frame(16.0, 400).play_s
    w.timeline.set_selection(play_s - 2.5, play_s - 1.0)
    assert w.timeline.save_button.isEnabled()
    qtbot.mouseClick(w.timeline.save_button, QtCore.Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: s.recording.last_saved is not None, timeout=10000)
    r = s.recording.last_saved
    assert r.ok and "selection" in r.path.name
    assert abs(sf.info(str(r.path)).frames / 48000 - 1.5) < 0.05
    assert json.loads(r.sidecar_path.read_text())["kind"] == "selection"


def test_clicking_a_past_block_selects_it(qtbot, open_window) -> None:
    w = open_window()
    w.session.transport.play()
    wait_status(qtbot, w, lambda st: st.played_s > 2.0, timeout_ms=8000)
    frame = w.session.timeline.frame(w.timeline.span_s, 400)
    w.timeline.select_block_at(frame.play_s - 1.2)
    lo, hi = w.timeline.selection
    assert lo < frame.play_s - 1.2 < hi and any(abs(b - lo) < 1e-6 for b in frame.boundaries_s)
    w.timeline.select_block_at(frame.play_s + 0.5)  # the future cannot be selected
    assert w.timeline.selection is None


def test_scenes_by_keyboard(qtbot, open_window) -> None:
    w = open_window()
    s = w.session
    s.prompts.set_morph_s(0.0)
    s.performance.set_value("brightness", 0.2)
    qtbot.keyClick(w, QtCore.Qt.Key.Key_1, QtCore.Qt.KeyboardModifier.ControlModifier)  # save scene 1
    assert s.scenes.slots()[0] is not None
    s.prompts.set_text(0, "something else entirely")
    s.performance.set_value("brightness", 0.9)
    qtbot.keyClick(w, QtCore.Qt.Key.Key_1)  # recall
    qtbot.waitUntil(lambda: s.prompts.entries()[0].text == DEFAULT_PROMPT
                    and abs(s.engine.mailbox.get("brightness") - 0.2) < 1e-6, timeout=3000)
    qtbot.waitUntil(lambda: abs(w.performance.widgets["brightness"].value() - 0.2) < 0.01, timeout=2000)
    assert w.scenes.buttons[0].toolTip().startswith("<b>1:")


def test_typing_in_a_prompt_does_not_trigger_shortcuts(qtbot, open_window) -> None:
    w = open_window()
    s = w.session
    field = w.prompts.slots[2].text
    field.setFocus()
    qtbot.keyClicks(field, "r c 1 v")  # record, capture, scene 1, re-roll if they leaked
    qtbot.keyClick(field, QtCore.Qt.Key.Key_Escape)  # reverts the text, no panic
    assert not s.transport.playing and not s.recording.recording and field.text() == ""
    assert s.engine.mailbox.get("seed") == 0


def test_panic_fades_out_and_stops_keeping_the_volume(qtbot, open_window) -> None:
    w = open_window()
    s = w.session
    s.transport.set_volume_db(-9.0)
    s.transport.play()
    wait_status(qtbot, w, lambda st: st.playing and st.level_db > -40)
    qtbot.keyClick(w, QtCore.Qt.Key.Key_Escape)
    assert s.engine.mailbox.get("master_gain_db") == -60.0  # the fade starts at once
    wait_status(qtbot, w, lambda st: not st.playing)
    qtbot.waitUntil(lambda: s.engine.mailbox.get("master_gain_db") == -9.0, timeout=2000)
    assert abs(w.transport.volume.value() / 10 + 9.0) < 0.05


def test_reset_and_reroll(qtbot, open_window) -> None:
    w = open_window()
    s = w.session
    qtbot.keyClick(w, QtCore.Qt.Key.Key_V)
    assert s.engine.mailbox.get("seed") != 0
    qtbot.waitUntil(lambda: w.performance.widgets["seed"].value() == s.engine.mailbox.get("seed"), timeout=2000)
    s.transport.play()
    wait_status(qtbot, w, lambda st: st.played_s > 0.5)
    qtbot.keyClick(w, QtCore.Qt.Key.Key_N, QtCore.Qt.KeyboardModifier.ControlModifier)
    frame = s.timeline.frame(16.0, 400)
    assert any(m.kind == "reset" for m in frame.markers)


def test_every_control_is_reachable_with_tab(qtbot, open_window) -> None:
    w = open_window()
    w.session.transport.play()
    wait_status(qtbot, w, lambda st: st.retro_available_s > 0.2)  # the capture buttons come alive
    w.transport.play.setFocus()
    qtbot.waitUntil(lambda: w.transport.play.hasFocus(), timeout=2000)
    reached = []
    for _ in range(120):
        qtbot.keyClick(QtWidgets.QApplication.focusWidget(), QtCore.Qt.Key.Key_Tab)
        reached.append(QtWidgets.QApplication.focusWidget())
    names = {x.objectName() for x in reached if x is not None}
    expected = {f"knob_{n}" for n, c in w.performance.widgets.items() if c.knob.isEnabled()}
    expected |= {"prompt_text_0", "prompt_weight_0", "prompt_text_3", "volume", "morph_time", "model_choice",
                 "capture_30", "scene_0"}
    assert expected <= names, f"not reachable by Tab: {sorted(expected - names)}"
    assert w.performance.widgets["temperature"].knob in reached


def test_a_drag_while_the_timeline_scrolls_keeps_its_start_on_the_music(qtbot, open_window) -> None:
    w = open_window()
    tl = w.timeline
    tl.zoom(0.3)  # a short span: the view scrolls after a few seconds
    w.session.transport.play()
    wait_status(qtbot, w, lambda st: st.played_s > tl.span_s)  # scrolling now
    vp = tl.plot.viewport()
    y = vp.height() // 2

    def seconds_at(x: int) -> float:  # the stream second under pixel x now (the view scrolls by a layer)
        return tl.scroller.mapFromScene(tl.plot.mapToScene(QtCore.QPoint(x, y))).x()

    x0 = vp.width() // 5
    pressed_on = seconds_at(x0)
    qtbot.mousePress(vp, QtCore.Qt.MouseButton.LeftButton, pos=QtCore.QPoint(x0, y))
    for x in range(x0, x0 + 200, 10):  # a slow drag: about a second, the music moves on meanwhile
        qtbot.mouseMove(vp, QtCore.QPoint(x, y))
        qtbot.wait(50)
    qtbot.mouseRelease(vp, QtCore.Qt.MouseButton.LeftButton, pos=QtCore.QPoint(x0 + 200, y))
    assert tl.selection is not None
    assert abs(tl.selection[0] - pressed_on) < 0.15, (tl.selection, pressed_on)  # not where the pixel scrolled to


def test_enter_in_a_prompt_box_hands_the_keys_back_to_the_transport(qtbot, open_window) -> None:
    w = open_window()
    field = w.prompts.slots[1].text
    field.setFocus()
    qtbot.waitUntil(field.hasFocus, timeout=2000)
    qtbot.keyClicks(field, "rainy rhodes")
    qtbot.keyClick(field, QtCore.Qt.Key.Key_Return)
    assert not field.hasFocus()
    qtbot.keyClick(QtWidgets.QApplication.focusWidget() or w, QtCore.Qt.Key.Key_Space)  # where a key goes
    wait_status(qtbot, w, lambda st: st.playing)
    assert field.text() == "rainy rhodes"  # the space was not typed into the prompt
    other = w.prompts.slots[2].text
    w.activateWindow()
    qtbot.waitUntil(w.isActiveWindow, timeout=2000)
    other.setFocus()
    qtbot.waitUntil(other.hasFocus, timeout=2000)
    qtbot.keyClicks(other, "rain")  # "rainy rhodes" is in the history now: suggested
    popup = other.completer().popup()
    qtbot.waitUntil(popup.isVisible, timeout=2000)
    qtbot.keyClick(popup, QtCore.Qt.Key.Key_Down)
    qtbot.keyClick(popup, QtCore.Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: not other.hasFocus(), timeout=2000)
    assert other.text() == "rainy rhodes"


def test_the_steps_knob_says_when_safe_mode_runs_fewer(qtbot, open_window) -> None:
    import dataclasses

    w = open_window()
    w.timer.stop()  # the status is set by hand here
    steps = w.performance.widgets["steps"]
    assert steps.value_label.text() == "4"
    w.performance.update_status(dataclasses.replace(w.last_status, steps_override=1, safe_mode=True))
    assert steps.value_label.text() == "4 → 1 (safe mode)"
    w.performance.update_status(dataclasses.replace(w.last_status, steps_override=0))
    assert steps.value_label.text() == "4"
