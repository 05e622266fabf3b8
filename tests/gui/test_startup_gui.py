"""The window while its model loads: progress in the transport, Space answered with "starting when the
model is ready", the music starting by itself once it is; and an adapter that could not be restored
shown unselected."""

from __future__ import annotations

from pathlib import Path

from PySide6 import QtCore

from lmd_studio.app.startup import LOADING_TEXT, READY_TEXT, LoadingGenerator, ModelStartup
from lmd_studio.settings.paths import StudioPaths
from tests.app.test_startup import SlowModel, _session
from tests.gui.conftest import wait_status


def test_the_window_shows_the_model_loading_and_plays_when_it_is_ready(qtbot, open_window, tmp_path: Path) -> None:
    session = _session(tmp_path, LoadingGenerator(), ModelStartup(lambda spec, threads: SlowModel(load_s=1.5),
                                                                  "mine", threads=1, try_default=False))
    w = open_window(session)
    t = w.transport
    wait_status(qtbot, w, lambda st: st.startup == LOADING_TEXT)
    assert t.startup.isVisible() and t.startup.text() == LOADING_TEXT and t.startup_bar.isVisible()
    # nothing to keep yet: the capture buttons make room for the start-up line (the row fits 1,440 px)
    assert not t.capture_label.isVisible() and not any(b.isVisible() for b in t.capture_buttons)
    assert not t.loop.isVisible() and t.minimumSizeHint().width() <= 1440
    assert w.timeline.hint.textItem.toPlainText().startswith("Loading the model")
    assert "audio device opens when the model is ready" in w.meters.device.text()
    qtbot.keyClick(w, QtCore.Qt.Key.Key_Space)
    wait_status(qtbot, w, lambda st: st.play_pending)
    assert t.play.text() == "Starting…" and t.play.isChecked() and t.startup.text() == LOADING_TEXT
    assert w.timeline.hint.textItem.toPlainText() == "Starting as soon as the model is ready…"
    wait_status(qtbot, w, lambda st: st.playing and st.played_s > 0.2, timeout_ms=15000)
    wait_status(qtbot, w, lambda st: st.startup == READY_TEXT)
    assert t.startup.text() == READY_TEXT and not t.startup_bar.isVisible() and "Stop" in t.play.text()
    assert not w.timeline.hint.isVisible()
    wait_status(qtbot, w, lambda st: not st.startup, timeout_ms=15000)  # "Ready" goes: the buttons come back
    assert t.capture_label.isVisible() and all(b.isVisible() for b in t.capture_buttons) and t.loop.isVisible()


def test_an_adapter_that_did_not_load_is_shown_unselected(qtbot, open_window, tmp_path: Path) -> None:
    adapters = StudioPaths.under(tmp_path / "home").adapters_dir
    adapters.mkdir(parents=True)
    (adapters / "broken.safetensors").write_bytes(b"not an adapter")  # listed, but SlowModel refuses it
    session = _session(tmp_path, SlowModel(), adapter=str(adapters / "broken.safetensors"))
    w = open_window(session)
    wait_status(qtbot, w, lambda st: st.adapter == "")
    qtbot.waitUntil(lambda: w.header.adapter.currentText() == "none", timeout=2000)
    qtbot.waitUntil(lambda: "Adapter not loaded" in w.notice_bar.label.text(), timeout=2000)
    assert [w.header.adapter.itemText(i) for i in range(w.header.adapter.count())] == ["none", "broken"]
