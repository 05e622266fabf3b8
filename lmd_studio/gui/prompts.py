"""The prompt mixer panel: slots of (on/off, text with suggestions, weight slider, share of the mix)."""

from __future__ import annotations

import math

from PySide6 import QtCore, QtGui, QtWidgets

from lmd_studio.app.values import StudioStatus
from lmd_studio.settings.schema import PromptEntry


class PromptLineEdit(QtWidgets.QLineEdit):
    """A prompt text box: suggestions as you type; Down on an empty box lists them all; Esc reverts;
    Enter (or picking a suggestion) commits and hands the keyboard back, so Space and R are the
    transport's again."""

    sig_committed = QtCore.Signal(str)
    """Enter pressed or focus left with changed text."""

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self._committed = ""
        self.completer_model = QtCore.QStringListModel(self)
        completer = QtWidgets.QCompleter(self.completer_model, self)
        completer.setCaseSensitivity(QtCore.Qt.CaseSensitivity.CaseInsensitive)
        completer.setFilterMode(QtCore.Qt.MatchFlag.MatchContains)
        completer.setMaxVisibleItems(12)
        completer.activated.connect(self._suggestion_taken)
        self.setCompleter(completer)
        self.editingFinished.connect(lambda: self._commit(self.text()))
        self.returnPressed.connect(self.clearFocus)

    def set_committed(self, text: str) -> None:
        self._committed = text
        if not self.hasFocus() and self.text() != text:
            self.setText(text)
            self.setCursorPosition(0)  # show a long prompt from its beginning
        self.setToolTip(text)

    def _suggestion_taken(self, text: str) -> None:
        self._commit(text)
        self.clearFocus()

    def _commit(self, text: str) -> None:
        if text != self._committed:
            self._committed = text
            self.sig_committed.emit(text)

    def event(self, event: QtCore.QEvent) -> bool:
        # Esc belongs to the text box while typing (revert), not to the window's panic shortcut
        if (event.type() == QtCore.QEvent.Type.ShortcutOverride
                and event.key() == QtCore.Qt.Key.Key_Escape):
            event.accept()
            return True
        return super().event(event)

    def keyPressEvent(self, event: QtGui.QKeyEvent) -> None:  # noqa: N802
        if event.key() == QtCore.Qt.Key.Key_Down and not self.text():
            self.completer().setCompletionPrefix("")
            self.completer().complete()
            return
        if event.key() == QtCore.Qt.Key.Key_Escape:
            self.setText(self._committed)
            self.clearFocus()
            return
        super().keyPressEvent(event)


class PromptSlotWidget(QtWidgets.QWidget):
    def __init__(self, slot: int, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.slot = slot
        self.enabled_box = QtWidgets.QCheckBox(str(slot + 1))
        self.enabled_box.setToolTip(f"Prompt {slot + 1} on/off (fades in and out over the morph time)")
        self.text = PromptLineEdit()
        self.text.setObjectName(f"prompt_text_{slot}")
        self.text.setPlaceholderText("describe a sound… (↓ for ideas)" if slot else "describe the music…")
        self.text.setAccessibleName(f"Prompt {slot + 1}")
        self.weight = QtWidgets.QSlider(QtCore.Qt.Orientation.Horizontal)
        self.weight.setObjectName(f"prompt_weight_{slot}")
        self.weight.setRange(0, 100)
        self.weight.setFixedWidth(110)
        self.weight.setAccessibleName(f"Prompt {slot + 1} weight")
        self.weight.setToolTip("Weight of this prompt; the mix is normalised so weights are relative. "
                               "Right-click: MIDI learn.")
        self.weight.setContextMenuPolicy(QtCore.Qt.ContextMenuPolicy.CustomContextMenu)
        self.share = QtWidgets.QLabel("")
        self.share.setObjectName("Dim")
        self.share.setFixedWidth(44)
        self.share.setAlignment(QtCore.Qt.AlignmentFlag.AlignRight | QtCore.Qt.AlignmentFlag.AlignVCenter)
        self.share.setToolTip("This prompt's share of the mix right now")
        lay = QtWidgets.QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.enabled_box)
        lay.addWidget(self.text, 1)
        lay.addWidget(self.weight)
        lay.addWidget(self.share)

    def show_entry(self, entry: PromptEntry) -> None:
        for w in (self.enabled_box, self.weight):
            w.blockSignals(True)
        self.enabled_box.setChecked(entry.enabled)
        if not self.weight.isSliderDown():
            self.weight.setValue(int(round(entry.weight * 100)))
        for w in (self.enabled_box, self.weight):
            w.blockSignals(False)
        self.text.set_committed(entry.text)


class PromptMixerPanel(QtWidgets.QFrame):
    sig_text_changed = QtCore.Signal(int, str)
    """(slot, text) committed by the player."""
    sig_weight_changed = QtCore.Signal(int, float)
    """(slot, weight 0..1)."""
    sig_enabled_changed = QtCore.Signal(int, bool)
    """(slot, on)."""
    sig_morph_changed = QtCore.Signal(float)
    """Morph time in seconds."""
    sig_learn_requested = QtCore.Signal(str)
    """MIDI learn for a prompt weight target ("prompt_weight_N")."""

    def __init__(self, slots: int, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("Panel")
        self.learn_enabled = False
        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(10, 8, 10, 8)
        lay.setSpacing(6)
        head = QtWidgets.QHBoxLayout()
        title = QtWidgets.QLabel("PROMPTS")
        title.setObjectName("PanelTitle")
        self.morph = QtWidgets.QDoubleSpinBox()
        self.morph.setObjectName("morph_time")
        self.morph.setRange(0.0, 60.0)
        self.morph.setSingleStep(0.5)
        self.morph.setDecimals(1)
        self.morph.setSuffix(" s")
        self.morph.setToolTip("Morph time: how long a prompt change or scene recall takes to blend in")
        self.morph.setAccessibleName("Morph time")
        self.morph.valueChanged.connect(self.sig_morph_changed)
        self.morph_state = QtWidgets.QLabel("")
        self.morph_state.setObjectName("Countdown")
        morph_label = QtWidgets.QLabel("Morph")
        morph_label.setObjectName("Dim")
        head.addWidget(title)
        head.addStretch(1)
        head.addWidget(self.morph_state)
        head.addWidget(morph_label)
        head.addWidget(self.morph)
        lay.addLayout(head)
        self.slots: list[PromptSlotWidget] = []
        for i in range(slots):
            w = PromptSlotWidget(i)
            w.text.sig_committed.connect(lambda text, i=i: self.sig_text_changed.emit(i, text))
            w.weight.valueChanged.connect(lambda v, i=i: self.sig_weight_changed.emit(i, v / 100.0))
            w.enabled_box.toggled.connect(lambda on, i=i: self.sig_enabled_changed.emit(i, on))
            w.weight.customContextMenuRequested.connect(lambda pos, i=i: self._weight_menu(i, pos))
            lay.addWidget(w)
            self.slots.append(w)

    def set_suggestions(self, suggestions: list[str]) -> None:
        for w in self.slots:
            w.text.completer_model.setStringList(suggestions)

    def show_entries(self, entries: tuple[PromptEntry, ...], morph_s: float) -> None:
        for w, entry in zip(self.slots, entries):
            w.show_entry(entry)
        if abs(self.morph.value() - morph_s) > 1e-6 and not self.morph.hasFocus():
            self.morph.blockSignals(True)
            self.morph.setValue(morph_s)
            self.morph.blockSignals(False)

    def update_status(self, status: StudioStatus) -> None:
        for w, share in zip(self.slots, status.prompt_shares):
            w.share.setText(f"{share:.0%}" if share > 0 else "—")
        waiting = [c for k, c in status.countdowns.items() if k.startswith("prompt") and not c.heard
                   and c.remaining_beats is not None]
        if waiting:  # a prompt change waits for its beat or bar line
            n = max(1, math.ceil(min(c.remaining_beats or 0.0 for c in waiting) - 1e-6))
            self.morph_state.setText(f"lands in {n} beat{'' if n == 1 else 's'}")
        else:
            self.morph_state.setText("morphing…" if status.morphing else "")

    def _weight_menu(self, slot: int, pos: QtCore.QPoint) -> None:
        menu = QtWidgets.QMenu(self)
        learn = menu.addAction("MIDI learn…")
        learn.setEnabled(self.learn_enabled)
        if menu.exec(self.slots[slot].weight.mapToGlobal(pos)) is learn:
            self.sig_learn_requested.emit(f"prompt_weight_{slot}")
