"""Performance controls: one knob per parameter with its value, default, tooltip, "let the model decide"
and a countdown to when a change is heard (in beats while quantised to a tempo); the panel lays them out,
reports changes to the Session and says where changes land. The tempo knob has a spin box for exact BPM."""

from __future__ import annotations

import math

from PySide6 import QtCore, QtWidgets

from lmd_studio.app.countdown import Countdown
from lmd_studio.app.values import ControlInfo, StudioStatus
from lmd_studio.core.musical_key import Key
from lmd_studio.core.params import DELAY_TIME, DRY_WET, METER, PITCH, PROGRESSION, STEPS, TEMPO, ParamSpec
from lmd_studio.core.progression import knob_label as progression_knob_label
from lmd_studio.core.progression import playing_state
from lmd_studio.gui.knob import KnobWidget

QUANTISE_LABELS = (("off", "at once"), ("beat", "next beat"), ("bar", "next bar"))

# What the studio adds to a control's own tooltip: how it plays in this window
STUDIO_NOTES = {
    DELAY_TIME.name: "Heard while the Delay switch (in the Input row) is on, with Jam.",
    DRY_WET.name: "Works while Jam and Delay are both on (otherwise the model plays at full level). Your "
                  "input (dry) is heard only with Monitor switched on in the Input row; the output never "
                  "clips.",
}


def format_value(spec: ParamSpec, value: float) -> str:
    if spec.unit == "key":
        key = Key.from_knob(value)
        return key.short_name
    if spec.unit == "progression":
        return progression_knob_label(value)
    if spec.name == "seed":
        return f"#{int(value):04d}"
    if spec.name == METER.name:
        return f"{int(value)}/4"
    if spec.integer:
        return str(int(value))
    if spec.unit == "dB":
        return f"{value:+.1f} dB"
    if spec.unit:
        return f"{value:.1f} {spec.unit}"
    if spec.minimum == 0.0 and spec.maximum == 1.0:
        return f"{value * 100:.0f} %"
    return f"{value:.2f}"


def countdown_text(c: Countdown) -> str:
    """"in 3 beats" while a quantised change waits for its line ("… next bar" when the nearest one was too
    close to the playhead), else seconds."""
    if c.remaining_beats is None:
        return f"in {c.remaining_s:.1f} s"
    n = max(1, math.ceil(c.remaining_beats - 1e-6))
    text = f"in {n} beat{'' if n == 1 else 's'}"
    if c.skipped:
        return f"{text} (next {'bar' if c.per_bar else 'beat'})"
    return text


def tooltip_for(spec: ParamSpec, supported: bool) -> str:
    lines = [f"<b>{spec.label}</b>", spec.tooltip, STUDIO_NOTES.get(spec.name, ""),
             f"Range {format_value(spec, spec.minimum)} – {format_value(spec, spec.maximum)}, "
             f"default {format_value(spec, spec.default)}.",
             "Drag up/down (Shift: fine), arrow keys, double-click for the default.",
             "With a tempo set, a change lands on the next beat or bar (Settings → Quantise); "
             "hold Shift to have it land at once.",
             "Right-click: MIDI learn, reset."]
    if spec.can_auto:
        lines.append("“Auto” lets the model decide.")
    if not supported:
        lines.append("<i>The current model does not listen to this control.</i>")
    return "<br>".join(line for line in lines if line)


class ControlWidget(QtWidgets.QFrame):
    sig_value_changed = QtCore.Signal(str, float)
    """(parameter name, new value) from the player."""
    sig_auto_changed = QtCore.Signal(str, bool)
    """(parameter name, let the model decide)."""
    sig_learn_requested = QtCore.Signal(str)
    """The player asked to bind this control to the next MIDI control moved."""

    def __init__(self, info: ControlInfo, value: float, auto: bool, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.spec = info.spec
        self.setObjectName(f"control_{self.spec.name}")
        spec = self.spec
        steps = int(spec.maximum - spec.minimum) if spec.integer else 1000
        self.knob = KnobWidget(positions=max(1, steps))
        self.knob.setObjectName(f"knob_{spec.name}")
        self.knob.setAccessibleName(spec.label)
        self.knob.default_position = self._to_position(spec.default)
        self.title = QtWidgets.QLabel(spec.label)
        self.title.setAlignment(QtCore.Qt.AlignmentFlag.AlignHCenter)
        self.value_label = QtWidgets.QLabel()
        self.value_label.setAlignment(QtCore.Qt.AlignmentFlag.AlignHCenter)
        self.value_label.setMinimumWidth(70)
        self.countdown = QtWidgets.QLabel("")
        self.countdown.setAlignment(QtCore.Qt.AlignmentFlag.AlignHCenter)
        self.countdown.setMinimumHeight(18)
        # "in 5 beats (next bar)" on one line widened every column and pushed the window past 1440 px
        self.countdown.setWordWrap(True)
        self.auto_box = QtWidgets.QCheckBox("Auto")
        self.auto_box.setToolTip("Let the model decide this one")
        self.auto_box.setVisible(spec.can_auto)
        self.learn_enabled = False
        self.spin: QtWidgets.QDoubleSpinBox | None = None
        if spec.name == TEMPO.name:  # the knob for feel, the box for an exact tempo
            self.spin = QtWidgets.QDoubleSpinBox()
            self.spin.setObjectName(f"spin_{spec.name}")
            self.spin.setRange(spec.minimum, spec.maximum)
            self.spin.setDecimals(1)
            self.spin.setSingleStep(1.0)
            self.spin.setKeyboardTracking(False)  # typed digits apply on Enter, not one by one
            self.spin.setAccessibleName(f"{spec.label} (exact)")
            self.spin.setToolTip("The exact tempo in BPM")
        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(4, 2, 4, 2)
        lay.setSpacing(1)
        lay.addWidget(self.title)
        lay.addWidget(self.knob, 0, QtCore.Qt.AlignmentFlag.AlignHCenter)
        lay.addWidget(self.value_label)
        self.extra = QtWidgets.QHBoxLayout()
        self.extra.setContentsMargins(0, 0, 0, 0)
        self.extra.addStretch(1)
        if self.spin is not None:
            self.extra.addWidget(self.spin)
        self.extra.addWidget(self.auto_box)
        self.extra.addStretch(1)
        lay.addLayout(self.extra)
        lay.addWidget(self.countdown)
        self._updating = False
        self._running: float | None = None  # what the engine really runs when it differs (safe mode)
        self.set_supported(info.supported)
        self.set_value(value)
        self.set_auto(auto)
        self.knob.valueChanged.connect(self._knob_moved)
        self.knob.sig_reset_requested.connect(self.reset_to_default)
        self.auto_box.toggled.connect(self._auto_toggled)
        if self.spin is not None:
            self.spin.valueChanged.connect(self._spin_changed)
        self.setContextMenuPolicy(QtCore.Qt.ContextMenuPolicy.CustomContextMenu)
        self.customContextMenuRequested.connect(self._menu)
        self.knob.setContextMenuPolicy(QtCore.Qt.ContextMenuPolicy.CustomContextMenu)
        self.knob.customContextMenuRequested.connect(lambda pos: self._menu(self.knob.mapTo(self, pos)))

    # --- value <-> knob ------------------------------------------------------------------------------
    def _to_position(self, value: float) -> int:
        return int(round(self.spec.to_normalized(value) * self.knob.maximum()))

    def _from_position(self, position: int) -> float:
        return self.spec.from_normalized(position / max(1, self.knob.maximum()))

    def value(self) -> float:
        if self.spin is not None:
            return float(self.spin.value())
        return self._from_position(self.knob.value())

    def set_value(self, value: float) -> None:
        """Show `value` without reporting it back (MIDI, scenes, morphs move the knob too)."""
        self._updating = True
        self.knob.setValue(self._to_position(value))
        if self.spin is not None:
            self.spin.setValue(self.spec.clamp(value))
        self._updating = False
        self.value_label.setText(self._label(self.spec.clamp(value)))

    def show_running(self, running: float | None) -> None:
        """The value the engine really uses, when something (safe mode) runs less than the knob asks."""
        if running != self._running:
            self._running = running
            if not self.auto_box.isChecked():
                self.value_label.setText(self._label(self.value()))

    def _label(self, value: float) -> str:
        if self._running is not None and self._running < value:
            return f"{format_value(self.spec, value)} → {format_value(self.spec, self._running)} (safe mode)"
        return format_value(self.spec, value)

    def set_auto(self, auto: bool) -> None:
        self._updating = True
        self.auto_box.setChecked(auto)
        self._updating = False
        self.knob.setEnabled(self.supported and not auto)
        if self.spin is not None:
            self.spin.setEnabled(self.supported and not auto)
        if auto:
            self.value_label.setText("model decides")

    def set_supported(self, supported: bool) -> None:
        self.supported = supported
        self.knob.setEnabled(supported and not self.auto_box.isChecked())
        self.auto_box.setEnabled(supported)
        self.setToolTip(tooltip_for(self.spec, supported))
        self.title.setObjectName("" if supported else "Dim")
        self.title.setStyleSheet("")  # re-polish for the object name

    def show_countdown(self, countdown: Countdown | None) -> None:
        if countdown is None:
            name, text = self.countdown.objectName(), ""
        elif countdown.heard:
            name, text = "Heard", "✓ heard"
        else:
            name, text = "Countdown", countdown_text(countdown)
        self.countdown.setText(text)
        if name != self.countdown.objectName():  # re-polishing costs a style pass: only for a new look
            self.countdown.setObjectName(name)
            self.countdown.style().unpolish(self.countdown)
            self.countdown.style().polish(self.countdown)

    def set_learning(self, on: bool) -> None:
        """Mark this control while MIDI learn waits for a hardware control for it."""
        rule = f"QFrame#{self.objectName()} {{ border: 2px dashed palette(highlight); border-radius: 8px; }}"
        self.setStyleSheet(rule if on else "")

    def reset_to_default(self) -> None:
        self.knob.setValue(self._to_position(self.spec.default))

    # --- events -----------------------------------------------------------------------------------------
    def _knob_moved(self, position: int) -> None:
        value = self._from_position(position)
        self.value_label.setText(self._label(value))
        if self.spin is not None and not self._updating:
            self.spin.blockSignals(True)
            self.spin.setValue(value)
            self.spin.blockSignals(False)
        if not self._updating:
            self.sig_value_changed.emit(self.spec.name, value)

    def _spin_changed(self, value: float) -> None:
        if self._updating:
            return
        self._updating = True  # the knob follows without reporting a rounded value back
        self.knob.setValue(self._to_position(value))
        self._updating = False
        self.value_label.setText(self._label(value))
        self.sig_value_changed.emit(self.spec.name, float(value))

    def _auto_toggled(self, on: bool) -> None:
        self.knob.setEnabled(self.supported and not on)
        if self.spin is not None:
            self.spin.setEnabled(self.supported and not on)
        self.value_label.setText("model decides" if on else self._label(self.value()))
        if not self._updating:
            self.sig_auto_changed.emit(self.spec.name, on)

    def _menu(self, pos: QtCore.QPoint) -> None:
        menu = QtWidgets.QMenu(self)
        learn = menu.addAction("MIDI learn…")
        learn.setEnabled(self.learn_enabled)
        if not self.learn_enabled:
            learn.setToolTip("No MIDI input is available")
        reset = menu.addAction(f"Reset to default ({format_value(self.spec, self.spec.default)})")
        auto = None
        if self.spec.can_auto:
            auto = menu.addAction("Let the model decide")
            auto.setCheckable(True)
            auto.setChecked(self.auto_box.isChecked())
        chosen = menu.exec(self.mapToGlobal(pos))
        if chosen is learn:
            self.sig_learn_requested.emit(self.spec.name)
        elif chosen is reset:
            self.reset_to_default()
        elif auto is not None and chosen is auto:
            self.auto_box.setChecked(auto.isChecked())


class PerformancePanel(QtWidgets.QFrame):
    """All performance controls of the current model, in a grid, plus when changes land."""

    sig_value_changed = QtCore.Signal(str, float)
    """(parameter name, value) moved by the player."""
    sig_auto_changed = QtCore.Signal(str, bool)
    """(parameter name, auto)."""
    sig_learn_requested = QtCore.Signal(str)
    """MIDI learn for a parameter."""
    sig_reroll = QtCore.Signal()
    """The player asked for a new variation (seed)."""
    sig_quantise_changed = QtCore.Signal(str)
    """Where changes land while a tempo is set: "off", "beat" or "bar"."""

    COLUMNS = 4

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("Panel")
        self.widgets: dict[str, ControlWidget] = {}
        outer = QtWidgets.QVBoxLayout(self)
        outer.setContentsMargins(10, 8, 10, 8)
        head = QtWidgets.QHBoxLayout()
        title = QtWidgets.QLabel("PERFORMANCE")
        title.setObjectName("PanelTitle")
        self.landing = QtWidgets.QLabel("")
        self.landing.setObjectName("Dim")
        self.landing.setToolTip("How long a change made now takes to reach your ears, and when the playhead "
                                "crosses into the next generated block")
        self.quantise = QtWidgets.QComboBox()
        self.quantise.setObjectName("quantise")
        self.quantise.setAccessibleName("Changes land")
        self.quantise.setToolTip("With a tempo set, where a change to the knobs, the prompts or a scene recall "
                                 "is heard from: at once, the next beat or the next bar line. Hold Shift "
                                 "while changing something to have it land at once.")
        for grid, label in QUANTISE_LABELS:
            self.quantise.addItem(label, grid)
        self.quantise.activated.connect(lambda i: self.sig_quantise_changed.emit(self.quantise.itemData(i)))
        land_label = QtWidgets.QLabel("Land")
        land_label.setObjectName("Dim")
        head.addWidget(title)
        head.addStretch(1)
        head.addWidget(self.landing)
        head.addWidget(land_label)
        head.addWidget(self.quantise)
        outer.addLayout(head)
        self.grid = QtWidgets.QGridLayout()
        self.grid.setHorizontalSpacing(6)
        self.grid.setVerticalSpacing(4)
        outer.addLayout(self.grid)
        outer.addStretch(1)
        self.reroll_button = QtWidgets.QPushButton("Re-roll")
        self.reroll_button.setObjectName("Reroll")
        self.reroll_button.setToolTip("A new variation: pick a different seed (V)")
        self.reroll_button.clicked.connect(self.sig_reroll)

    def set_controls(self, controls: list[ControlInfo], values: dict[str, float], auto: set[str],
                     learn_enabled: bool) -> None:
        """Rebuild for a model's controls (supported ones first, in registry order)."""
        for w in self.widgets.values():
            w.setParent(None)
            w.deleteLater()
        self.widgets.clear()
        ordered = sorted(controls, key=lambda c: not c.supported)
        for i, info in enumerate(ordered):
            w = ControlWidget(info, values[info.spec.name], info.spec.name in auto)
            w.learn_enabled = learn_enabled
            w.sig_value_changed.connect(self.sig_value_changed)
            w.sig_auto_changed.connect(self.sig_auto_changed)
            w.sig_learn_requested.connect(self.sig_learn_requested)
            if info.spec.name == "seed":
                w.extra.insertWidget(1, self.reroll_button)
                w.auto_box.setVisible(False)
            self.grid.addWidget(w, i // self.COLUMNS, i % self.COLUMNS)
            self.widgets[info.spec.name] = w

    def show_values(self, values: dict[str, float], auto: set[str]) -> None:
        for name, w in self.widgets.items():
            if w.knob.isSliderDown():
                continue  # the player's hand wins over echoes
            if name in values and abs(w.value() - values[name]) > 1e-9:
                w.set_value(values[name])
            if w.auto_box.isChecked() != (name in auto):
                w.set_auto(name in auto)
        self._show_progression(values, auto)

    def _show_progression(self, values: dict[str, float], auto: set[str]) -> None:
        """The Progression knob says the chords it plays in the current key, or why it is silent."""
        w = self.widgets.get(PROGRESSION.name)
        if w is None or PROGRESSION.name not in values:
            return
        key = None if PITCH.name in auto or PITCH.name not in values else Key.from_knob(values[PITCH.name])
        label, detail = playing_state(values[PROGRESSION.name], key, TEMPO.name not in auto)
        if w.value_label.text() != label:
            w.value_label.setText(label)
        tooltip = tooltip_for(w.spec, w.supported).replace(f"<b>{w.spec.label}</b>",
                                                          f"<b>{w.spec.label}</b><br>{detail}", 1)
        if w.toolTip() != tooltip:
            w.setToolTip(tooltip)

    def update_status(self, status: StudioStatus) -> None:
        for name, w in self.widgets.items():
            w.show_countdown(status.countdowns.get(name))
        steps = self.widgets.get(STEPS.name)
        if steps is not None:  # safe mode lowers the steps below the knob: say what really runs
            steps.show_running(float(status.steps_override) if status.steps_override else None)
        i = self.quantise.findData(status.quantise)
        if i >= 0 and i != self.quantise.currentIndex() and not self.quantise.view().isVisible():
            self.quantise.setCurrentIndex(i)
        if status.playing and status.primed and status.bar and status.quantise != "off":
            self.landing.setText(f"changes heard on the next {status.quantise} (≈{status.pending_change_s:.1f} s)")
        elif status.playing and status.primed:
            # tenths: a label whose text changes repaints the panel behind it, 30 times a second at .2f
            self.landing.setText(f"changes heard in ≈{status.pending_change_s:.1f} s · next block in "
                                 f"{status.next_boundary_s:.1f} s")
        else:
            self.landing.setText("changes are heard when you press play")
