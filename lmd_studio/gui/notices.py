"""A one-line banner under the transport for things the player should see: saved files, errors, a
settings file that was broken and replaced. A notice with an `action` offers it as a button
(`sig_action` says which).

Notices queue, so none is replaced before it can be read: each stays at least MIN_VISIBLE_MS before the
next one takes its place ("+N more" says how many wait). Info goes away after INFO_VISIBLE_MS when nothing
waits; a warning stays until dismissed or until a queued notice follows it; an error stays until
dismissed, with the others waiting behind it. A prompt (MIDI learn: "move a control…") is shown at once
and the notice it covered comes back when the prompt is cleared. A tip (the first-run welcome) is the
other way round: it gives way at once to any other notice and comes back when the bar is free again, and
stays until dismissed.
"""

from __future__ import annotations

import time
from collections import deque

from PySide6 import QtCore, QtGui, QtWidgets

from lmd_studio.app.values import Notice
from lmd_studio.gui.theme import Colors

MIN_VISIBLE_MS = 4000
INFO_VISIBLE_MS = 6000
ACTION_LABELS = {"midi_settings": "MIDI settings…", "audio_settings": "Audio settings…"}  # Notice.action → button
TIP = "tip"  # a level for hints that wait for a free bar (the welcome)
_ICONS = {"error": "✖", "warning": "⚠", TIP: "♪"}


class NoticeBar(QtWidgets.QFrame):
    sig_action = QtCore.Signal(str)
    """The player pressed a notice's fix button (the Notice.action)."""

    def __init__(self, colors: Colors, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("NoticeBar")
        self.c = colors
        # one style sheet for every level (a style sheet set per notice is parsed again each time)
        rules = [f"QFrame#NoticeBar {{ background: {colors.panel}; border-radius: 6px; }}"]
        for level, color in (("info", colors.accent), (TIP, colors.accent), ("warning", colors.warn),
                             ("error", colors.danger)):
            rules.append(f'QFrame#NoticeBar[level="{level}"] {{ border: 1px solid {color}; '
                         f"border-left: 5px solid {color}; }}")
        self.setStyleSheet("\n".join(rules))
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
        self.more = QtWidgets.QLabel("")
        self.more.setObjectName("Dim")
        self.more.setToolTip("More messages wait: dismiss this one to read the next")
        self.close_button = QtWidgets.QToolButton(text="✕")
        self.close_button.setToolTip("Dismiss")
        self.close_button.clicked.connect(self.dismiss)
        lay = QtWidgets.QHBoxLayout(self)
        lay.setContentsMargins(10, 4, 6, 4)
        lay.addWidget(self.label, 1)
        lay.addWidget(self.open_button)
        lay.addWidget(self.action_button)
        lay.addWidget(self.more)
        lay.addWidget(self.close_button)
        self._timer = QtCore.QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self._timeout)
        self.current: Notice | None = None
        self._queue: deque[Notice] = deque()
        self._tips: deque[Notice] = deque()  # tips wait behind every other notice
        self._shown_at = 0.0
        self._prompt: Notice | None = None
        self.hide()

    # --- what the window calls --------------------------------------------------------------------------
    def show_notice(self, notice: Notice) -> None:
        """Show `notice` now if the bar is free, else after what is shown (and queued) before it."""
        if notice == self.current or notice in self._queue or notice in self._tips:
            return  # the same message twice in a row says nothing new
        if notice.level == TIP and self.current is not None:
            self._tips.append(notice)
        elif self.current is None:
            self._display(notice)
        elif self.current.level == TIP and self.current is not self._prompt:
            self._tips.appendleft(self.current)  # a tip makes way at once, and comes back later
            self._display(notice)
        else:
            self._queue.append(notice)
            self._arm()
        self._show_count()

    def dismiss(self) -> None:
        """The player closed the banner (or its fix was taken): the next waiting notice, if any."""
        if self.current is not None and self.current is self._prompt:
            self._prompt = None
        if self._queue:
            self._display(self._queue.popleft())
        elif self._tips:
            self._display(self._tips.popleft())
        else:
            self.current = None
            self._timer.stop()
            self.hide()
        self._show_count()

    def show_prompt(self, notice: Notice) -> None:
        """Show `notice` at once (a mode the player is in); what it covers waits at the front."""
        if self.current is not None and self.current is not self._prompt:
            (self._tips if self.current.level == TIP else self._queue).appendleft(self.current)
        self._prompt = notice
        self._display(notice)
        self._show_count()

    def clear_prompt(self) -> None:
        if self._prompt is not None and self.current is self._prompt:
            self.dismiss()
        self._prompt = None

    @property
    def waiting(self) -> int:
        return len(self._queue) + len(self._tips)

    # --- internals -------------------------------------------------------------------------------------
    def _display(self, notice: Notice) -> None:
        self.current = notice
        self._shown_at = time.monotonic()
        if self.property("level") != notice.level:
            self.setProperty("level", notice.level)
            self.style().unpolish(self)
            self.style().polish(self)
        self.label.setText(f"{_ICONS.get(notice.level, '✓')}  {notice.text}")
        self.open_button.setVisible(notice.path is not None)
        self.action_button.setText(ACTION_LABELS.get(notice.action, ""))
        self.action_button.setVisible(notice.action in ACTION_LABELS)
        self.show()
        self._arm()

    def _arm(self) -> None:
        """When the shown notice gives way: errors, tips and prompts never by themselves; others after
        MIN_VISIBLE_MS if something waits, info after INFO_VISIBLE_MS anyway, warnings only for a successor
        (a waiting tip is no successor: it waits for a free bar)."""
        cur = self.current
        if cur is None or cur.level in ("error", TIP) or cur is self._prompt:
            self._timer.stop()
            return
        if self._queue:
            due_ms = MIN_VISIBLE_MS
        elif cur.level == "info":
            due_ms = INFO_VISIBLE_MS
        else:
            self._timer.stop()
            return
        elapsed_ms = (time.monotonic() - self._shown_at) * 1000.0
        self._timer.start(int(max(0.0, due_ms - elapsed_ms)))

    def _timeout(self) -> None:
        self.dismiss()

    def _show_count(self) -> None:
        n = self.waiting
        self.more.setText(f"+{n} more" if n else "")
        self.more.setVisible(bool(n))

    def _open_folder(self) -> None:
        if self.current is not None and self.current.path is not None:
            QtGui.QDesktopServices.openUrl(QtCore.QUrl.fromLocalFile(str(self.current.path.parent)))

    def _run_action(self) -> None:
        if self.current is not None and self.current.action:
            action = self.current.action
            self.dismiss()  # taken care of; a fix that fails brings a new notice
            self.sig_action.emit(action)
