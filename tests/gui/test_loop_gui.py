"""Loop capture in the window: the L key keeps the last 4 bars, the saved loop appears as a chip to drag
out, and what a drag carries is the file's URL."""

from __future__ import annotations

from pathlib import Path

import soundfile as sf
from PySide6 import QtCore

from lmd_studio.core.params import TEMPO
from lmd_studio.gui.transport import loop_mime_data
from tests.gui.conftest import wait_status


def test_l_keeps_the_last_four_bars_and_offers_the_loop_to_drag(qtbot, open_window) -> None:
    w = open_window()
    s = w.session
    s.performance.set_auto(TEMPO.name, False)
    s.performance.set_value(TEMPO.name, 200.0)  # 1.2 s a bar: four bars in under 6 s
    qtbot.keyClick(w, QtCore.Qt.Key.Key_Space)
    wait_status(qtbot, w, lambda st: st.bar >= 6, timeout_ms=20000)
    assert not w.transport.loop_chip.isVisible()
    qtbot.keyClick(w, QtCore.Qt.Key.Key_L)
    qtbot.waitUntil(lambda: w.transport.loop_chip.path is not None, timeout=10000)
    path = w.transport.loop_chip.path
    assert path is not None and path.name.startswith("lmd-loop-4bars") and w.transport.loop_chip.isVisible()
    audio, rate = sf.read(path, always_2d=True)
    assert abs(audio.shape[0] - 4 * 1.2 * rate) <= 1
    mime = loop_mime_data(path)
    assert [Path(u.toLocalFile()) for u in mime.urls()] == [path]


def test_the_capture_menu_lists_every_loop_length(qtbot, open_window) -> None:
    w = open_window()
    texts = [a.text() for a in w.actions_by_name.values()]
    for bars in ("bar", "2 bars", "4 bars", "8 bars", "16 bars"):
        assert any(t.startswith("Keep the last") and t.endswith(f"{bars} as a loop") for t in texts), bars
