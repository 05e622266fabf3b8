"""The timeline: a scrolling waveform (or spectrogram) of what was played and what is generated ahead,
the playhead, block boundaries, change markers and the shaded context window the model listens to.
Click a past block or drag across the past to select it for saving; the wheel or −/+ zoom."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from lmd_studio.app.values import TimelineFrame
from lmd_studio.gui.theme import Colors

MIN_SPAN_S, MAX_SPAN_S = 2.0, 600.0
_MARKER_POOL = 24


def _qcolor(hex_color: str, alpha: int = 255) -> QtGui.QColor:
    c = QtGui.QColor(hex_color)
    c.setAlpha(alpha)
    return c


class TimeAxisItem(pg.AxisItem):
    def tickStrings(self, values, scale, spacing):  # noqa: N802 (pyqtgraph override)
        out = []
        for v in values:
            sign = "-" if v < 0 else ""
            v = abs(v)
            out.append(f"{sign}{int(v // 60)}:{v % 60:04.1f}" if spacing < 1 else f"{sign}{int(v // 60)}:{int(v % 60):02d}")
        return out


class SelectViewBox(pg.ViewBox):
    """A view box that turns left-drags into a selection and the wheel into zoom (no panning)."""

    sig_drag = QtCore.Signal(float, float, bool)
    """(start x, current x, finished) of a left-button drag, in seconds."""
    sig_click = QtCore.Signal(float)
    """A left click at x seconds."""
    sig_zoom = QtCore.Signal(float)
    """Zoom factor asked for by the wheel (> 1 zooms out)."""

    def __init__(self) -> None:
        super().__init__(enableMenu=False)
        self.setMouseEnabled(x=False, y=False)

    def mouseDragEvent(self, ev, axis=None):  # noqa: N802
        if ev.button() != QtCore.Qt.MouseButton.LeftButton:
            ev.ignore()
            return
        ev.accept()
        a = self.mapSceneToView(ev.buttonDownScenePos()).x()
        b = self.mapSceneToView(ev.scenePos()).x()
        self.sig_drag.emit(a, b, ev.isFinish())

    def mouseClickEvent(self, ev):  # noqa: N802
        if ev.button() == QtCore.Qt.MouseButton.LeftButton:
            ev.accept()
            self.sig_click.emit(self.mapSceneToView(ev.scenePos()).x())
        else:
            ev.ignore()

    def wheelEvent(self, ev, axis=None):  # noqa: N802
        delta = ev.delta() if hasattr(ev, "delta") else ev.angleDelta().y()
        self.sig_zoom.emit(1.2 ** (-delta / 120.0))
        ev.accept()


class TimelineWidget(QtWidgets.QFrame):
    sig_save_selection = QtCore.Signal(float, float)
    """(start s, end s) of the selected past stretch to save."""
    sig_span_changed = QtCore.Signal(float)
    """The visible width in seconds after a zoom."""
    sig_spectrogram_toggled = QtCore.Signal(bool)
    """Waveform (False) or spectrogram (True) view."""

    def __init__(self, colors: Colors, span_s: float = 16.0, spectrogram: bool = False,
                 parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("Panel")
        self.c = colors
        self.span_s = span_s
        self.selection: tuple[float, float] | None = None
        self._frame: TimelineFrame | None = None
        self._build_toolbar(spectrogram)
        self._build_plot()
        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(10, 8, 10, 8)
        lay.setSpacing(4)
        lay.addLayout(self.toolbar)
        lay.addWidget(self.plot, 1)
        self.set_spectrogram(spectrogram)

    # --- construction -----------------------------------------------------------------------------
    def _build_toolbar(self, spectrogram: bool) -> None:
        self.toolbar = QtWidgets.QHBoxLayout()
        title = QtWidgets.QLabel("TIMELINE")
        title.setObjectName("PanelTitle")
        self.info = QtWidgets.QLabel("")
        self.info.setObjectName("Dim")
        self.zoom_out = QtWidgets.QToolButton(text="−")
        self.zoom_out.setToolTip("Zoom out (−)")
        self.zoom_in = QtWidgets.QToolButton(text="+")
        self.zoom_in.setToolTip("Zoom in (+)")
        self.span_label = QtWidgets.QLabel("")
        self.span_label.setObjectName("Dim")
        self.spec_button = QtWidgets.QPushButton("Spectrogram")
        self.spec_button.setCheckable(True)
        self.spec_button.setChecked(spectrogram)
        self.spec_button.setToolTip("Switch between waveform and spectrogram (S)")
        self.save_button = QtWidgets.QPushButton("Save selection")
        self.save_button.setEnabled(False)
        self.save_button.setToolTip("Click a past block, or drag across what was played, then save it (Ctrl+S)")
        self.zoom_out.clicked.connect(lambda: self.zoom(1.25))
        self.zoom_in.clicked.connect(lambda: self.zoom(0.8))
        self.spec_button.toggled.connect(self._spec_toggled)
        self.save_button.clicked.connect(self.save_selection)
        for w in (title, self.info):
            self.toolbar.addWidget(w)
        self.toolbar.addStretch(1)
        for w in (self.span_label, self.zoom_out, self.zoom_in, self.spec_button, self.save_button):
            self.toolbar.addWidget(w)

    def _build_plot(self) -> None:
        c = self.c
        self.view = SelectViewBox()
        self.plot = pg.PlotWidget(viewBox=self.view, axisItems={"bottom": TimeAxisItem("bottom")},
                                  background=c.window)
        self.plot.setMinimumHeight(150)
        self.plot.hideAxis("left")
        self.plot.getAxis("bottom").setPen(pg.mkPen(c.border))
        self.plot.getAxis("bottom").setTextPen(pg.mkPen(c.dim_text))
        self.plot.setYRange(-1.05, 1.05, padding=0)
        self.plot.setFocusPolicy(QtCore.Qt.FocusPolicy.NoFocus)
        # pyqtgraph makes its "Plot Options" menu without a parent: it would outlive the window
        menu = self.plot.getPlotItem().ctrlMenu
        menu.setParent(self, menu.windowFlags())
        self.spec_image = pg.ImageItem()
        self.spec_image.setLookupTable(pg.colormap.get("inferno").getLookupTable(nPts=256))
        self.spec_image.setLevels([0, 255])
        self.ahead_region = pg.LinearRegionItem(movable=False, brush=_qcolor(c.ahead, 22),
                                                pen=pg.mkPen(None))
        self.context_region = pg.LinearRegionItem(movable=False, brush=_qcolor(c.context, 40),
                                                  pen=pg.mkPen(_qcolor(c.context, 140), width=1))
        self.context_label = pg.TextItem("model listens here", color=_qcolor(c.context, 230), anchor=(0, 0))
        # The waveform is rasterised with numpy into one RGBA image per frame (a column per pixel): one
        # drawImage is far cheaper than filled curves, and the GUI thread holds the GIL for less time,
        # which is time the audio pump needs.
        self.wave_image = pg.ImageItem(axisOrder="row-major")
        self._wave_colors = (np.array(QtGui.QColor(c.played).getRgb(), np.uint8),
                             np.array(QtGui.QColor(c.ahead).getRgb(), np.uint8))
        self.boundary_lines = pg.PlotCurveItem(pen=pg.mkPen(_qcolor(c.dim_text, 70), width=1,
                                                            style=QtCore.Qt.PenStyle.DashLine), connect="pairs")
        self.marker_lines = pg.PlotCurveItem(pen=pg.mkPen(_qcolor(c.marker, 200), width=1.5), connect="pairs")
        self.marker_labels = [pg.TextItem("", color=c.marker, anchor=(0, 0)) for _ in range(_MARKER_POOL)]
        self.selection_region = pg.LinearRegionItem(brush=_qcolor(c.text, 34),
                                                    pen=pg.mkPen(_qcolor(c.text, 220), width=2,
                                                                 style=QtCore.Qt.PenStyle.DashLine))
        self.selection_region.setVisible(False)
        self.selection_region.sigRegionChanged.connect(self._selection_dragged)
        self.playhead = pg.InfiniteLine(angle=90, pen=pg.mkPen(c.accent, width=2.5))
        self.hint = pg.TextItem("", color=c.text, anchor=(0.5, 0.5))
        self.hint.setFont(QtGui.QFont(self.font().family(), self.c.font_pt + 6))
        for item in (self.spec_image, self.ahead_region, self.context_region, self.wave_image,
                     self.boundary_lines, self.marker_lines, self.selection_region, self.playhead,
                     self.context_label, *self.marker_labels, self.hint):
            self.plot.addItem(item)
        self.view.sig_drag.connect(self._drag)
        self.view.sig_click.connect(self._click)
        self.view.sig_zoom.connect(self.zoom)

    # --- view state --------------------------------------------------------------------------------
    def set_spectrogram(self, on: bool) -> None:
        self.spectrogram = on
        self.spec_image.setVisible(on)
        self.wave_image.setVisible(not on)
        if self.spec_button.isChecked() != on:
            self.spec_button.setChecked(on)

    def _spec_toggled(self, on: bool) -> None:
        self.set_spectrogram(on)
        self.sig_spectrogram_toggled.emit(on)

    def zoom(self, factor: float) -> None:
        self.span_s = float(min(MAX_SPAN_S, max(MIN_SPAN_S, self.span_s * factor)))
        self.sig_span_changed.emit(self.span_s)
        if self._frame is not None:
            self._set_range(self._frame.play_s)

    def columns(self) -> int:
        return max(64, int(self.plot.width()))

    def set_hint(self, text: str) -> None:
        self.hint.setText(text)

    # --- drawing --------------------------------------------------------------------------------------
    def refresh(self, frame: TimelineFrame) -> None:
        self._frame = frame
        rate = frame.sample_rate_hz
        self._set_range(frame.play_s)
        self._draw_wave(frame, rate)
        if self.spectrogram and frame.spec is not None and len(frame.spec.image):
            s = frame.spec
            self.spec_image.setImage(s.image, autoLevels=False)
            x0 = s.start_position / rate
            self.spec_image.setRect(QtCore.QRectF(x0, -1.0, len(s.image) * s.frames_per_column / rate, 2.0))
        self.ahead_region.setRegion((frame.play_s, max(frame.play_s, frame.ahead_s)))
        self.context_region.setRegion((frame.context_start_s, frame.ahead_s))
        self.context_label.setPos(frame.context_start_s, 1.02)
        self.playhead.setPos(frame.play_s)
        self._draw_boundaries(frame.boundaries_s)
        self._draw_markers(frame, rate)
        left, right = self._x_range(frame.play_s)
        self.hint.setPos((left + right) / 2, 0.0)
        self.save_button.setEnabled(self.selection is not None and self.selection[0] < frame.play_s)
        self.span_label.setText(f"{self.span_s:.0f} s")

    def _x_range(self, play_s: float) -> tuple[float, float]:
        """The playhead sits ¾ across once there is that much history; before that the view starts at 0."""
        left = max(0.0, play_s - 0.75 * self.span_s)
        return left, left + self.span_s

    def _set_range(self, play_s: float) -> None:
        left, right = self._x_range(play_s)
        self.view.setRange(xRange=(left, right), yRange=(-1.05, 1.12), padding=0, update=False)

    WAVE_ROWS = 180

    def _draw_wave(self, frame: TimelineFrame, rate: int) -> None:
        w = frame.wave
        n = len(w.mins)
        if n == 0 or self.spectrogram:
            self.wave_image.setVisible(False)
            return
        self.wave_image.setVisible(True)
        self.wave_image.setImage(self._raster(w.mins, w.maxs, w.start_position, w.frames_per_column,
                                              frame.play_s * rate), autoLevels=False)
        self.wave_image.setRect(QtCore.QRectF(w.start_position / rate, -1.0, n * w.frames_per_column / rate, 2.0))

    def _raster(self, mins: np.ndarray, maxs: np.ndarray, start: int, per_column: int,
                play_position: float) -> np.ndarray:
        """RGBA [rows, columns] image: each column filled from its min to its max sample; columns past
        the playhead in the 'generated ahead' colour. Row 0 is the bottom (-1.0)."""
        rows = self.WAVE_ROWS
        scale = (rows - 1) / 2.0
        lo = np.clip(np.floor((np.minimum(mins, 0.0) + 1.0) * scale), 0, rows - 1).astype(np.int32)  # [C]
        hi = np.clip(np.ceil((np.maximum(maxs, 0.0) + 1.0) * scale), 0, rows - 1).astype(np.int32)
        y = np.arange(rows, dtype=np.int32)[:, None]  # [rows, 1]
        inside = (y >= lo[None, :]) & (y <= hi[None, :])  # [rows, C]
        ahead = (start + np.arange(len(mins)) * per_column) >= play_position  # [C]
        image = np.zeros((rows, len(mins), 4), dtype=np.uint8)  # [rows, C, RGBA]
        played_rgba, ahead_rgba = self._wave_colors
        image[inside & ~ahead[None, :]] = played_rgba
        image[inside & ahead[None, :]] = ahead_rgba
        return image

    def _draw_boundaries(self, boundaries: tuple[float, ...]) -> None:
        if not boundaries:
            self.boundary_lines.setData([], [])
            return
        xs = np.repeat(np.asarray(boundaries), 2)
        ys = np.tile(np.array([-1.0, 1.0]), len(boundaries))
        self.boundary_lines.setData(xs, ys)

    def _draw_markers(self, frame: TimelineFrame, rate: int) -> None:
        markers = frame.markers[-_MARKER_POOL:]
        xs = np.repeat(np.array([m.position / rate for m in markers]), 2) if markers else np.zeros(0)
        ys = np.tile(np.array([-1.0, 0.95]), len(markers))
        self.marker_lines.setData(xs, ys)
        for i, label in enumerate(self.marker_labels):
            if i < len(markers):
                m = markers[i]
                label.setText(m.label)
                label.setPos(m.position / rate, 0.93 - 0.14 * (i % 3))
                label.setVisible(True)
            else:
                label.setVisible(False)

    # --- selection ---------------------------------------------------------------------------------------
    def _click(self, x: float) -> None:
        f = self._frame
        if f is None or x >= f.play_s:
            self.clear_selection()
            return
        before = [b for b in f.boundaries_s if b <= x]
        after = [b for b in f.boundaries_s if b > x]
        start = before[-1] if before else max(f.oldest_s, x - 1.0)
        end = min(after[0] if after else x + 1.0, f.play_s)
        self.set_selection(start, end)

    def _drag(self, a: float, b: float, finished: bool) -> None:
        f = self._frame
        limit = f.play_s if f is not None else max(a, b)
        lo, hi = sorted((a, b))
        hi = min(hi, limit)
        if hi - lo > 0.02:
            self.set_selection(lo, hi)

    def set_selection(self, start_s: float, end_s: float) -> None:
        self.selection = (start_s, end_s)
        self.selection_region.blockSignals(True)
        self.selection_region.setRegion((start_s, end_s))
        self.selection_region.blockSignals(False)
        self.selection_region.setVisible(True)
        self.save_button.setEnabled(True)

    def clear_selection(self) -> None:
        self.selection = None
        self.selection_region.setVisible(False)
        self.save_button.setEnabled(False)

    def _selection_dragged(self) -> None:
        lo, hi = self.selection_region.getRegion()
        self.selection = (float(lo), float(hi))

    def save_selection(self) -> None:
        if self.selection is not None:
            self.sig_save_selection.emit(*self.selection)

    def info_text(self, text: str) -> None:
        self.info.setText(text)
