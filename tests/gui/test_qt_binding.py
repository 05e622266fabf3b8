"""The Qt binding must not leak references to None (PySide6 6.12.0 does on Python < 3.12 and the GUI then
dies with a fatal 'none_dealloc' after a few thousand Qt calls)."""

from __future__ import annotations

import sys

from PySide6 import QtCore, QtGui


def test_void_qt_calls_keep_none_alive(qapp) -> None:
    image = QtGui.QImage(64, 64, QtGui.QImage.Format.Format_ARGB32)
    painter = QtGui.QPainter(image)
    pen = QtGui.QPen(QtGui.QColor("red"))
    try:
        before = sys.getrefcount(None)
        for _ in range(2000):
            painter.setPen(pen)  # returns None
            painter.drawLine(QtCore.QPointF(0, 0), QtCore.QPointF(5, 5))
        after = sys.getrefcount(None)
    finally:
        painter.end()
    assert after - before > -100, (
        f"None lost {before - after} references over 4000 void Qt calls: this PySide6 build is broken on "
        f"Python {sys.version_info.major}.{sys.version_info.minor} (use a PySide6-Essentials other than 6.12.0)")
