"""The timeline scrolls without pyqtgraph's range machinery: a playing frame leaves the view's range alone
(no setRange, no range signal to every item) and moves one layer, yet the picture scrolls, the time axis's
labels follow it, and a click still arrives in stream seconds. A zoom is what changes the range."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6 import QtCore, QtGui

from lmd_studio.app.timeline_model import Marker, WaveSlice
from lmd_studio.app.values import TimelineFrame
from lmd_studio.gui.theme import apply_theme
from lmd_studio.gui.timeline import TimelineWidget

RATE = 1000
SPAN_S = 16.0
MARKER_S = 12.0  # past, left of the shaded context, so nothing but the background is around it


def _frame(play_s: float) -> TimelineFrame:
    empty = np.zeros(0, np.float32)
    return TimelineFrame(sample_rate_hz=RATE, play_s=play_s, ahead_s=play_s + 2.0, context_start_s=play_s - 3.0,
                         wave=WaveSlice(0, 100, empty, empty), spec=None, boundaries_s=(10.0, 14.0),
                         markers=(Marker(int(MARKER_S * RATE), "here"),), oldest_s=0.0)


@pytest.fixture
def timeline(qtbot, qapp):
    tl = TimelineWidget(apply_theme(qapp, "dark"), span_s=SPAN_S)
    qtbot.addWidget(tl)
    tl.resize(1000, 260)
    tl.show()
    qtbot.waitExposed(tl)
    tl.refresh(_frame(20.0))  # the first frame sets the range
    return tl


def _image(tl: TimelineWidget) -> np.ndarray:
    """The plot as RGB [rows, columns, 3]."""
    q = tl.plot.grab().toImage().convertToFormat(QtGui.QImage.Format.Format_RGB888)
    rows = np.frombuffer(q.constBits(), np.uint8).reshape(q.height(), q.bytesPerLine())
    return rows[:, :q.width() * 3].reshape(q.height(), q.width(), 3).astype(int)


def _marker_column(tl: TimelineWidget, image: np.ndarray) -> float:
    """The mean column of the marker line's colour in the row halfway down the view."""
    view = tl.view.mapRectToScene(tl.view.boundingRect())
    row = image[int(tl.plot.mapFromScene(view.center()).y())]  # [columns, RGB]
    c = QtGui.QColor(tl.c.marker)
    near = np.abs(row - np.array([c.red(), c.green(), c.blue()])).sum(axis=1) < 120
    assert near.any(), "the marker line is not drawn"
    return float(np.flatnonzero(near).mean())


def test_a_playing_frame_scrolls_without_changing_the_view_range(qtbot, timeline) -> None:
    tl = timeline
    px_per_s = tl.view.width() / SPAN_S
    ranges, calls = [], []
    tl.view.sigXRangeChanged.connect(lambda *a: ranges.append(a))
    set_range = tl.view.setRange
    tl.view.setRange = lambda *a, **k: (calls.append(1), set_range(*a, **k))  # type: ignore[method-assign]
    before = _image(tl)
    x_before = _marker_column(tl, before)
    for k in range(1, 11):  # a second of playing at 10 frames a second
        tl.refresh(_frame(20.0 + k / 10))
    assert calls == [] and ranges == [], "a playing frame went through pyqtgraph's range machinery"
    after = _image(tl)
    # the picture scrolled: the marker line (placed in stream seconds, never touched) moved left by 1 s
    assert _marker_column(tl, after) == pytest.approx(x_before - px_per_s, abs=1.5)
    # the axis's labels followed it: the axis strip shifted by 1 s's pixels matches the one drawn before
    axis_item = tl.plot.getAxis("bottom")
    axis = axis_item.mapRectToScene(axis_item.boundingRect())
    top, bottom = int(tl.plot.mapFromScene(axis.topLeft()).y()) + 2, int(tl.plot.mapFromScene(axis.bottomLeft()).y())
    shift = round(px_per_s)
    a, b = before[top:bottom, 100 + shift:800 + shift], after[top:bottom, 100:800]
    assert (a != before[top, 100]).any(), "no labels drawn on the axis"
    assert (np.abs(a - b).sum(axis=2) > 60).mean() < 0.03, "the axis labels did not scroll with the picture"
    # a zoom changes the range (and so tells pyqtgraph's items): once
    tl.zoom(0.5)
    assert len(calls) == 1 and tl.view.viewRange()[0] == pytest.approx([0.0, SPAN_S / 2])


def test_a_click_on_the_scrolled_timeline_is_in_stream_seconds(qtbot, timeline) -> None:
    tl = timeline
    tl.refresh(_frame(31.0))  # scrolled: the view's left edge is stream second 31 - 12 = 19
    clicks: list[float] = []
    tl.view.sig_click.connect(clicks.append)
    at_s = 25.0
    view = tl.view.mapRectToScene(tl.view.boundingRect())
    scene = QtCore.QPointF(view.left() + (at_s - 19.0) * view.width() / SPAN_S, view.center().y())
    qtbot.mouseClick(tl.plot.viewport(), QtCore.Qt.MouseButton.LeftButton, pos=tl.plot.mapFromScene(scene))
    assert clicks and clicks[0] == pytest.approx(at_s, abs=SPAN_S / tl.view.width() * 1.5)
    assert tl.selection is not None and tl.selection[0] <= at_s <= tl.selection[1] <= 31.0
