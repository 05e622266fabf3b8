"""A rotary knob drawn for dark themes: an arc from min to max, the value arc, a tick at the default.

Musician's handling: drag up/down (Shift for fine), wheel, arrow keys/PageUp/PageDown (it is a QDial
underneath, so keyboard and accessibility work as usual), double-click resets to the default.
"""

from __future__ import annotations

import math

from PySide6 import QtCore, QtGui, QtWidgets

_START_DEG = 225.0  # 7 o'clock
_SWEEP_DEG = 270.0


class KnobWidget(QtWidgets.QDial):
    sig_reset_requested = QtCore.Signal()
    """Double-click: the owner puts the control back to its default."""

    def __init__(self, positions: int = 1000, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.setRange(0, positions)
        self.setSingleStep(max(1, positions // 100))
        self.setPageStep(max(1, positions // 10))
        self.setWrapping(False)
        self.setNotchesVisible(False)
        self.setFocusPolicy(QtCore.Qt.FocusPolicy.StrongFocus)
        self.setFixedSize(58, 58)
        self.default_position = 0
        self.accent = QtGui.QColor("#2fd3a7")
        self.track = QtGui.QColor("#333845")
        self.face = QtGui.QColor("#262a33")
        self._drag_y: float | None = None
        self._drag_value = 0.0

    def set_colors(self, accent: str, track: str, face: str) -> None:
        self.accent, self.track, self.face = QtGui.QColor(accent), QtGui.QColor(track), QtGui.QColor(face)
        self.update()

    # --- handling ---------------------------------------------------------------------------------
    def mousePressEvent(self, event: QtGui.QMouseEvent) -> None:  # noqa: N802 (Qt override)
        if event.button() == QtCore.Qt.MouseButton.LeftButton:
            self._drag_y = event.position().y()
            self._drag_value = float(self.value())
            self.setSliderDown(True)
            self.setFocus(QtCore.Qt.FocusReason.MouseFocusReason)
            event.accept()
        else:
            super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QtGui.QMouseEvent) -> None:  # noqa: N802
        if self._drag_y is None:
            return
        dy = self._drag_y - event.position().y()
        fine = bool(event.modifiers() & QtCore.Qt.KeyboardModifier.ShiftModifier)
        span = self.maximum() - self.minimum()
        per_px = span / (800.0 if fine else 160.0)  # a full sweep is 160 px of drag
        self._drag_value = min(self.maximum(), max(self.minimum(), self._drag_value + dy * per_px))
        self._drag_y = event.position().y()
        self.setValue(int(round(self._drag_value)))

    def mouseReleaseEvent(self, event: QtGui.QMouseEvent) -> None:  # noqa: N802
        self._drag_y = None
        self.setSliderDown(False)
        super().mouseReleaseEvent(event)

    def mouseDoubleClickEvent(self, event: QtGui.QMouseEvent) -> None:  # noqa: N802
        self.sig_reset_requested.emit()

    # --- drawing ----------------------------------------------------------------------------------
    def paintEvent(self, event: QtGui.QPaintEvent) -> None:  # noqa: N802
        p = QtGui.QPainter(self)
        p.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing)
        side = min(self.width(), self.height())
        rect = QtCore.QRectF((self.width() - side) / 2 + 5, (self.height() - side) / 2 + 5, side - 10, side - 10)
        enabled = self.isEnabled()
        accent = self.accent if enabled else self.track.lighter(130)
        p.setPen(QtCore.Qt.PenStyle.NoPen)
        p.setBrush(self.face)
        p.drawEllipse(rect.adjusted(6, 6, -6, -6))
        pen = QtGui.QPen(self.track, 5, QtCore.Qt.PenStyle.SolidLine, QtCore.Qt.PenCapStyle.RoundCap)
        p.setPen(pen)
        p.drawArc(rect, int(_START_DEG * 16), int(-_SWEEP_DEG * 16))
        span = max(1, self.maximum() - self.minimum())
        frac = (self.value() - self.minimum()) / span
        pen.setColor(accent)
        p.setPen(pen)
        p.drawArc(rect, int(_START_DEG * 16), int(-_SWEEP_DEG * frac * 16))
        # default tick just outside the arc
        d = (self.default_position - self.minimum()) / span
        ang = math.radians(_START_DEG - _SWEEP_DEG * d)
        c = rect.center()
        r0, r1 = rect.width() / 2 + 1, rect.width() / 2 + 5
        p.setPen(QtGui.QPen(self.track.lighter(170), 1.5))
        p.drawLine(QtCore.QPointF(c.x() + r0 * math.cos(ang), c.y() - r0 * math.sin(ang)),
                   QtCore.QPointF(c.x() + r1 * math.cos(ang), c.y() - r1 * math.sin(ang)))
        # pointer
        ang = math.radians(_START_DEG - _SWEEP_DEG * frac)
        r2 = rect.width() / 2 - 8
        p.setPen(QtGui.QPen(accent if enabled else self.track, 3, QtCore.Qt.PenStyle.SolidLine,
                            QtCore.Qt.PenCapStyle.RoundCap))
        p.drawLine(QtCore.QPointF(c.x() + 0.35 * r2 * math.cos(ang), c.y() - 0.35 * r2 * math.sin(ang)),
                   QtCore.QPointF(c.x() + r2 * math.cos(ang), c.y() - r2 * math.sin(ang)))
        if self.hasFocus():
            p.setPen(QtGui.QPen(accent, 1, QtCore.Qt.PenStyle.DotLine))
            p.setBrush(QtCore.Qt.BrushStyle.NoBrush)
            p.drawEllipse(rect.adjusted(-3, -3, 3, 3))
        p.end()
