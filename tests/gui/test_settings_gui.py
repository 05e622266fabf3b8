"""Settings through the dialog and on disk; a broken settings file; the model switch in the background."""

from __future__ import annotations

import json
import time

from lmd_studio.app.bootstrap import build_studio
from lmd_studio.core.fake import FakeBlockGenerator
from lmd_studio.gui.settings_dialog import SettingsDialog
from lmd_studio.settings.store import SettingsStore
from tests.gui.conftest import wait_status


def test_settings_dialog_applies_and_persists(qtbot, open_window, home) -> None:
    w = open_window()
    s = w.session
    dialog = SettingsDialog(s.settings, ["Built-in Audio"], [], home.recordings_dir, parent=w)
    try:
        dialog.buffer.setCurrentIndex(dialog.buffer.findData(512))
        dialog.format.setCurrentIndex(dialog.format.findData("flac"))
        dialog.threads.setValue(3)
        dialog.folder.setText(str(home.recordings_dir / "takes"))
        new = dialog.result_settings()
    finally:
        dialog.deleteLater()
    assert new.audio.buffer_frames == 512 and new.record_format == "flac" and new.torch_threads == 3
    s.apply_settings(new)
    assert s.tick().buffer_frames == 512  # the audio engine was rebuilt with the new buffer size
    on_disk = SettingsStore(home.settings_file).load().settings
    assert on_disk.audio.buffer_frames == 512 and on_disk.record_format == "flac"
    # a take now goes to the new folder as FLAC
    s.play()
    wait_status(qtbot, w, lambda st: st.playing and st.primed)
    s.toggle_record()
    qtbot.wait(400)
    s.toggle_record()
    qtbot.waitUntil(lambda: s.last_saved is not None, timeout=10000)
    assert s.last_saved.path.parent == home.recordings_dir / "takes" and s.last_saved.path.suffix == ".flac"


def test_last_mix_comes_back_next_time(qtbot, open_window, home, make_session) -> None:
    w = open_window()
    s = w.session
    s.set_prompt_text(1, "glass harmonica")
    s.set_value("brightness", 0.85)
    s.set_auto("density", True)
    s.set_volume_db(-12.0)
    w.timeline.zoom(2.0)
    w.close()  # saves
    again = make_session()
    assert [e.text for e in again.prompt_entries()][:2][1] == "glass harmonica"
    assert abs(again.value("brightness") - 0.85) < 1e-9 and again.is_auto("density")
    assert abs(again.volume_db + 12.0) < 1e-9 and again.settings.timeline_span_s == 32.0
    assert not again.first_run


def test_broken_settings_file_is_backed_up_and_the_player_is_told(qtbot, open_window, home) -> None:
    home.config_dir.mkdir(parents=True)
    home.settings_file.write_text('{"schema_version": 2, "audio": {"buffer_frames": "lots"}')
    w = open_window()
    qtbot.waitUntil(lambda: "could not be used" in w.notice_bar.label.text(), timeout=2000)
    backups = list(home.config_dir.glob("settings.json.broken-*"))
    assert len(backups) == 1 and "lots" in backups[0].read_text()
    assert backups[0].name in w.notice_bar.label.text()
    assert json.loads(home.settings_file.read_text())["schema_version"] == 2  # defaults written back
    assert w.session.settings.audio.buffer_frames == 256


def test_model_loads_in_the_background_while_music_plays(qtbot, open_window, home) -> None:
    loads = []

    def slow_make(spec: str, threads: int):
        loads.append((spec, threads))
        time.sleep(0.8)  # a big model takes a while; the GUI must stay live
        return FakeBlockGenerator(sample_rate=32000, block_seconds=0.25)

    session = build_studio(home, model="fake", audio="null", midi=False, retro_s=30.0)
    object.__setattr__(session.deps, "make_generator", slow_make)
    w = open_window(session)
    session.play()
    wait_status(qtbot, w, lambda st: st.playing and st.played_s > 0.5)
    w.load_model("")  # the "Default model" entry
    ticks = []
    qtbot.waitUntil(lambda: ticks.append(w.last_status.played_s) or w.job_progress.isVisible(), timeout=2000)
    assert "load model" in w.job_label.text() and not w.header.model.isEnabled()
    qtbot.waitUntil(lambda: session.model_spec == "", timeout=5000)
    assert loads == [("", session.settings.torch_threads)]
    assert w.last_status.played_s > ticks[0]  # the old model kept playing during the load
    wait_status(qtbot, w, lambda st: st.playing and abs(st.block_s - 0.25) < 1e-6)
    assert "Default model" in w.windowTitle() and w.header.model.isEnabled()
    assert any(m.kind == "model" for m in session.timeline_frame(30, 400).markers)


def test_a_model_that_fails_to_load_leaves_the_old_one_playing(qtbot, open_window, home) -> None:
    def broken(spec: str, threads: int):
        raise FileNotFoundError(f"{spec}: no dit.safetensors here")

    session = build_studio(home, model="fake", audio="null", midi=False, retro_s=30.0)
    object.__setattr__(session.deps, "make_generator", broken)
    w = open_window(session)
    session.play()
    w.load_model("/nowhere/model")
    qtbot.waitUntil(lambda: "Could not load the model" in w.notice_bar.label.text(), timeout=3000)
    assert session.model_spec == "fake" and session.playing
