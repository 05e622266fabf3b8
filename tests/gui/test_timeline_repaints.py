"""What the timeline costs: stopped, an unchanged timeline is not redrawn; playing, once per tick.

Counted as paint events on the plot's viewport (structural, no timings): every repaint of the plot is a
full-width software paint, so a redundant one is the GUI's largest avoidable cost."""

from __future__ import annotations

from PySide6 import QtCore

from tests.gui.conftest import wait_status


class _Count(QtCore.QObject):
    def __init__(self, watched, kind: QtCore.QEvent.Type) -> None:
        super().__init__()
        self.n = 0
        self._kind = kind
        watched.installEventFilter(self)

    def eventFilter(self, obj, event) -> bool:  # noqa: N802 (Qt override)
        if event.type() == self._kind:
            self.n += 1
        return False


def test_a_stopped_timeline_does_not_repaint(qtbot, open_window) -> None:
    w = open_window()
    s = w.session
    s.transport.play()
    wait_status(qtbot, w, lambda st: st.playing and st.played_s > 1.0)
    s.transport.stop()
    wait_status(qtbot, w, lambda st: not st.playing)
    qtbot.wait(300)  # the last changes land
    paints = _Count(w.timeline.plot.viewport(), QtCore.QEvent.Type.Paint)
    ticks = []
    w.timer.timeout.connect(lambda: ticks.append(1))
    qtbot.wait(1500)
    assert len(ticks) >= 8
    assert paints.n == 0, f"{paints.n} repaints of an unchanged timeline in {len(ticks)} ticks"
    assert s.timeline.frame(16.0, 500) is s.timeline.frame(16.0, 500)  # same question, same answer


def test_the_window_ticks_slower_while_the_studio_rests(qtbot, open_window) -> None:
    from lmd_studio.gui.main_window import IDLE_TICK_MS, TICK_MS

    w = open_window()
    s = w.session
    wait_status(qtbot, w, lambda st: not st.model_loading and not st.jobs and st.hold_db <= -59.0)
    qtbot.waitUntil(lambda: w.timer.interval() == IDLE_TICK_MS, timeout=3000)
    s.transport.play()
    qtbot.waitUntil(lambda: w.timer.interval() == TICK_MS, timeout=3000)  # playing: 30 frames a second
    ticks = []
    w.timer.timeout.connect(lambda: ticks.append(1))
    qtbot.wait(500)
    assert len(ticks) >= 10
    s.transport.stop()  # stopped: fast until the level bars settle, then resting again
    qtbot.waitUntil(lambda: w.timer.interval() == IDLE_TICK_MS, timeout=10_000)


def test_a_playing_timeline_paints_once_per_tick(qtbot, open_window) -> None:
    w = open_window()
    w.timeline.zoom(0.3)  # a short span: it scrolls from the first seconds
    w.session.transport.play()
    wait_status(qtbot, w, lambda st: st.playing and st.played_s > 4.0, timeout_ms=10_000)
    paints = _Count(w.timeline.plot.viewport(), QtCore.QEvent.Type.Paint)
    ticks = []
    w.timer.timeout.connect(lambda: ticks.append(1))
    qtbot.wait(1000)
    assert len(ticks) >= 10
    assert 0.5 * len(ticks) <= paints.n <= 1.2 * len(ticks) + 1, (paints.n, len(ticks))
