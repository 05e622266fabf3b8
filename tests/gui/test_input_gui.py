"""The audio input in the window: the Settings section, the input meter with monitoring, and a take that
records the input and the generated part beside the mix."""

from __future__ import annotations

import dataclasses
import json

import soundfile as sf
from PySide6 import QtCore

from lmd_studio.engine.take_files import track_path
from lmd_studio.gui.settings_dialog import SettingsDialog
from lmd_studio.settings.schema import AudioSettings
from lmd_studio.settings.store import SettingsStore
from tests.gui.conftest import wait_status


def test_the_input_section_edits_device_channels_monitoring_and_correction(open_window, home) -> None:
    w = open_window()
    s = w.session
    start = dataclasses.replace(s.settings, audio=AudioSettings(input_enabled=True, input_channels=(3, 4),
                                                                input_latency_correction_frames=-512))
    dialog = SettingsDialog(start, [], [], home.recordings_dir, input_devices=["USB Interface (ALSA)"], parent=w)
    try:
        assert dialog.input_channels.currentText() == "3 + 4 (stereo)"
        assert dialog.input_correction.value() == -512 and dialog.input_device.isEnabled()
        dialog.input_device.setCurrentIndex(dialog.input_device.findData("USB Interface (ALSA)"))
        dialog.input_channels.setCurrentIndex(dialog.input_channels.findText("2 (mono)"))
        dialog.input_monitoring.setChecked(True)
        new = dialog.result_settings().audio
        dialog.input_enabled.setChecked(False)
        assert not dialog.input_device.isEnabled()
        off = dialog.result_settings().audio
    finally:
        dialog.deleteLater()
    assert new.input_enabled and new.input_device == "USB Interface (ALSA)" and new.input_channels == (2,)
    assert new.input_monitoring and new.input_latency_correction_frames == -512
    assert not off.input_enabled


def test_input_off_shows_off_and_hides_its_controls(qtbot, open_window) -> None:
    w = open_window()
    wait_status(qtbot, w, lambda st: st.input is None)
    assert w.meters.input.caption == "off" and not w.meters.monitor.isVisible()


def test_input_on_monitoring_is_live_and_remembered_and_a_take_has_three_files(qtbot, open_window, home) -> None:
    w = open_window()
    s = w.session
    s.apply_settings(dataclasses.replace(s.settings, audio=dataclasses.replace(s.settings.audio, input_enabled=True)))
    assert s.input.enabled
    # the Null backend has no input device: the meter says so instead of showing a level
    wait_status(qtbot, w, lambda st: st.input is not None and not st.input.running)
    assert w.meters.input.caption == "no input" and w.meters.input_message.text()
    runtime = s.engine.runtime
    qtbot.mouseClick(w.meters.monitor, QtCore.Qt.MouseButton.LeftButton)
    assert s.input.monitoring and s.engine.runtime is runtime  # live: no engine rebuild
    wait_status(qtbot, w, lambda st: st.input is not None and st.input.monitoring)
    assert SettingsStore(home.settings_file).load().settings.audio.input_monitoring is False  # saved on exit
    s.transport.play()
    wait_status(qtbot, w, lambda st: st.playing and st.primed)
    s.recording.toggle_take()
    wait_status(qtbot, w, lambda st: st.recording and st.record_elapsed_s > 0.8)
    s.recording.toggle_take()
    qtbot.waitUntil(lambda: s.recording.last_saved is not None, timeout=10000)
    take = s.recording.last_saved.path
    lengths = {sf.info(str(f)).frames for f in (take, track_path(take, "input"), track_path(take, "generated"))}
    assert len(lengths) == 1 and lengths.pop() > 0.8 * 48000
    side = json.loads(take.with_name(take.name + ".json").read_text())
    assert side["tracks"]["input"] == track_path(take, "input").name
    assert side["alignment"]["sample_aligned"] and side["alignment"]["input_channels"] == [1]
    w.close()
    assert SettingsStore(home.settings_file).load().settings.audio.input_monitoring is True


def test_switching_the_input_during_a_take_ends_the_take_cleanly(qtbot, open_window, monkeypatch) -> None:
    w = open_window()
    s = w.session
    told: list[str] = []
    notify = s.notify
    monkeypatch.setattr(s, "notify", lambda level, text, path=None: (told.append(text), notify(level, text, path)))
    s.transport.play()
    wait_status(qtbot, w, lambda st: st.playing and st.primed)
    s.recording.toggle_take()
    wait_status(qtbot, w, lambda st: st.recording and st.record_elapsed_s > 0.5)
    s.apply_settings(dataclasses.replace(s.settings, audio=dataclasses.replace(s.settings.audio, input_enabled=True)))
    qtbot.waitUntil(lambda: s.recording.last_saved is not None, timeout=10000)
    assert s.recording.last_saved.ok and not s.recording.recording
    assert not track_path(s.recording.last_saved.path, "input").exists()  # it was a one-file take
    assert any("take ends here" in text for text in told)
