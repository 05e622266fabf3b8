"""A one-line banner under the transport for things the player should see: saved files, errors, a
settings file that was broken and replaced. Info fades after a few seconds; warnings and errors stay
until dismissed or replaced. A notice with an `action` offers it as a button (`sig_action` says which)."""

from __future__ import annotations

from PySide6 import QtCore, QtGui, QtWidgets

from lmd_studio.app.values import Notice
from lmd_studio.gui.theme import Colors

INFO_VISIBLE_MS = 6000
ACTION_LABELS = {"midi_settings": "MIDI settings…"}  # Notice.action → its button


class NoticeBar(QtWidgets.QFrame):
    sig_action = QtCore.Signal(str)

    def __init__(self, colors: Colors, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("NoticeBar")
        self.c = colors
        self.label = QtWidgets.QLabel("")
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(QtCore.Qt.TextInteractionFlag.TextSelectableByMouse)
        self.open_button = QtWidgets.QToolButton(text="Show folder")
        self.open_button.setVisible(False)
        self.open_button.clicked.connect(self._open_folder)
        self.action_button = QtWidgets.QToolButton()
        self.action_button.setObjectName("notice_action")
        self.action_button.setVisible(False)
        self.action_button.clicked.connect(self._run_action)
        close = QtWidgets.QToolButton(text="✕")
        close.setToolTip("Dismiss")
        close.clicked.connect(self.hide)
        lay = QtWidgets.QHBoxLayout(self)
        lay.setContentsMargins(10, 4, 6, 4)
        lay.addWidget(self.label, 1)
        lay.addWidget(self.open_button)
        lay.addWidget(self.action_button)
        lay.addWidget(close)
        self._timer = QtCore.QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self.hide)
        self.current: Notice | None = None
        self.hide()

    def show_notice(self, notice: Notice) -> None:
        self.current = notice
        color = {"error": self.c.danger, "warning": self.c.warn}.get(notice.level, self.c.accent)
        self.setStyleSheet(f"QFrame#NoticeBar {{ background: {self.c.panel}; border: 1px solid {color};"
                           f" border-left: 5px solid {color}; border-radius: 6px; }}")
        icon = {"error": "✖", "warning": "⚠"}.get(notice.level, "✓")
        self.label.setText(f"{icon}  {notice.text}")
        self.open_button.setVisible(notice.path is not None)
        self.action_button.setText(ACTION_LABELS.get(notice.action, ""))
        self.action_button.setVisible(notice.action in ACTION_LABELS)
        self.show()
        if notice.level == "info":
            self._timer.start(INFO_VISIBLE_MS)
        else:
            self._timer.stop()

    def _open_folder(self) -> None:
        if self.current is not None and self.current.path is not None:
            QtGui.QDesktopServices.openUrl(QtCore.QUrl.fromLocalFile(str(self.current.path.parent)))

    def _run_action(self) -> None:
        if self.current is not None and self.current.action:
            action = self.current.action
            self.hide()  # taken care of; a fix that fails brings a new notice
            self.sig_action.emit(action)
