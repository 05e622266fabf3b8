"""Meters: output level, the audio input's level (with monitoring and its latency calibration), real-time
headroom, generation time per block, underruns, CPU, safe mode, and a clear warning before the buffer runs
dry."""

from __future__ import annotations

from PySide6 import QtCore, QtGui, QtWidgets

from lmd_studio.app.values import InputMeter, JamState, StudioStatus


class BarMeterWidget(QtWidgets.QWidget):
    """A horizontal bar 0..1 with coloured zones, an optional hold line and a caption drawn inside."""

    def __init__(self, zones: tuple[tuple[float, str], ...], segmented: bool = False,
                 parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.zones = zones  # (upper fraction, colour), ascending
        # segmented: each zone keeps its colour as the bar fills (a level meter); else the whole bar takes
        # the colour of the zone its value is in (readings where only "how good is it now" matters)
        self.segmented = segmented
        self.fraction = 0.0
        self.hold = -1.0
        self.caption = ""
        self.background = QtGui.QColor("#14161b")
        self.text_color = QtGui.QColor("#e8eaf0")
        self.setMinimumSize(140, 20)
        self.setSizePolicy(QtWidgets.QSizePolicy.Policy.Expanding, QtWidgets.QSizePolicy.Policy.Fixed)

    def set_reading(self, fraction: float, caption: str, hold: float = -1.0) -> None:
        fraction = min(1.0, max(0.0, fraction))
        if (fraction, caption, hold) != (self.fraction, self.caption, self.hold):
            self.fraction, self.caption, self.hold = fraction, caption, hold
            self.update()

    def paintEvent(self, event: QtGui.QPaintEvent) -> None:  # noqa: N802
        p = QtGui.QPainter(self)
        p.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing)
        r = QtCore.QRectF(self.rect()).adjusted(0.5, 0.5, -0.5, -0.5)
        p.setPen(QtCore.Qt.PenStyle.NoPen)
        p.setBrush(self.background)
        p.drawRoundedRect(r, 4, 4)
        if self.segmented:
            lo = 0.0
            for hi, color in self.zones:
                if self.fraction <= lo:
                    break
                seg = QtCore.QRectF(r.left() + lo * r.width(), r.top(),
                                    (min(hi, self.fraction) - lo) * r.width(), r.height())
                p.setBrush(QtGui.QColor(color))
                p.drawRect(seg)
                lo = hi
        elif self.fraction > 0:
            color = next((c for hi, c in self.zones if self.fraction <= hi), self.zones[-1][1])
            p.setBrush(QtGui.QColor(color))
            p.drawRoundedRect(QtCore.QRectF(r.left(), r.top(), self.fraction * r.width(), r.height()), 4, 4)
        if self.hold >= 0:
            x = r.left() + min(1.0, self.hold) * r.width()
            p.setPen(QtGui.QPen(self.text_color, 2))
            p.drawLine(QtCore.QPointF(x, r.top()), QtCore.QPointF(x, r.bottom()))
        font = p.font()
        font.setBold(True)
        p.setFont(font)
        text_rect = r.adjusted(6, 0, -6, 0)
        split_x = r.left() + self.fraction * r.width()
        # dark text over the coloured bar, light text over the empty track: readable at any level
        for clip, color in ((QtCore.QRectF(r.left(), r.top(), split_x - r.left(), r.height()), self.background),
                            (QtCore.QRectF(split_x, r.top(), r.right() - split_x, r.height()), self.text_color)):
            p.save()
            p.setClipRect(clip)
            p.setPen(color)
            p.drawText(text_rect, QtCore.Qt.AlignmentFlag.AlignVCenter, self.caption)
            p.restore()
        p.end()


def _input_caption(meter: InputMeter) -> str:
    peak = "—" if meter.level_db <= -59.9 else f"{meter.level_db:.0f}"
    rms = "—" if meter.rms_db <= -59.9 else f"{meter.rms_db:.0f}"
    return f"{peak} dB peak · {rms} rms{'  CLIP' if meter.clipped else ''}"


def _db_fraction(db: float, floor_db: float = -60.0) -> float:
    return (max(floor_db, min(0.0, db)) - floor_db) / -floor_db


class MetersPanel(QtWidgets.QFrame):
    sig_safe_mode_changed = QtCore.Signal(bool)
    """The player switched the automatic steps governor on or off."""
    sig_monitoring_changed = QtCore.Signal(bool)
    """The player switched input monitoring (hearing the input through the output) on or off."""
    sig_calibrate = QtCore.Signal()
    """The player asked for the input latency to be measured with a click through a loopback."""
    sig_jam_changed = QtCore.Signal(bool)
    """The player switched jam mode (the model hears the input and plays along) on or off."""
    sig_delay_changed = QtCore.Signal(bool)
    """The player switched generative delay (with Jam on: the input played back re-imagined) on or off."""

    def __init__(self, ok: str, warn: str, danger: str, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("Panel")
        self._colors = (ok, warn, danger)
        lay = QtWidgets.QGridLayout(self)
        lay.setContentsMargins(10, 8, 10, 8)
        lay.setVerticalSpacing(6)
        title = QtWidgets.QLabel("ENGINE")
        title.setObjectName("PanelTitle")
        lay.addWidget(title, 0, 0, 1, 2)
        self.level = BarMeterWidget(((0.75, ok), (0.9, warn), (1.0, danger)), segmented=True)
        self.level.setToolTip("Output level (peak, dBFS) with the held peak; a red CLIP latches at 0 dBFS")
        self.headroom = BarMeterWidget(((0.25, danger), (0.5, warn), (1.0, ok)))
        self.headroom.setToolTip("Real-time headroom: how much audio is generated ahead of the playhead. "
                                 "If it empties, you hear a dropout.")
        self.gen = BarMeterWidget(((0.6, ok), (0.85, warn), (1.0, danger)))
        self.gen.setToolTip("Time to generate one block against the block's own length (ms). Under 100 % "
                            "keeps up with real time; lower is safer.")
        self.cpu = BarMeterWidget(((0.7, ok), (0.9, warn), (1.0, danger)))
        self.cpu.setToolTip("CPU used by LMD Studio, as a share of the whole machine")
        self.input = BarMeterWidget(((0.75, ok), (0.9, warn), (1.0, danger)), segmented=True)
        self.input.setObjectName("input_meter")
        self.input.setToolTip("Audio input level (peak and RMS, dBFS) with the held peak. Switch the input on, "
                              "and pick its device and channels, in Settings › Audio.")
        rows = (("Level", self.level), ("Input", self.input), ("Headroom", self.headroom), ("Generate", self.gen),
                ("CPU", self.cpu))
        for i, (name, w) in enumerate(rows, start=1):
            label = QtWidgets.QLabel(name)
            label.setObjectName("Dim")
            lay.addWidget(label, i, 0)
            lay.addWidget(w, i, 1)
        # the whole panel's width: under the labels' column too, so Jam and Delay (untrained) do not widen it
        lay.addLayout(self._input_row(), 6, 0, 1, 2)
        lay.addWidget(self.input_message, 7, 0, 1, 2)
        self.underruns = QtWidgets.QLabel("Dropouts 0")
        self.underruns.setToolTip("Dropouts: times generation fell behind and the playback buffer ran dry "
                                  "(each one is a gap you hear).\nDevice: buffers the audio device or its "
                                  "driver reported late (a busy machine, too small a buffer size).")
        lay.addWidget(self.underruns, 8, 0, 1, 2)
        self.safe = QtWidgets.QCheckBox("Safe mode")
        self.safe.setToolTip("Lower the sampling steps automatically when generation gets close to real "
                             "time, and give them back when there is room")
        self.safe.toggled.connect(self.sig_safe_mode_changed)
        self.safe_state = QtWidgets.QLabel("")
        self.safe_state.setObjectName("Dim")
        lay.addWidget(self.safe, 9, 0)
        lay.addWidget(self.safe_state, 9, 1)
        self.warning = QtWidgets.QLabel("")
        self.warning.setObjectName("Warning")
        self.warning.setWordWrap(True)
        self.warning.setVisible(False)
        lay.addWidget(self.warning, 10, 0, 1, 2)
        self.device = QtWidgets.QLabel("")
        self.device.setObjectName("Dim")
        self.device.setWordWrap(True)
        lay.addWidget(self.device, 11, 0, 1, 2)
        lay.setRowStretch(12, 1)
        lay.setColumnStretch(1, 1)

    def _input_row(self) -> QtWidgets.QHBoxLayout:
        row = QtWidgets.QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        self.monitor = QtWidgets.QCheckBox("Monitor")
        self.monitor.setObjectName("input_monitor")
        self.monitor.setToolTip("Hear the input through the output (mixed in right at the device; the output "
                                "never clips)")
        self.monitor.toggled.connect(self.sig_monitoring_changed)
        self.calibrate = QtWidgets.QPushButton("Calibrate latency")
        self.calibrate.setObjectName("input_calibrate")
        self.calibrate.setToolTip("Connect the output to the input (a cable, or JACK ports), then press: a click "
                                  "is played and found in the input, so recordings and jamming line up exactly")
        self.calibrate.clicked.connect(self.sig_calibrate)
        self.input_state = QtWidgets.QLabel("")
        self.input_state.setObjectName("Dim")
        self.input_state.setToolTip("The round trip taken out of the input (the device's report plus the "
                                    "calibration), so what you play lines up with what you heard")
        self.jam = QtWidgets.QPushButton("Jam")
        self.jam.setObjectName("input_jam")
        self.jam.setCheckable(True)
        self.jam.setToolTip("Jam: the model hears your audio input and plays along, from the next change on. "
                            "Follow (a knob) sets how much it listens; the prompt still sets the style")
        self.jam.toggled.connect(self.sig_jam_changed)
        self.jam.setVisible(False)
        self.delay = QtWidgets.QPushButton("Delay")
        self.delay.setObjectName("input_delay")
        self.delay.setCheckable(True)
        self.delay.setToolTip("Generative delay (with Jam on): the model plays your input back re-imagined by "
                              "the prompt, a Delay time later, instead of accompanying it. Delay time and "
                              "Dry/Wet are knobs")
        self.delay.toggled.connect(self.sig_delay_changed)
        self.delay.setVisible(False)
        self.input_message = QtWidgets.QLabel("")
        self.input_message.setObjectName("Dim")
        self.input_message.setWordWrap(True)
        self.input_message.setVisible(False)
        row.addWidget(self.jam)
        row.addWidget(self.delay)
        row.addWidget(self.monitor)
        row.addWidget(self.calibrate)
        row.addWidget(self.input_state, 1)
        return row

    def _show_jam(self, jam: JamState | None) -> None:
        self.jam.setVisible(jam is not None)
        self.delay.setVisible(jam is not None)
        if jam is None:
            return
        _show_switch(self.jam, jam.on, "Jam" if jam.jam_trained else "Jam (untrained)")
        _show_switch(self.delay, jam.delay_on, "Delay" if jam.delay_trained else "Delay (untrained)")

    def _show_input(self, meter: InputMeter | None, jam: JamState | None) -> None:
        self._show_jam(jam)
        for w in (self.monitor, self.calibrate):
            w.setVisible(meter is not None)
        message = "" if meter is None or meter.running else meter.message
        if jam is not None and jam.on and jam.note:
            message = f"{message} · {jam.note}" if message else jam.note
        if self.input_message.text() != message:
            self.input_message.setText(message)
            self.input_message.setVisible(bool(message))
        if meter is None:
            self.input.set_reading(0.0, "off")
            self.input_state.setText("")
            return
        if meter.running:  # its level bar: show_levels, on every frame
            lost = f" · {meter.overruns} lost" if meter.overruns else ""
            self.input_state.setText(f"{meter.roundtrip_ms:.1f} ms{lost}")
        else:
            self.input.set_reading(0.0, "no input")
            self.input_state.setText("")
        self.calibrate.setEnabled(meter.running)
        if self.monitor.isChecked() != meter.monitoring:
            self.monitor.blockSignals(True)
            self.monitor.setChecked(meter.monitoring)
            self.monitor.blockSignals(False)

    def show_levels(self, s: StudioStatus) -> None:
        """The output and input level bars: called on every frame (the rest of the panel refreshes slower)."""
        clip = "  CLIP" if s.clipped else ""
        level_text = "—" if s.level_db <= -59.9 else f"{s.level_db:.0f} dB"
        self.level.set_reading(_db_fraction(s.level_db), level_text + clip, hold=_db_fraction(s.hold_db))
        meter = s.input
        if meter is not None and meter.running:  # an input that is off or lost: _show_input says so
            self.input.set_reading(_db_fraction(meter.level_db), _input_caption(meter), hold=_db_fraction(meter.hold_db))

    def update_status(self, s: StudioStatus) -> None:
        self.show_levels(s)
        target = max(0.1, s.ahead_target_s)
        self.headroom.set_reading(s.headroom_s / target, f"{s.headroom_s:.2f} s ahead")
        if s.block_s > 0 and s.block_ms > 0:
            self.gen.set_reading(s.rtf, f"{s.block_ms:.0f} / {s.block_s * 1000:.0f} ms ({s.rtf:.0%})")
        else:
            self.gen.set_reading(0.0, "idle")
        self.cpu.set_reading(s.cpu_percent / 100.0, f"{s.cpu_percent:.0f} %")
        self._show_input(s.input, s.jam)
        danger = self._colors[2]
        self.underruns.setText(f"Dropouts {s.underruns} · device {s.device_underflows}")
        style = f"color: {danger}; font-weight: bold;" if s.underruns else ""
        if self.underruns.styleSheet() != style:  # setting a style sheet re-polishes, even the same one
            self.underruns.setStyleSheet(style)
        if self.safe.isChecked() != s.safe_mode:
            self.safe.blockSignals(True)
            self.safe.setChecked(s.safe_mode)
            self.safe.blockSignals(False)
        self.safe_state.setText(f"steps lowered to {s.steps_override}" if s.steps_override else
                                ("watching" if s.safe_mode else "off"))
        warning = s.warning
        if s.engine_error and not warning:
            warning = f"model error: {s.engine_error}"
        self.warning.setVisible(bool(warning))
        if warning:
            self.warning.setText(f"⚠ {warning[:1].upper()}{warning[1:]}")
        device = (f"{s.audio_device} · {s.sample_rate_hz / 1000:g} kHz · {s.buffer_frames} frames"
                  if not s.model_loading else "the audio device opens when the model is ready")
        self.device.setText(device + (f"\n{s.audio_message}" if s.audio_message else ""))


def _show_switch(button: QtWidgets.QPushButton, on: bool, label: str) -> None:
    """A checkable button showing `on` without reporting it back, labelled `label`."""
    if button.isChecked() != on:
        button.blockSignals(True)
        button.setChecked(on)
        button.blockSignals(False)
    if button.text() != label:
        button.setText(label)
