"""The timeline: a scrolling waveform (or spectrogram) of what was played and what is generated ahead,
the playhead, block boundaries, change markers, the shaded context window the model listens to, with a
tempo set the beat grid (bar lines stronger than beats), past and ahead, and with the audio input on its
waveform in a lane underneath (in jam mode with a line where the model's hearing of it ends).
Click a past block or drag across the past to select it for saving; right-click the past to play from
there again (the same or a new variation; the branches that forked are picked in the toolbar); the wheel
or −/+ zoom."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from lmd_studio.app.values import Branch, TimelineFrame, WaveSlice
from lmd_studio.gui.theme import Colors
from lmd_studio.gui.timeline_items import (
    PixelText,
    SelectViewBox,
    TimeAxisItem,
    TimelinePlotWidget,
    WaveImageItem,
    bgra,
    cosmetic_pen,
    line_item,
    path_item,
    qcolor,
    scroll_layer,
    set_span,
    span_item,
    vertical_lines,
)
from lmd_studio.gui.wave_raster import WaveRaster

MIN_SPAN_S, MAX_SPAN_S = 2.0, 600.0
_MARKER_POOL = 24
_BAR_LABEL_POOL = 24  # bar numbers drawn; zoomed out further, every n-th bar is numbered


class TimelineWidget(QtWidgets.QFrame):
    sig_save_selection = QtCore.Signal(float, float)
    """(start s, end s) of the selected past stretch to save."""
    sig_span_changed = QtCore.Signal(float)
    """The visible width in seconds after a zoom."""
    sig_spectrogram_toggled = QtCore.Signal(bool)
    """Waveform (False) or spectrogram (True) view."""
    sig_play_from = QtCore.Signal(float, bool)
    """Play again from stream second x (already heard); True: with a new variation."""
    sig_switch_branch = QtCore.Signal(str)
    """Play the branch with this label again from its fork (A/B)."""

    def __init__(self, colors: Colors, span_s: float = 16.0, spectrogram: bool = False,
                 parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("Panel")
        self.c = colors
        self.span_s = span_s
        self.selection: tuple[float, float] | None = None
        self._frame: TimelineFrame | None = None  # the frame on screen (refresh skips an identical one)
        self._shown: dict[str, object] = {}  # what each item shows now, so unchanged items are not touched
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
        self.branch_box = QtWidgets.QComboBox()
        self.branch_box.setObjectName("timeline_branches")
        self.branch_box.setToolTip("Takes that forked where you played from a moment again: pick one to hear "
                                   "it again from its fork (A/B)")
        self.branch_box.setVisible(False)
        self.branch_box.activated.connect(lambda i: self.sig_switch_branch.emit(self.branch_box.itemData(i)))
        for w in (title, self.info):
            self.toolbar.addWidget(w)
        self.toolbar.addStretch(1)
        for w in (self.branch_box, self.span_label, self.zoom_out, self.zoom_in, self.spec_button, self.save_button):
            self.toolbar.addWidget(w)

    def _build_plot(self) -> None:
        c = self.c
        self.view = SelectViewBox()
        self.plot = TimelinePlotWidget(viewBox=self.view, axisItems={"bottom": TimeAxisItem("bottom")},
                                       background=c.window)
        self.plot.setMinimumHeight(150)
        self.plot.hideAxis("left")
        for side in ("left", "top", "right"):  # hidden, but still told of every zoom: no SI label work
            self.plot.getAxis(side).enableAutoSIPrefix(False)
        self.view.disableAutoRange()  # the range is set by hand, on a zoom (it does not scroll)
        self.axis: TimeAxisItem = self.plot.getAxis("bottom")
        self.axis.setPen(pg.mkPen(c.border))
        self.axis.setTextPen(pg.mkPen(c.dim_text))
        self.plot.setYRange(-1.05, 1.05, padding=0)
        self.plot.setFocusPolicy(QtCore.Qt.FocusPolicy.NoFocus)
        # the view fills its background itself: Qt need not paint the panels behind it on every frame
        self.plot.viewport().setAttribute(QtCore.Qt.WidgetAttribute.WA_OpaquePaintEvent)
        # pyqtgraph makes its "Plot Options" menu without a parent: it would outlive the window
        menu = self.plot.getPlotItem().ctrlMenu
        menu.setParent(self, menu.windowFlags())
        self.spec_image = pg.ImageItem()
        self.spec_image.setLookupTable(pg.colormap.get("inferno").getLookupTable(nPts=256))
        self.spec_image.setLevels([0, 255])
        self.ahead_region = span_item(qcolor(c.ahead, 22))
        self.context_region = span_item(qcolor(c.context, 40), cosmetic_pen(qcolor(c.context, 140)))
        self.context_label = PixelText("model listens here", qcolor(c.context, 230), anchor=(0, 0))
        # The waveform is rasterised with numpy into one RGBA image (a column per pixel), only where it
        # changed (wave_raster.py): one drawImage is far cheaper than filled curves, and the GUI thread
        # holds the GIL for less time, which is time the audio pump needs.
        self.wave_image = WaveImageItem()
        self._wave = WaveRaster(self.WAVE_ROWS, np.array(bgra(c.played), np.uint8), np.array(bgra(c.ahead), np.uint8))
        # the audio input, in a lane under the generated music (shown while the input is on)
        self.input_image = WaveImageItem()
        self.input_image.setVisible(False)
        self._input_wave = WaveRaster(self.INPUT_ROWS, np.array(bgra(c.context), np.uint8),
                                      np.array(bgra(c.context), np.uint8))
        self.input_label = PixelText("input", qcolor(c.context, 230), anchor=(0, 1))
        self.input_label.setVisible(False)
        # jam mode: the newest input the model has heard (the partner's cut-off)
        self.heard_line = line_item(cosmetic_pen(qcolor(c.context, 230), 2.0))
        self.heard_line.setLine(0.0, self.INPUT_LANE[0], 0.0, self.INPUT_LANE[1] + 0.1)
        self.heard_line.setToolTip("Jam: the model has heard your input up to here")
        self.heard_line.setVisible(False)
        self.boundary_lines = path_item(cosmetic_pen(qcolor(c.dim_text, 45)))  # dashes cost ~5 % of a core
        self.marker_lines = path_item(cosmetic_pen(qcolor(c.marker, 200), 1.5))
        self.beat_lines = path_item(cosmetic_pen(qcolor(c.text, 45)))
        self.bar_lines = path_item(cosmetic_pen(qcolor(c.text, 170), 1.5))
        self.bar_labels: list[PixelText] = []  # made as bar numbers need them, at most _BAR_LABEL_POOL
        self.marker_labels: list[PixelText] = []  # made as markers need them, at most _MARKER_POOL
        self.selection_region = pg.LinearRegionItem(brush=qcolor(c.text, 34),
                                                    pen=pg.mkPen(qcolor(c.text, 220), width=2,
                                                                 style=QtCore.Qt.PenStyle.DashLine))
        self.selection_region.setVisible(False)
        self.selection_region.sigRegionChanged.connect(self._selection_dragged)
        self.playhead = line_item(cosmetic_pen(c.accent, 2.5))
        self.hint = pg.TextItem("", color=c.text, anchor=(0.5, 0.5))
        self.hint.setFont(QtGui.QFont(self.font().family(), self.c.font_pt + 6))
        self.hint.setVisible(False)
        # Everything placed in stream seconds is on one layer, and a frame scrolls by moving the layer: the
        # view's x range stays [0, span) (timeline_items.py). The layer goes into the view first, so that
        # the pyqtgraph items put on it find their view box.
        self.scroller = scroll_layer()
        self.plot.addItem(self.scroller, ignoreBounds=True)  # the range is set by hand: no bounds to track
        for item in (self.spec_image, self.ahead_region, self.context_region, self.wave_image, self.input_image,
                     self.heard_line, self.boundary_lines, self.beat_lines, self.bar_lines, self.marker_lines,
                     self.selection_region, self.playhead, self.context_label):
            item.setParentItem(self.scroller)
        for item in (self.input_label, self.hint):  # these stay put in the view (its x: 0 … span)
            self.plot.addItem(item, ignoreBounds=True)
        self.view.content = self.scroller  # clicks and drags in stream seconds
        self.view.sig_drag.connect(self._drag)
        self.view.sig_click.connect(self.select_block_at)
        self.view.sig_context.connect(self._context_menu)
        self.view.sig_zoom.connect(self.zoom)

    # --- view state --------------------------------------------------------------------------------
    def set_spectrogram(self, on: bool) -> None:
        self.spectrogram = on
        self._frame = None  # draw the next frame in full
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
            self._scroll(self._frame.play_s)

    def columns(self) -> int:
        return max(64, int(self.plot.width()))

    def set_hint(self, text: str) -> None:
        if self._changed("hint", text):
            self.hint.setText(text)
            self.hint.setVisible(bool(text))  # a hidden item costs nothing per frame

    def _changed(self, item: str, value: object) -> bool:
        """Remember `value` as what `item` shows; True when it differs from what it showed."""
        if self._shown.get(item, self) == value:
            return False
        self._shown[item] = value
        return True

    # --- drawing --------------------------------------------------------------------------------------
    def refresh(self, frame: TimelineFrame) -> None:
        """Draw `frame`. The session answers an unchanged timeline with the same frame object: then
        nothing is touched and nothing repaints (stopped, the timeline costs no CPU)."""
        if frame is self._frame:
            return
        self._frame = frame
        rate = frame.sample_rate_hz
        self._scroll(frame.play_s)
        self._draw_wave(frame, rate)
        self._draw_input(frame, rate)
        if self.spectrogram and frame.spec is not None and len(frame.spec.image):
            s = frame.spec
            self.spec_image.setImage(s.image, autoLevels=False)
            if self._changed("spec_rect", (s.start_position, len(s.image), s.frames_per_column, rate)):
                self.spec_image.setRect(QtCore.QRectF(s.start_position / rate, -1.0,
                                                      len(s.image) * s.frames_per_column / rate, 2.0))
        if self._changed("ahead", (frame.play_s, frame.ahead_s)):
            set_span(self.ahead_region, frame.play_s, max(frame.play_s, frame.ahead_s))
        if self._changed("context", (frame.context_start_s, frame.ahead_s)):
            set_span(self.context_region, frame.context_start_s, frame.ahead_s)
            self.context_label.setPos(frame.context_start_s, 1.02)
        self.playhead.setPos(frame.play_s, 0.0)
        if self._changed("boundaries", frame.boundaries_s):
            self._draw_boundaries(frame.boundaries_s)
        if self._changed("grid", (frame.beat_lines_s, frame.bar_lines_s)):
            self.beat_lines.setPath(vertical_lines(frame.beat_lines_s, -1.0, 1.0))
            self.bar_lines.setPath(vertical_lines(frame.bar_lines_s, -1.0, 1.0))
            self._draw_bar_numbers(frame)
        if self._changed("markers", frame.markers):
            self._draw_markers(frame, rate)
        self._enable_save(frame.play_s)
        if self._changed("span", round(self.span_s)):
            self.span_label.setText(f"{self.span_s:.0f} s")

    def _enable_save(self, play_s: float) -> None:
        on = self.selection is not None and self.selection[0] < play_s
        if self.save_button.isEnabled() != on:
            self.save_button.setEnabled(on)

    def _x_range(self, play_s: float) -> tuple[float, float]:
        """The playhead sits ¾ across once there is that much history; before that the view starts at 0."""
        left = max(0.0, play_s - 0.75 * self.span_s)
        return left, left + self.span_s

    def _scroll(self, play_s: float) -> None:
        """Show [left, left + span) of the stream: a zoom sets the view's range to [0, span); a frame only
        moves the scroll layer and the axis's labels (no pyqtgraph range change, no item told of it)."""
        if self._changed("range", self.span_s):
            self.view.setRange(xRange=(0.0, self.span_s), yRange=(-1.05, 1.12), padding=0, disableAutoRange=False)
            # move the items now: pyqtgraph would do it while painting, which asks for a second paint
            self.view.updateMatrix()
            self.hint.setPos(self.span_s / 2, 0.0)
            self.input_label.setPos(0.0, self.INPUT_LANE[0])  # inside the lane, at its bottom left
        left, _ = self._x_range(play_s)
        if self._changed("left", left):
            self.scroller.setPos(-left, 0.0)
            self.axis.set_offset(left)

    WAVE_ROWS = 180
    INPUT_ROWS = 60
    # with the input on, the generated music keeps the upper part and the input has a lane under it (y units)
    INPUT_LANE = (-1.0, -0.45)
    MUSIC_LANE_WITH_INPUT = (-0.35, 1.0)

    def _draw_wave(self, frame: TimelineFrame, rate: int) -> None:
        w = frame.wave
        n = len(w.mins)
        if n == 0 or self.spectrogram:
            self.wave_image.setVisible(False)
            return
        self.wave_image.setVisible(True)
        lo, hi = self.MUSIC_LANE_WITH_INPUT if frame.input_wave is not None else (-1.0, 1.0)
        self._draw_raster(self.wave_image, self._wave, w, frame.play_s * rate, rate, (lo, hi), "wave")

    def _draw_raster(self, item: WaveImageItem, raster: WaveRaster, w: WaveSlice, play_position: float,
                     rate: int, lane: tuple[float, float], name: str) -> None:
        """Draw the slice into the raster's buffer. Scrolling, it is drawn in place: the item keeps its image
        and rect (both change only with a new buffer, when the slice runs off its end or on a zoom)."""
        image = raster.update(w.first_column, w.frames_per_column, w.mins, w.maxs, play_position)
        if image is not item.image:
            item.setImage(image, autoLevels=False)
        lo, hi = lane
        if self._changed(f"{name}_rect", (raster.base, image.shape[1], w.frames_per_column, rate, lo, hi)):
            per_s = w.frames_per_column / rate
            item.setRect(QtCore.QRectF(raster.base * per_s, lo, image.shape[1] * per_s, hi - lo))
        if raster.changed or item.shown != raster.shown:
            item.show_columns(*raster.shown)

    def _draw_input(self, frame: TimelineFrame, rate: int) -> None:
        w = frame.input_wave
        shown = w is not None and len(w.mins) > 0 and not self.spectrogram
        self.input_image.setVisible(shown)
        self.input_label.setVisible(w is not None and not self.spectrogram)
        self.heard_line.setVisible(shown and frame.heard_s is not None)
        lo, hi = self.INPUT_LANE
        if w is None or not shown:
            return
        self._draw_raster(self.input_image, self._input_wave, w, frame.play_s * rate, rate, (lo, hi), "input")
        if frame.heard_s is not None:
            self.heard_line.setPos(frame.heard_s, 0.0)

    def _draw_boundaries(self, boundaries: tuple[float, ...]) -> None:
        self.boundary_lines.setPath(vertical_lines(boundaries, -1.0, 1.0))

    def _draw_bar_numbers(self, frame: TimelineFrame) -> None:
        every = max(1, -(-len(frame.bar_lines_s) // _BAR_LABEL_POOL))
        chords = frame.bar_chords or ("",) * len(frame.bar_numbers)
        shown = [(x, f"{n} {c}" if c else str(n)) for x, n, c in zip(frame.bar_lines_s, frame.bar_numbers, chords)
                 if n and (n - 1) % every == 0]
        while len(self.bar_labels) < len(shown):
            label = PixelText("", qcolor(self.c.text, 200), anchor=(0, 1))
            self.bar_labels.append(label)
            label.setParentItem(self.scroller)
        for i, label in enumerate(self.bar_labels):
            if i < len(shown):
                x, text = shown[i]
                label.set_text(text)
                label.setPos(x, -1.0)
                label.setVisible(True)
            elif label.isVisible():
                label.setVisible(False)

    def _draw_markers(self, frame: TimelineFrame, rate: int) -> None:
        markers = frame.markers[-_MARKER_POOL:]
        self.marker_lines.setPath(vertical_lines([m.position / rate for m in markers], -1.0, 0.95))
        while len(self.marker_labels) < len(markers):
            label = PixelText("", self.c.marker, anchor=(0, 0))
            self.marker_labels.append(label)
            label.setParentItem(self.scroller)
        for i, label in enumerate(self.marker_labels):
            if i < len(markers):
                m = markers[i]
                label.set_text(m.label)
                label.setPos(m.position / rate, 0.93 - 0.14 * (i % 3))
                label.setVisible(True)
            elif label.isVisible():
                label.setVisible(False)

    # --- selection ---------------------------------------------------------------------------------------
    def select_block_at(self, x: float) -> None:
        """A click at stream second `x`: select the block played there (nothing in the future)."""
        f = self._frame
        if f is None or x >= f.play_s:
            self.clear_selection()
            return
        before = [b for b in f.boundaries_s if b <= x]
        after = [b for b in f.boundaries_s if b > x]
        start = before[-1] if before else max(f.oldest_s, x - 1.0)
        end = min(after[0] if after else x + 1.0, f.play_s)
        self.set_selection(start, end)

    def play_from_menu(self, x: float) -> QtWidgets.QMenu | None:
        """The menu for a right click at stream second `x`: play from there again (None in the future)."""
        f = self._frame
        if f is None or x >= f.play_s:
            return None
        menu = QtWidgets.QMenu(self)
        menu.setObjectName("timeline_menu")
        again = menu.addAction("Play from here again")
        again.setToolTip("The music from this moment once more, with the current prompts and Variation")
        again.triggered.connect(lambda: self.sig_play_from.emit(x, False))
        new = menu.addAction("Play from here — new variation")
        new.triggered.connect(lambda: self.sig_play_from.emit(x, True))
        return menu

    def _context_menu(self, x: float, where: QtCore.QPoint) -> None:
        menu = self.play_from_menu(x)
        if menu is not None:
            menu.exec(where)
            menu.deleteLater()

    def show_branches(self, branches: tuple[Branch, ...], current: str | None) -> None:
        """The branch picker: hidden until the first rewind; the branch playing selected."""
        items = tuple((b.label, f"{b.label} · from {int(b.fork_s // 60)}:{b.fork_s % 60:04.1f}"
                                 f"{' · new variation' if b.new_variation else ''}") for b in branches)
        if self._changed("branches", (items, current)):
            box = self.branch_box
            box.blockSignals(True)
            box.clear()
            for label, text in items:
                box.addItem(text, label)
            box.setCurrentIndex(max(0, box.findData(current)))
            box.blockSignals(False)
            box.setVisible(bool(items))

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
