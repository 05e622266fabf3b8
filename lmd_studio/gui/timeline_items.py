"""The timeline's building blocks: the time axis, the view box that turns drags into selections, the plot
widget (counting its repaints), and plain Qt items for the shapes that move on every frame.

A playing timeline scrolls 30 times a second, so everything drawn on it is paid for 30 times a second.
It scrolls without pyqtgraph's range machinery: the view's x range stays [0, span) and only changes with a
zoom, while everything drawn in stream seconds sits on one `scroll_layer` whose position is moved once a
frame (one Qt call; a range change would emit pyqtgraph's range signals and recompute every item's view
transform in Python). The time axis is told the same offset (TimeAxisItem.set_offset), and the view box
maps the mouse through the layer, so clicks and drags still arrive in stream seconds.
pyqtgraph's region and line items paint in Python and recompute their bounds from the view on every
frame; the shaded spans, the playhead and the dashed block boundaries are therefore plain
QGraphicsRect/Line/PathItems with cosmetic pens, painted by Qt in C++. The axis keeps pyqtgraph's item
but computes its ticks directly (see TimeAxisItem).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

_TICK_STEPS_S = (0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0)
_MIN_LABEL_PX = 100.0
SPAN_Y = (-2.0, 2.0)  # shapes reach past the visible y range (-1.05 … 1.12): only their sides show


def qcolor(hex_color: str, alpha: int = 255) -> QtGui.QColor:
    c = QtGui.QColor(hex_color)
    c.setAlpha(alpha)
    return c


def cosmetic_pen(color: QtGui.QColor | str, width: float = 1.0,
                 style: QtCore.Qt.PenStyle = QtCore.Qt.PenStyle.SolidLine) -> QtGui.QPen:
    """A pen whose width is in screen pixels whatever the view's scale."""
    pen = QtGui.QPen(QtGui.QColor(color), width, style)
    pen.setCosmetic(True)
    return pen


def span_item(brush: QtGui.QColor, pen: QtGui.QPen | None = None) -> QtWidgets.QGraphicsRectItem:
    """A shaded stretch of time (set it with `set_span`); it never takes mouse events."""
    item = QtWidgets.QGraphicsRectItem()
    item.setBrush(brush)
    item.setPen(pen if pen is not None else QtGui.QPen(QtCore.Qt.PenStyle.NoPen))
    item.setAcceptedMouseButtons(QtCore.Qt.MouseButton.NoButton)
    return item


def set_span(item: QtWidgets.QGraphicsRectItem, start_s: float, end_s: float) -> None:
    item.setRect(QtCore.QRectF(start_s, SPAN_Y[0], max(0.0, end_s - start_s), SPAN_Y[1] - SPAN_Y[0]))


def line_item(pen: QtGui.QPen) -> QtWidgets.QGraphicsLineItem:
    """A vertical line at x = its position (move it with setPos(x, 0))."""
    item = QtWidgets.QGraphicsLineItem(0.0, SPAN_Y[0], 0.0, SPAN_Y[1])
    item.setPen(pen)
    item.setAcceptedMouseButtons(QtCore.Qt.MouseButton.NoButton)
    return item


def path_item(pen: QtGui.QPen) -> QtWidgets.QGraphicsPathItem:
    item = QtWidgets.QGraphicsPathItem()
    item.setPen(pen)
    item.setAcceptedMouseButtons(QtCore.Qt.MouseButton.NoButton)
    return item


def vertical_lines(xs: Sequence[float], y0: float, y1: float) -> QtGui.QPainterPath:
    path = QtGui.QPainterPath()
    for x in xs:
        path.moveTo(x, y0)
        path.lineTo(x, y1)
    return path


def scroll_layer() -> QtWidgets.QGraphicsRectItem:
    """An empty item to parent everything drawn in stream seconds: `setPos(-left, 0)` scrolls it all so that
    stream second `left` is at the view's x = 0. A plain Qt item (no Python paint or itemChange, no contents
    of its own); it must be in the view before children that are pyqtgraph items are put on it, so that
    they find their view box (and hear of zooms)."""
    item = QtWidgets.QGraphicsRectItem()
    item.setPen(QtGui.QPen(QtCore.Qt.PenStyle.NoPen))
    item.setFlag(QtWidgets.QGraphicsItem.GraphicsItemFlag.ItemHasNoContents)
    item.setAcceptedMouseButtons(QtCore.Qt.MouseButton.NoButton)
    return item


def bgra(color: str) -> tuple[int, int, int, int]:
    """An opaque colour as the bytes of a premultiplied ARGB32 pixel on a little-endian machine."""
    c = QtGui.QColor(color)
    return c.blue(), c.green(), c.red(), 255


class WaveImageItem(pg.ImageItem):
    """An ImageItem for the waveform raster, given as [rows, columns, 4] BGRA bytes whose alpha is 0 or
    255 (so straight and premultiplied alpha agree): it becomes a premultiplied ARGB32 QImage without a
    copy, the format Qt's raster engine blends fastest (pyqtgraph would hand it RGBA8888, which the
    painter converts on every paint). The image is a WaveRaster's buffer, changed in place between paints
    (call `show_columns` after a change); only its columns [start, end) are painted."""

    def __init__(self) -> None:
        super().__init__(axisOrder="row-major")
        self.shown: tuple[int, int] | None = None  # None: all columns

    def show_columns(self, start: int, end: int) -> None:
        """Paint columns [start, end) of the image (its pixels may have changed: repaint either way)."""
        self.shown = (start, end)
        self.update()

    def render(self) -> None:
        image = self.image
        if image is None or image.size == 0 or image.ndim != 3 or image.shape[2] != 4:
            super().render()
            return
        image = np.ascontiguousarray(image)
        rows, columns = image.shape[:2]
        self.qimage = QtGui.QImage(image.data, columns, rows, columns * 4,
                                   QtGui.QImage.Format.Format_ARGB32_Premultiplied)
        self.qimage.keep_alive = image  # the QImage borrows the array's memory
        self._renderRequired = False
        self._unrenderable = False

    def paint(self, painter, *args) -> None:
        if self.image is None:
            return
        if self._renderRequired:
            self.render()
            if self._unrenderable:
                return
        rows, columns = self.image.shape[:2]
        start, end = self.shown if self.shown is not None else (0, columns)
        if end > start:
            part = QtCore.QRectF(start, 0, end - start, rows)
            painter.drawImage(part, self.qimage, part)


class TimeAxisItem(pg.AxisItem):
    """The time axis (m:ss). A scrolling view redraws it every frame, and pyqtgraph's general
    `generateDrawSpecs` (three tick levels, every label measured each time) was the largest single cost
    of a playing timeline: this one picks one labelled step with one minor tick between labels, lays out
    each label text once and draws without going through a QPicture."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.enableAutoSIPrefix(False)  # m:ss labels; no SI prefix to recompute on every scroll
        self.offset_s = 0.0  # the view's x = 0 is this stream second (the timeline's scroll)
        self._text_px: dict[str, tuple[QtGui.QStaticText, float]] = {}
        self._minor_pen: tuple[QtGui.QPen, QtGui.QPen] | None = None

    def tickStrings(self, values, scale, spacing):  # noqa: N802 (pyqtgraph override)
        out = []
        for v in values:
            sign = "-" if v < 0 else ""
            v = abs(v)
            out.append(f"{sign}{int(v // 60)}:{v % 60:04.1f}" if spacing < 1 else f"{sign}{int(v // 60)}:{int(v % 60):02d}")
        return out

    def set_offset(self, offset_s: float) -> None:
        """Label the view's x as stream seconds x + `offset_s` (the view itself does not scroll)."""
        if offset_s != self.offset_s:
            self.offset_s = offset_s
            self.update()

    def paint(self, p, opt, widget) -> None:
        if self.orientation != "bottom":
            super().paint(p, opt, widget)
            return
        # The ticks move on every frame, so they are drawn straight away (no QPicture recorded to be
        # replayed once): all tick marks in two drawLines calls, each label a QStaticText laid out once.
        if self.style["tickFont"] is not None:
            p.setFont(self.style["tickFont"])
        bounds = self.mapRectFromParent(self.geometry())
        lo, hi = self.range[0] + self.offset_s, self.range[1] + self.offset_s
        if hi <= lo or bounds.width() <= 0:
            return
        px_per_s = bounds.width() / (hi - lo)
        major = next((s for s in _TICK_STEPS_S if s * px_per_s >= _MIN_LABEL_PX), _TICK_STEPS_S[-1])
        half = major / 2.0
        top, left, right = bounds.top(), bounds.left(), bounds.right()
        tick_len = self.style["tickLength"]
        text_top = top + max(0, tick_len) + self.style["tickTextOffset"][1]
        major_lines: list[QtCore.QLineF] = []
        minor_lines: list[QtCore.QLineF] = []
        labels: list[tuple[float, QtGui.QStaticText]] = []  # (left x, text)
        for k in range(math.ceil(lo / half - 1e-9), math.floor(hi / half + 1e-9) + 1):
            v = k * half
            x = (v - lo) * px_per_s + left
            if k % 2:
                minor_lines.append(QtCore.QLineF(x, top, x, top + tick_len / 2))
                continue
            major_lines.append(QtCore.QLineF(x, top, x, top + tick_len))
            text, width = self._label(p, self.tickStrings([v], 1.0, major)[0])
            if left <= x - width / 2 and x + width / 2 <= right:
                labels.append((x - width / 2, text))
        pen = self.tickPen()
        p.setPen(self.pen())
        p.drawLine(QtCore.QLineF(left - 1, top + 1, right + 1, top + 1))
        p.setPen(pen)
        p.drawLines(major_lines)
        p.setPen(self._faded(pen))
        p.drawLines(minor_lines)
        p.setPen(self.textPen())
        for x, text in labels:
            p.drawStaticText(QtCore.QPointF(x, text_top), text)

    def _label(self, p: QtGui.QPainter, label: str) -> tuple[QtGui.QStaticText, float]:
        """The label's laid-out text and width in pixels, made once per string (m:ss labels repeat)."""
        cached = self._text_px.get(label)
        if cached is None:
            if len(self._text_px) > 4096:  # a long session zoomed in passes many labels: keep the cache small
                self._text_px.clear()
            text = QtGui.QStaticText(label)
            text.prepare(QtGui.QTransform(), p.font())
            size = text.size()
            cached = self._text_px[label] = (text, size.width())
            self._updateMaxTextSize(int(math.ceil(size.height())))
        return cached

    def _faded(self, pen: QtGui.QPen) -> QtGui.QPen:
        if self._minor_pen is None or self._minor_pen[0] != pen:
            faded = QtGui.QPen(pen)
            color = QtGui.QColor(pen.color())
            color.setAlpha(110)
            faded.setColor(color)
            self._minor_pen = (QtGui.QPen(pen), faded)
        return self._minor_pen[1]


class PixelText(QtWidgets.QGraphicsSimpleTextItem):
    """A label placed at a point of the view (seconds, y) but drawn at a fixed pixel size, painted by Qt in
    C++: pyqtgraph's TextItem recomputes its transform in Python on every scroll, 30 times a second.
    `anchor` is pyqtgraph's: (0, 0) puts the text's top left on the point, (0, 1) its bottom left."""

    def __init__(self, text: str, color: QtGui.QColor | str, anchor: tuple[float, float] = (0.0, 0.0)) -> None:
        super().__init__(text)
        self.setBrush(QtGui.QColor(color))
        self.setPen(QtGui.QPen(QtCore.Qt.PenStyle.NoPen))
        self.setFlag(QtWidgets.QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations)
        self.setAcceptedMouseButtons(QtCore.Qt.MouseButton.NoButton)
        self._anchor = anchor
        self._place()

    def set_text(self, text: str) -> None:
        if text != self.text():
            self.setText(text)
            self._place()

    def _place(self) -> None:
        # the item's own transform is applied in pixels (the view's is ignored): shift by the anchor
        r = self.boundingRect()
        self.setTransform(QtGui.QTransform.fromTranslate(-self._anchor[0] * r.width(), -self._anchor[1] * r.height()))


class SelectViewBox(pg.ViewBox):
    """A view box that turns left-drags into a selection and the wheel into zoom (no panning). Positions
    go out in the coordinates of `content` (the timeline's scroll layer: stream seconds) when it is set."""

    sig_drag = QtCore.Signal(float, float, bool)
    """(start x, current x, finished) of a left-button drag, in seconds."""
    sig_click = QtCore.Signal(float)
    """A left click at x seconds."""
    sig_zoom = QtCore.Signal(float)
    """Zoom factor asked for by the wheel (> 1 zooms out)."""
    sig_context = QtCore.Signal(float, QtCore.QPoint)
    """A right click at x seconds, and where on the screen (for a menu)."""

    def __init__(self) -> None:
        super().__init__(enableMenu=False)
        self.setMouseEnabled(x=False, y=False)
        self._drag_start_s = 0.0
        self.content: QtWidgets.QGraphicsItem | None = None

    def seconds_at(self, scene_pos: QtCore.QPointF) -> float:
        """The x under a scene point, in `content`'s coordinates (else the view's)."""
        if self.content is not None:
            return float(self.content.mapFromScene(scene_pos).x())
        return float(self.mapSceneToView(scene_pos).x())

    def mouseDragEvent(self, ev, axis=None):  # noqa: N802
        if ev.button() != QtCore.Qt.MouseButton.LeftButton:
            ev.ignore()
            return
        ev.accept()
        if ev.isStart():
            # the view scrolls while the player drags: the start stays on the music it was pressed on,
            # not on the pixel (which shows later music with every frame)
            self._drag_start_s = self.seconds_at(ev.buttonDownScenePos())
        self.sig_drag.emit(self._drag_start_s, self.seconds_at(ev.scenePos()), ev.isFinish())

    def mouseClickEvent(self, ev):  # noqa: N802
        if ev.button() == QtCore.Qt.MouseButton.LeftButton:
            ev.accept()
            self.sig_click.emit(self.seconds_at(ev.scenePos()))
        elif ev.button() == QtCore.Qt.MouseButton.RightButton:
            ev.accept()
            self.sig_context.emit(self.seconds_at(ev.scenePos()), ev.screenPos().toPoint())
        else:
            ev.ignore()

    def wheelEvent(self, ev, axis=None):  # noqa: N802
        delta = ev.delta() if hasattr(ev, "delta") else ev.angleDelta().y()
        self.sig_zoom.emit(1.2 ** (-delta / 120.0))
        ev.accept()


class TimelinePlotWidget(pg.PlotWidget):
    """The plot, counting its repaints (an unchanged timeline must not repaint: tests check it)."""

    paints = 0

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # Playing, every item moves on every frame: the whole view repaints anyway, so Qt need not work out
        # which parts changed (MinimalViewportUpdate), nor keep a spatial index of items that all move.
        self.setViewportUpdateMode(QtWidgets.QGraphicsView.ViewportUpdateMode.FullViewportUpdate)
        self.scene().setItemIndexMethod(QtWidgets.QGraphicsScene.ItemIndexMethod.NoIndex)
        self.setOptimizationFlag(QtWidgets.QGraphicsView.OptimizationFlag.DontSavePainterState, True)

    def paintEvent(self, event: QtGui.QPaintEvent) -> None:  # noqa: N802 (Qt override)
        self.paints += 1
        super().paintEvent(event)
