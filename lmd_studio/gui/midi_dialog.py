"""The MIDI map editor: every binding of a controller with its range, curve, invert, takeover, smoothing
and button mode; learn new ones, remove, clear, export and import maps. Edits apply at once."""

from __future__ import annotations

from pathlib import Path

from PySide6 import QtCore, QtWidgets

from lmd_studio.app.session_api import MidiApi
from lmd_studio.app.values import BindingRow

CURVES = ("linear", "exp", "log", "s-curve")
TAKEOVERS = ("soft", "jump")
MODES = ("toggle", "momentary")
COLUMNS = ("Control", "Drives", "Range", "Curve", "Invert", "Takeover", "Smoothing", "Button")


class MidiMapDialog(QtWidgets.QDialog):
    def __init__(self, midi: MidiApi, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.midi = midi
        self.setWindowTitle("LMD Studio — MIDI map")
        self.setObjectName("MidiMapDialog")
        self.resize(860, 520)
        self._rows: list[BindingRow] = []
        self._filling = False
        self.controller = QtWidgets.QComboBox()
        self.controller.setObjectName("midi_controller")
        self.ports = QtWidgets.QLabel("")
        self.ports.setObjectName("Dim")
        self.ports.setWordWrap(True)
        self.table = QtWidgets.QTableWidget(0, len(COLUMNS))
        self.table.setObjectName("midi_bindings")
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setSelectionBehavior(QtWidgets.QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QtWidgets.QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.verticalHeader().setVisible(False)
        self._build_editor()
        self.target = QtWidgets.QComboBox()
        self.target.setObjectName("midi_learn_target")
        for name, label in midi.targets():
            self.target.addItem(label, name)
        self.learn_button = QtWidgets.QPushButton("Learn")
        self.learn_button.setToolTip("Then move a knob, fader or key on your controller")
        self.learn_state = QtWidgets.QLabel("")
        self.learn_state.setObjectName("Countdown")
        self.remove_button = QtWidgets.QPushButton("Remove")
        self.clear_button = QtWidgets.QPushButton("Clear all")
        self.export_button = QtWidgets.QPushButton("Export…")
        self.import_button = QtWidgets.QPushButton("Import…")
        close = QtWidgets.QPushButton("Close")
        top = QtWidgets.QHBoxLayout()
        top.addWidget(QtWidgets.QLabel("Controller"))
        top.addWidget(self.controller, 1)
        learn = QtWidgets.QHBoxLayout()
        learn.addWidget(QtWidgets.QLabel("Learn a control for"))
        learn.addWidget(self.target, 1)
        learn.addWidget(self.learn_button)
        learn.addWidget(self.learn_state, 1)
        buttons = QtWidgets.QHBoxLayout()
        for b in (self.remove_button, self.clear_button, self.export_button, self.import_button):
            buttons.addWidget(b)
        buttons.addStretch(1)
        buttons.addWidget(close)
        lay = QtWidgets.QVBoxLayout(self)
        lay.addLayout(top)
        lay.addWidget(self.ports)
        lay.addWidget(self.table, 1)
        lay.addWidget(self.editor)
        lay.addLayout(learn)
        lay.addLayout(buttons)
        self.controller.currentIndexChanged.connect(lambda _: self.refresh())
        self.table.itemSelectionChanged.connect(self._selected)
        self.learn_button.clicked.connect(self._learn)
        self.remove_button.clicked.connect(self._remove)
        self.clear_button.clicked.connect(self._clear)
        self.export_button.clicked.connect(self._export)
        self.import_button.clicked.connect(self._import)
        close.clicked.connect(self.accept)
        self.timer = QtCore.QTimer(self)
        self.timer.setInterval(400)
        self.timer.timeout.connect(self._poll)
        self.timer.start()
        self._fill_controllers()

    def _build_editor(self) -> None:
        self.editor = QtWidgets.QGroupBox("Selected binding")
        form = QtWidgets.QHBoxLayout(self.editor)
        self.lo = QtWidgets.QSpinBox()
        self.hi = QtWidgets.QSpinBox()
        for spin in (self.lo, self.hi):
            spin.setRange(0, 100)
            spin.setSuffix(" %")
        self.curve = QtWidgets.QComboBox()
        self.curve.addItems(CURVES)
        self.invert = QtWidgets.QCheckBox("Invert")
        self.takeover = QtWidgets.QComboBox()
        self.takeover.addItems(TAKEOVERS)
        self.takeover.setToolTip("soft: the control does nothing until it passes the current value (no jumps)")
        self.smoothing = QtWidgets.QSpinBox()
        self.smoothing.setRange(0, 10000)
        self.smoothing.setSingleStep(10)
        self.smoothing.setSuffix(" ms")
        self.mode = QtWidgets.QComboBox()
        self.mode.addItems(MODES)
        for label, w in (("From", self.lo), ("to", self.hi), ("Curve", self.curve), ("", self.invert),
                         ("Takeover", self.takeover), ("Smoothing", self.smoothing), ("Button", self.mode)):
            if label:
                form.addWidget(QtWidgets.QLabel(label))
            form.addWidget(w)
        self.lo.valueChanged.connect(lambda _: self._edit())
        self.hi.valueChanged.connect(lambda _: self._edit())
        self.curve.currentIndexChanged.connect(lambda _: self._edit())
        self.invert.toggled.connect(lambda _: self._edit())
        self.takeover.currentIndexChanged.connect(lambda _: self._edit())
        self.smoothing.editingFinished.connect(self._edit)
        self.mode.currentIndexChanged.connect(lambda _: self._edit())
        self.editor.setEnabled(False)

    # --- data --------------------------------------------------------------------------------------------
    def _fill_controllers(self) -> None:
        current = self.controller.currentText()
        names = list(self.midi.controllers())
        self.controller.blockSignals(True)
        self.controller.clear()
        self.controller.addItems(names)
        if current in names:
            self.controller.setCurrentText(current)
        else:  # open on a controller that has bindings (the virtual port usually has none)
            bound = [n for n in names if self.midi.bindings(n)]
            if bound:
                self.controller.setCurrentText(bound[0])
        self.controller.blockSignals(False)
        self.refresh()

    def refresh(self) -> None:
        controller = self.controller.currentText()
        rows = self.midi.bindings(controller) if controller else []
        selected = self._selected_row()
        self._rows = rows
        self.table.setRowCount(len(rows))
        for i, r in enumerate(rows):
            cells = (r.source, r.target_label, f"{r.range_lo:.0%} – {r.range_hi:.0%}", r.curve,
                     "yes" if r.invert else "", r.takeover, f"{r.smoothing_ms:.0f} ms" if r.smoothing_ms else "",
                     r.mode if r.is_button else "")
            for j, text in enumerate(cells):
                item = QtWidgets.QTableWidgetItem(text)
                if not r.active:
                    item.setToolTip("The current model has no such control")
                    item.setForeground(self.palette().placeholderText())
                self.table.setItem(i, j, item)
        self.table.resizeColumnsToContents()
        if selected is not None:
            for i, r in enumerate(rows):
                if r.source_id == selected.source_id:
                    self.table.selectRow(i)
        self.ports.setText(" · ".join(self.midi.port_lines()) or "no MIDI ports open")
        for b in (self.clear_button, self.export_button, self.import_button):
            b.setEnabled(bool(controller))

    def _selected_row(self) -> BindingRow | None:
        rows = self.table.selectionModel().selectedRows() if self.table.selectionModel() else []
        return self._rows[rows[0].row()] if rows and rows[0].row() < len(self._rows) else None

    def _selected(self) -> None:
        r = self._selected_row()
        self.editor.setEnabled(r is not None)
        self.remove_button.setEnabled(r is not None)
        if r is None:
            return
        self._filling = True
        self.lo.setValue(int(round(r.range_lo * 100)))
        self.hi.setValue(int(round(r.range_hi * 100)))
        self.curve.setCurrentText(r.curve)
        self.invert.setChecked(r.invert)
        self.takeover.setCurrentText(r.takeover)
        self.smoothing.setValue(int(r.smoothing_ms))
        self.mode.setCurrentText(r.mode)
        self.mode.setEnabled(r.is_button)
        self._filling = False

    def _edit(self) -> None:
        r = self._selected_row()
        if r is None or self._filling:
            return
        if self.lo.value() >= self.hi.value():
            return  # the user is mid-way through moving the ends; wait for a valid range
        self.midi.update_binding(r.controller, r.source_id, range_lo=self.lo.value() / 100,
                                 range_hi=self.hi.value() / 100, curve=self.curve.currentText(),
                                 invert=self.invert.isChecked(), takeover=self.takeover.currentText(),
                                 smoothing_ms=float(self.smoothing.value()), mode=self.mode.currentText())
        self.refresh()

    # --- actions --------------------------------------------------------------------------------------------
    def _learn(self) -> None:
        target = self.target.currentData()
        if target:
            self.midi.learn(target)

    def _remove(self) -> None:
        r = self._selected_row()
        if r is not None:
            self.midi.remove_binding(r.controller, r.source_id)
            self.refresh()

    def _clear(self) -> None:
        controller = self.controller.currentText()
        if controller and QtWidgets.QMessageBox.question(
                self, "Clear MIDI map", f"Remove every binding of {controller}?") == \
                QtWidgets.QMessageBox.StandardButton.Yes:
            self.midi.clear_map(controller)
            self.refresh()

    def _export(self) -> None:
        controller = self.controller.currentText()
        path, _ = QtWidgets.QFileDialog.getSaveFileName(self, "Export MIDI map", f"{controller}.json", "JSON (*.json)")
        if path:
            self.midi.export_map(controller, Path(path))

    def _import(self) -> None:
        controller = self.controller.currentText()
        path, _ = QtWidgets.QFileDialog.getOpenFileName(self, "Import MIDI map", "", "JSON (*.json)")
        if path and self.midi.import_map(controller, Path(path)):
            self.refresh()

    def _poll(self) -> None:
        """Pick up what changed behind the dialog's back: a learned binding, a new controller."""
        learning = self.midi.learning_target
        self.learn_state.setText(f"move a control for {learning}…" if learning else "")
        shown = {self.controller.itemText(i) for i in range(self.controller.count())}
        if set(self.midi.controllers()) != shown:
            self._fill_controllers()
        elif self.controller.currentText() and self.midi.bindings(self.controller.currentText()) != self._rows:
            self.refresh()
