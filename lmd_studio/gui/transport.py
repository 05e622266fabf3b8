"""The transport bar (play, record, capture the last N seconds or bars, fresh start, panic, volume) and the
header bar (model and adapter choice, tempo, held notes, MIDI and settings)."""

from __future__ import annotations

from pathlib import Path

from PySide6 import QtCore, QtGui, QtWidgets

from lmd_studio.app.values import ModelChoice, StudioStatus
from lmd_studio.core.musical_key import NOTE_NAMES

CAPTURE_CHOICES_S = (30.0, 60.0, 300.0)
LOOP_BARS = (1, 2, 4, 8, 16)


def _clock(seconds: float) -> str:
    return f"{int(seconds // 60)}:{int(seconds % 60):02d}"


def loop_mime_data(path: Path) -> QtCore.QMimeData:
    """What dragging a loop out of the window carries: the file, as a URL every DAW and file manager takes."""
    mime = QtCore.QMimeData()
    mime.setUrls([QtCore.QUrl.fromLocalFile(str(path))])
    mime.setText(str(path))
    return mime


class LoopChip(QtWidgets.QLabel):
    """The newest loop kept, to drag onto a DAW's track, a sampler or the desktop."""

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("Dim")
        self.path: Path | None = None
        self._press: QtCore.QPoint | None = None
        self.setCursor(QtCore.Qt.CursorShape.OpenHandCursor)
        self.hide()

    def show_loop(self, path: Path | None) -> None:
        if path == self.path:
            return
        self.path = path
        self.setVisible(path is not None)
        if path is not None:  # short: the transport row must still fit a 1440-px window
            self.setText("⇲ drag loop")
            self.setToolTip(f"{path}\nDrag it onto a DAW track, a sampler or the desktop")

    def mousePressEvent(self, event: QtGui.QMouseEvent) -> None:  # noqa: N802 — Qt's name
        self._press = event.position().toPoint()

    def mouseMoveEvent(self, event: QtGui.QMouseEvent) -> None:  # noqa: N802 — Qt's name
        if self.path is None or self._press is None:
            return
        if (event.position().toPoint() - self._press).manhattanLength() < QtWidgets.QApplication.startDragDistance():
            return
        drag = QtGui.QDrag(self)
        drag.setMimeData(loop_mime_data(self.path))
        self._press = None
        drag.exec(QtCore.Qt.DropAction.CopyAction)


class TransportBar(QtWidgets.QFrame):
    sig_play_toggled = QtCore.Signal()
    """Play/stop pressed."""
    sig_record_toggled = QtCore.Signal()
    """Record pressed."""
    sig_capture = QtCore.Signal(float)
    """Save the last N seconds."""
    sig_loop = QtCore.Signal(int)
    """Keep the last N bars as a loop."""
    sig_reset = QtCore.Signal()
    """Fresh start."""
    sig_panic = QtCore.Signal()
    """Fade to silence and stop."""
    sig_volume_changed = QtCore.Signal(float)
    """Master volume in dB."""

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("Panel")
        lay = QtWidgets.QHBoxLayout(self)
        lay.setContentsMargins(10, 6, 10, 6)
        lay.setSpacing(8)
        self.play = QtWidgets.QPushButton("▶  Play")
        self.play.setObjectName("Play")
        self.play.setCheckable(True)
        self.play.setToolTip("Play / stop (Space)")
        self.record = QtWidgets.QPushButton("●  Rec")
        self.record.setObjectName("Record")
        self.record.setCheckable(True)
        self.record.setToolTip("Record a take to WAV/FLAC with a JSON sidecar (R)")
        self.rec_time = QtWidgets.QLabel("")
        self.rec_time.setMinimumWidth(44)
        self.clock = QtWidgets.QLabel("0:00")
        self.clock.setToolTip("Time played in this session")
        self.clock.setMinimumWidth(44)
        self.bar_beat = QtWidgets.QLabel("")
        self.bar_beat.setObjectName("BarBeat")
        self.bar_beat.setToolTip("Bar : beat of the studio's clock (set a tempo with the Tempo knob, tap tempo, "
                                 "MIDI clock or Link)")
        self.bar_beat.setMinimumWidth(52)
        # the model loading after the window opened: "Loading model…" / "Warming up…" / "Ready"
        self.startup = QtWidgets.QLabel("")
        self.startup.setObjectName("Countdown")
        self.startup.setToolTip("The model loads in the background. Press Space at any time: the music starts "
                                "as soon as the model is ready.")
        self.startup_bar = QtWidgets.QProgressBar()
        self.startup_bar.setRange(0, 0)  # busy: how long torch takes to load is not known in advance
        self.startup_bar.setFixedWidth(80)
        self.startup_bar.setTextVisible(False)
        for w in (self.startup, self.startup_bar):
            w.setVisible(False)
        self.reset = QtWidgets.QPushButton("⟲  Fresh start")
        self.reset.setToolTip("Forget the context and start the music afresh (Ctrl+N)")
        self.panic = QtWidgets.QPushButton("■  Panic")
        self.panic.setObjectName("Panic")
        self.panic.setToolTip("Fade to silence at once, release held notes and stop (Esc)")
        cap_label = QtWidgets.QLabel("Keep the last")
        cap_label.setObjectName("Dim")
        self.capture_label = cap_label
        self.capture_buttons = []
        for seconds, key in zip(CAPTURE_CHOICES_S, ("C", "Shift+C", "Ctrl+Shift+C")):
            text = f"{seconds:.0f} s" if seconds < 60 else f"{seconds / 60:.0f} min"
            b = QtWidgets.QPushButton(text)
            b.setObjectName(f"capture_{int(seconds)}")
            b.setToolTip(f"Save the last {text} you heard to a file, with its prompts and settings ({key})")
            b.clicked.connect(lambda _=False, s=seconds: self.sig_capture.emit(s))
            self.capture_buttons.append(b)
        self.loop = QtWidgets.QToolButton()
        self.loop.setObjectName("loop")
        self.loop.setText("Loop 4 bars")
        self.loop.setToolTip("Keep the last 4 bars as a loop that starts on a downbeat and loops without a click "
                             "(L; the arrow picks 1–16 bars; needs a tempo)")
        self.loop.setPopupMode(QtWidgets.QToolButton.ToolButtonPopupMode.MenuButtonPopup)
        self.loop.clicked.connect(lambda _=False: self.sig_loop.emit(4))
        loop_menu = QtWidgets.QMenu(self.loop)
        for bars in LOOP_BARS:
            loop_menu.addAction(f"{bars} bar{'s' if bars > 1 else ''}",
                                lambda b=bars: self.sig_loop.emit(b))
        self.loop.setMenu(loop_menu)
        self.loop_chip = LoopChip()
        vol_label = QtWidgets.QLabel("Volume")
        vol_label.setObjectName("Dim")
        self.volume = QtWidgets.QSlider(QtCore.Qt.Orientation.Horizontal)
        self.volume.setObjectName("volume")
        self.volume.setRange(-600, 60)  # tenths of a dB
        self.volume.setFixedWidth(140)
        self.volume.setAccessibleName("Master volume")
        self.volume.setToolTip("Master volume (applied at once, not at the next block)")
        self.volume_label = QtWidgets.QLabel("")
        self.volume_label.setMinimumWidth(62)
        for w in (self.play, self.record, self.rec_time, self.clock, self.bar_beat, self.reset, self.panic,
                  self.startup, self.startup_bar):
            lay.addWidget(w)
        lay.addSpacing(12)
        lay.addWidget(cap_label)
        for b in self.capture_buttons:
            lay.addWidget(b)
        lay.addWidget(self.loop)
        lay.addWidget(self.loop_chip)
        lay.addStretch(1)
        for w in (vol_label, self.volume, self.volume_label):
            lay.addWidget(w)
        self.play.clicked.connect(lambda: self.sig_play_toggled.emit())
        self.record.clicked.connect(lambda: self.sig_record_toggled.emit())
        self.reset.clicked.connect(self.sig_reset)
        self.panic.clicked.connect(self.sig_panic)
        self.volume.valueChanged.connect(self._volume_moved)

    def _volume_moved(self, tenths: int) -> None:
        self.volume_label.setText(f"{tenths / 10:+.1f} dB")
        self.sig_volume_changed.emit(tenths / 10.0)

    def show_volume(self, gain_db: float) -> None:
        self.volume.blockSignals(True)
        self.volume.setValue(int(round(gain_db * 10)))
        self.volume.blockSignals(False)
        self.volume_label.setText(f"{gain_db:+.1f} dB")

    def update_status(self, s: StudioStatus) -> None:
        play_on, play_text = ((True, "Starting…") if s.play_pending else
                              (s.playing, "■  Stop" if s.playing else "▶  Play"))
        for button, on, text in ((self.play, play_on, play_text), (self.record, s.recording, "●  Rec")):
            if button.isChecked() != on:
                button.setChecked(on)
            button.setText(text)
        self.show_startup(s.startup)
        self.rec_time.setText(_clock(s.record_elapsed_s) if s.recording else "")
        self.clock.setText(_clock(s.played_s))
        self.bar_beat.setText(f"{s.bar}:{s.beat}" if s.bar else "–:–")
        for b in self.capture_buttons:
            b.setEnabled(s.retro_available_s > 0.0)


    def show_startup(self, stage: str) -> None:
        """The start-up stage; once ready it says so for a moment, then the line goes away."""
        self.startup.setText(stage)
        name = "Heard" if stage and not stage.endswith("…") else "Countdown"
        if self.startup.objectName() != name:
            self.startup.setObjectName(name)
            self.startup.style().unpolish(self.startup)
            self.startup.style().polish(self.startup)
        # nothing has played yet to keep, and the start-up line needs their room: with it beside them the row
        # passed 1,440 px and the window grew for good (1,503 px in the screenshot tour). Hidden first, so the
        # row is never wider than the window, not even between two calls
        for w in (self.capture_label, *self.capture_buttons, self.loop):
            if w.isHidden() != bool(stage):
                w.setVisible(not stage)
        self.startup.setVisible(bool(stage))
        self.startup_bar.setVisible(stage.endswith("…"))


class HeaderBar(QtWidgets.QWidget):
    sig_model_chosen = QtCore.Signal(str)
    """A model spec picked from the list ("" default, "fake", or a folder)."""
    sig_open_model = QtCore.Signal()
    """Browse for a model folder."""
    sig_adapter_changed = QtCore.Signal(str, float)
    """(adapter path or "", strength)."""
    sig_settings = QtCore.Signal()
    """Open the settings dialog."""
    sig_midi_map = QtCore.Signal()
    """Open the MIDI map editor."""

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        lay = QtWidgets.QHBoxLayout(self)
        lay.setContentsMargins(4, 0, 4, 0)
        lay.setSpacing(8)
        logo = QtWidgets.QLabel("LMD <b>STUDIO</b>")
        logo.setObjectName("Logo")
        logo.setStyleSheet("font-size: 15pt; letter-spacing: 2px;")
        model_label = QtWidgets.QLabel("Model")
        model_label.setObjectName("Dim")
        self.model = QtWidgets.QComboBox()
        self.model.setObjectName("model_choice")
        self.model.setMinimumWidth(200)
        self.model.setAccessibleName("Model")
        self.model.setToolTip("The model that writes the music; loading happens in the background while the "
                              "current one keeps playing")
        self.open_model = QtWidgets.QToolButton(text="Open…")
        self.open_model.setToolTip("Load a model from a folder (Ctrl+O)")
        adapter_label = QtWidgets.QLabel("Adapter")
        adapter_label.setObjectName("Dim")
        self.adapter = QtWidgets.QComboBox()
        self.adapter.setObjectName("adapter_choice")
        self.adapter.setMinimumWidth(150)
        self.adapter.setAccessibleName("LoRA adapter")
        self.strength = QtWidgets.QSlider(QtCore.Qt.Orientation.Horizontal)
        self.strength.setObjectName("adapter_strength")
        self.strength.setRange(0, 200)
        self.strength.setValue(100)
        self.strength.setFixedWidth(90)
        self.strength.setAccessibleName("Adapter strength")
        self.strength_label = QtWidgets.QLabel("1.00")
        self.strength_label.setMinimumWidth(34)
        self.bpm = QtWidgets.QLabel("— BPM")
        self.bpm.setToolTip("The studio's tempo and meter (the Tempo knob, tap tempo, MIDI clock in or Link); "
                            "— while the model decides")
        self.notes = QtWidgets.QLabel("")
        self.notes.setObjectName("Dim")
        self.notes.setMinimumWidth(110)
        self.notes.setToolTip("Notes held on a MIDI keyboard: the model follows them")
        self.midi_button = QtWidgets.QToolButton(text="MIDI")
        self.midi_button.setToolTip("MIDI map: learn, edit and remove bindings (Ctrl+M)")
        self.settings_button = QtWidgets.QToolButton(text="Settings")
        self.settings_button.setToolTip("Audio, MIDI, folders, theme (Ctrl+,)")
        lay.addWidget(logo)
        lay.addSpacing(16)
        for w in (model_label, self.model, self.open_model, adapter_label, self.adapter, self.strength,
                  self.strength_label):
            lay.addWidget(w)
        lay.addStretch(1)
        for w in (self.notes, self.bpm, self.midi_button, self.settings_button):
            lay.addWidget(w)
        self._choices: list[ModelChoice] = []
        self.model.activated.connect(self._model_activated)
        self.open_model.clicked.connect(self.sig_open_model)
        self.adapter.activated.connect(lambda _: self._adapter_changed())
        self.strength.sliderReleased.connect(self._adapter_changed)
        self.strength.valueChanged.connect(lambda v: self.strength_label.setText(f"{v / 100:.2f}"))
        self.settings_button.clicked.connect(self.sig_settings)
        self.midi_button.clicked.connect(self.sig_midi_map)

    def show_models(self, choices: list[ModelChoice], current_spec: str) -> None:
        self._choices = list(choices)
        if current_spec not in {c.spec for c in choices}:
            self._choices.insert(1, ModelChoice(Path(current_spec).name, current_spec, current_spec))
        self.model.blockSignals(True)
        self.model.clear()
        for c in self._choices:
            self.model.addItem(c.label)
            self.model.setItemData(self.model.count() - 1, c.detail, QtCore.Qt.ItemDataRole.ToolTipRole)
        self.model.setCurrentIndex(next(i for i, c in enumerate(self._choices) if c.spec == current_spec))
        self.model.blockSignals(False)

    def _model_activated(self, index: int) -> None:
        self.sig_model_chosen.emit(self._choices[index].spec)

    def show_adapters(self, supported: bool, adapters: list[Path], current: str, strength: float) -> None:
        self.adapter.blockSignals(True)
        self.adapter.clear()
        self.adapter.addItem("none", "")
        for p in adapters:
            self.adapter.addItem(p.stem, str(p))
        i = self.adapter.findData(current)
        self.adapter.setCurrentIndex(max(0, i))
        self.adapter.blockSignals(False)
        self.strength.setValue(int(round(strength * 100)))
        for w in (self.adapter, self.strength):
            w.setEnabled(supported)
            w.setToolTip("LoRA adapter (your own sounds) and how strongly it is mixed in" if supported else
                         "This model has no adapter support: train an adapter with `lmd train lora` and load "
                         "a model that can use it")

    def _adapter_changed(self) -> None:
        self.sig_adapter_changed.emit(self.adapter.currentData() or "", self.strength.value() / 100.0)

    def update_status(self, s: StudioStatus) -> None:
        self.bpm.setText(f"{s.bpm:.1f} BPM · {s.beats_per_bar}/4" if s.bpm else "— BPM")
        if s.held_notes:
            names = " ".join(f"{NOTE_NAMES[n % 12]}{n // 12 - 1}" for n, _ in s.held_notes[:6])
            self.notes.setText(f"♪ {names}")
        else:
            self.notes.setText("")
