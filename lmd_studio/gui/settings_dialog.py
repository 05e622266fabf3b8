"""The settings dialog: audio device, buffer size, sample rate, the audio input (device, channels,
monitoring, latency correction), MIDI inputs, torch threads, recordings folder and format, theme, where
changes land on the beat grid. It edits a `StudioSettings` value; the Session applies and stores it."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from PySide6 import QtCore, QtWidgets

from lmd_studio.settings.schema import (
    BUFFER_FRAMES_CHOICES,
    MIDI_BACKEND_CHOICES,
    RECORD_FORMATS,
    SAMPLE_RATE_CHOICES_HZ,
    THEMES,
    AudioSettings,
    MidiSettings,
    StudioSettings,
)


class SettingsDialog(QtWidgets.QDialog):
    def __init__(self, settings: StudioSettings, audio_devices: list[str], midi_inputs: list[str],
                 default_recordings: Path, midi_available: bool = True, input_devices: list[str] | None = None,
                 parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("LMD Studio — Settings")
        self.setObjectName("SettingsDialog")
        self.setMinimumWidth(560)
        self._settings = settings
        self._default_recordings = default_recordings
        self.tabs = tabs = QtWidgets.QTabWidget()
        tabs.addTab(self._audio_tab(settings.audio, audio_devices, input_devices or []), "Audio")
        tabs.addTab(self._midi_tab(settings.midi, midi_inputs, midi_available), "MIDI")
        tabs.addTab(self._general_tab(settings), "General")
        buttons = QtWidgets.QDialogButtonBox(QtWidgets.QDialogButtonBox.StandardButton.Ok
                                             | QtWidgets.QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        lay = QtWidgets.QVBoxLayout(self)
        lay.addWidget(tabs)
        note = QtWidgets.QLabel("Audio changes restart the audio engine (a short gap); the music carries on.")
        note.setObjectName("Dim")
        note.setWordWrap(True)
        lay.addWidget(note)
        lay.addWidget(buttons)

    # --- tabs ------------------------------------------------------------------------------------------
    def _audio_tab(self, audio: AudioSettings, devices: list[str], inputs: list[str]) -> QtWidgets.QWidget:
        w = QtWidgets.QWidget()
        outer = QtWidgets.QVBoxLayout(w)
        form = QtWidgets.QFormLayout()
        outer.addLayout(form)
        outer.addWidget(self._input_group(audio, inputs))
        outer.addStretch(1)
        self.backend = QtWidgets.QComboBox()
        self.backend.setObjectName("audio_backend")
        self.backend.addItem("Sound device", "auto")
        self.backend.addItem("Silent (no output; recording still works)", "null")
        self.backend.setCurrentIndex(max(0, self.backend.findData(audio.backend)))
        self.device = QtWidgets.QComboBox()
        self.device.setObjectName("audio_device")
        self.device.setEditable(True)
        self.device.addItem("System default", "")
        for name in devices:
            self.device.addItem(name, name)
        if audio.device and self.device.findData(audio.device) < 0:
            self.device.addItem(audio.device, audio.device)
        self.device.setCurrentIndex(max(0, self.device.findData(audio.device)))
        self.rate = QtWidgets.QComboBox()
        self.rate.setObjectName("sample_rate")
        for hz in SAMPLE_RATE_CHOICES_HZ:
            self.rate.addItem("Device default" if hz == 0 else f"{hz} Hz", hz)
        self.rate.setCurrentIndex(max(0, self.rate.findData(audio.sample_rate_hz)))
        self.buffer = QtWidgets.QComboBox()
        self.buffer.setObjectName("buffer_frames")
        for frames in BUFFER_FRAMES_CHOICES:
            self.buffer.addItem(f"{frames} frames", frames)
        self.buffer.setCurrentIndex(max(0, self.buffer.findData(audio.buffer_frames)))
        self.buffer.setToolTip("Smaller is snappier; larger survives a busy machine better")
        form.addRow("Output", self.backend)
        form.addRow("Device", self.device)
        form.addRow("Sample rate", self.rate)
        form.addRow("Buffer size", self.buffer)
        return w

    def _input_group(self, audio: AudioSettings, devices: list[str]) -> QtWidgets.QGroupBox:
        box = QtWidgets.QGroupBox("Input")
        box.setObjectName("audio_input")
        form = QtWidgets.QFormLayout(box)
        self.input_enabled = QtWidgets.QCheckBox("Use the audio input (an instrument, a drum machine, a microphone)")
        self.input_enabled.setObjectName("input_enabled")
        self.input_enabled.setChecked(audio.input_enabled)
        self.input_device = QtWidgets.QComboBox()
        self.input_device.setObjectName("input_device")
        self.input_device.setEditable(True)
        self.input_device.addItem("Same as the output (or the system default input)", "")
        for name in devices:
            self.input_device.addItem(name, name)
        if audio.input_device and self.input_device.findData(audio.input_device) < 0:
            self.input_device.addItem(audio.input_device, audio.input_device)
        self.input_device.setCurrentIndex(max(0, self.input_device.findData(audio.input_device)))
        self.input_channels = QtWidgets.QComboBox()
        self.input_channels.setObjectName("input_channels")
        # the channel choice travels as text ("1,2"): Qt turns a Python tuple into a list, which findData misses
        for first in range(1, 9):
            self.input_channels.addItem(f"{first} (mono)", str(first))
        for first in range(1, 9, 2):
            self.input_channels.addItem(f"{first} + {first + 1} (stereo)", f"{first},{first + 1}")
        current = ",".join(str(c) for c in audio.input_channels)
        chosen = self.input_channels.findData(current)
        if chosen < 0:
            self.input_channels.addItem(" + ".join(str(c) for c in audio.input_channels), current)
            chosen = self.input_channels.count() - 1
        self.input_channels.setCurrentIndex(chosen)
        self.input_monitoring = QtWidgets.QCheckBox("Monitor: hear the input through the output")
        self.input_monitoring.setObjectName("input_monitoring")
        self.input_monitoring.setChecked(audio.input_monitoring)
        self.input_correction = QtWidgets.QSpinBox()
        self.input_correction.setObjectName("input_latency_correction")
        self.input_correction.setRange(-192000, 192000)
        self.input_correction.setSuffix(" frames")
        self.input_correction.setValue(audio.input_latency_correction_frames)
        self.input_correction.setToolTip("Added to the round trip the device reports. \"Calibrate latency\" next "
                                         "to the input meter measures it with the output looped back to the input.")
        form.addRow(self.input_enabled)
        form.addRow("Device", self.input_device)
        form.addRow("Channels", self.input_channels)
        form.addRow(self.input_monitoring)
        form.addRow("Latency correction", self.input_correction)
        for w in (self.input_device, self.input_channels, self.input_monitoring, self.input_correction):
            w.setEnabled(audio.input_enabled)
            self.input_enabled.toggled.connect(w.setEnabled)
        return box

    def _midi_tab(self, midi: MidiSettings, inputs: list[str], available: bool) -> QtWidgets.QWidget:
        w = QtWidgets.QWidget()
        form = QtWidgets.QFormLayout(w)
        self.midi_enabled = QtWidgets.QCheckBox("Use MIDI")
        self.midi_enabled.setChecked(midi.enabled)
        self.midi_inputs = QtWidgets.QListWidget()
        self.midi_inputs.setObjectName("midi_inputs")
        self.midi_inputs.setMaximumHeight(120)
        for name in sorted(set(inputs) | set(midi.inputs)):
            item = QtWidgets.QListWidgetItem(name if name in inputs else f"{name} (not connected)")
            item.setData(QtCore.Qt.ItemDataRole.UserRole, name)
            item.setFlags(item.flags() | QtCore.Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(QtCore.Qt.CheckState.Checked if name in midi.inputs else QtCore.Qt.CheckState.Unchecked)
            self.midi_inputs.addItem(item)
        if not inputs and not midi.inputs:
            self.midi_inputs.addItem("no MIDI inputs found" if available else "MIDI is not available")
        self.follow_clock = QtWidgets.QCheckBox("Follow MIDI clock (tempo)")
        self.follow_clock.setChecked(midi.follow_clock)
        self.midi_transport = QtWidgets.QCheckBox("MIDI start/stop drive play/stop")
        self.midi_transport.setChecked(midi.transport_from_midi)
        self.clock_out = QtWidgets.QCheckBox("Send MIDI clock (output port “LMD Studio Clock”)")
        self.clock_out.setChecked(midi.clock_out)
        self.clock_out.setToolTip("Tempo, start/stop/continue and song position, so a drum machine or another "
                                  "app follows the studio.")
        self.link = QtWidgets.QCheckBox("Ableton Link (tempo and beat with apps on this network)")
        self.link.setChecked(midi.link)
        self.link.setToolTip("Joins a Link session on the local network: the studio follows a peer's tempo "
                             "changes and publishes its own. Off by default because it talks on the network.")
        self.midi_backend = QtWidgets.QComboBox()  # the usual choices; any mido backend may be typed
        self.midi_backend.setObjectName("midi_backend")
        self.midi_backend.setEditable(True)
        for value, label in MIDI_BACKEND_CHOICES:
            self.midi_backend.addItem(label, value)
        index = self.midi_backend.findData(midi.backend)
        if index >= 0:
            self.midi_backend.setCurrentIndex(index)
        else:
            self.midi_backend.setEditText(midi.backend)
        self.midi_backend.setToolTip("Applied at once. Automatic uses JACK MIDI when the audio runs through JACK, "
                                     "else the system's MIDI (ALSA on Linux).")
        form.addRow(self.midi_enabled)
        form.addRow("Inputs", self.midi_inputs)
        form.addRow(self.follow_clock)
        form.addRow(self.midi_transport)
        form.addRow(self.clock_out)
        form.addRow(self.link)
        form.addRow("Backend", self.midi_backend)
        return w

    def _general_tab(self, s: StudioSettings) -> QtWidgets.QWidget:
        w = QtWidgets.QWidget()
        form = QtWidgets.QFormLayout(w)
        self.threads = QtWidgets.QSpinBox()
        self.threads.setObjectName("torch_threads")
        self.threads.setRange(1, 64)
        self.threads.setValue(s.torch_threads)
        self.threads.setToolTip("CPU threads the model may use (taken at the next model load); 1 is fastest for the small default model")
        folder_row = QtWidgets.QHBoxLayout()
        self.folder = QtWidgets.QLineEdit(s.recordings_dir)
        self.folder.setObjectName("recordings_dir")
        self.folder.setPlaceholderText(str(self._default_recordings))
        browse = QtWidgets.QPushButton("Choose…")
        browse.clicked.connect(self._browse)
        folder_row.addWidget(self.folder, 1)
        folder_row.addWidget(browse)
        self.format = QtWidgets.QComboBox()
        self.format.setObjectName("record_format")
        for fmt in RECORD_FORMATS:
            self.format.addItem({"wav": "WAV, 24-bit (crash-safe)", "flac": "FLAC, 24-bit"}[fmt], fmt)
        self.format.setCurrentIndex(max(0, self.format.findData(s.record_format)))
        self.theme = QtWidgets.QComboBox()
        self.theme.setObjectName("theme")
        for name in THEMES:
            self.theme.addItem({"dark": "Dark", "stage": "Stage (black, large type)"}[name], name)
        self.theme.setCurrentIndex(max(0, self.theme.findData(s.theme)))
        self.safe_mode = QtWidgets.QCheckBox("Safe mode: lower steps automatically to stay real time")
        self.safe_mode.setChecked(s.safe_mode)
        self.quantise = QtWidgets.QComboBox()
        self.quantise.setObjectName("settings_quantise")
        for grid, label in (("off", "At once"), ("beat", "On the next beat"), ("bar", "On the next bar")):
            self.quantise.addItem(label, grid)
        self.quantise.setCurrentIndex(max(0, self.quantise.findData(s.quantise)))
        self.quantise.setToolTip("With a tempo set (the Tempo knob, tap tempo, MIDI clock or Link), where a "
                                 "change to the knobs, the prompt mix or a scene recall is heard from. Hold "
                                 "Shift while changing something to have it land at once.")
        form.addRow("Torch threads", self.threads)
        form.addRow("Recordings", folder_row)
        form.addRow("Format", self.format)
        form.addRow("Theme", self.theme)
        form.addRow("Quantise changes", self.quantise)
        self.rewind_memory = QtWidgets.QSpinBox()
        self.rewind_memory.setObjectName("settings_rewind_memory")
        self.rewind_memory.setRange(16, 4096)
        self.rewind_memory.setSingleStep(16)
        self.rewind_memory.setSuffix(" MB")
        self.rewind_memory.setValue(s.rewind_memory_mb)
        self.rewind_memory.setToolTip("Memory for rewinding (right-click the timeline: play from here again): "
                                      "more reaches further back — about 1.8 min of the shipped model per 128 MB")
        form.addRow("Rewind memory", self.rewind_memory)
        form.addRow(self.safe_mode)
        return w

    def _browse(self) -> None:
        folder = QtWidgets.QFileDialog.getExistingDirectory(self, "Recordings folder",
                                                            self.folder.text() or str(self._default_recordings))
        if folder:
            self.folder.setText(folder)

    def show_tab(self, label: str) -> None:
        """Open on the tab with this label ("MIDI", …); an unknown label leaves the first one."""
        for i in range(self.tabs.count()):
            if self.tabs.tabText(i) == label:
                self.tabs.setCurrentIndex(i)

    # --- result -----------------------------------------------------------------------------------------
    def result_settings(self) -> StudioSettings:
        text = self.device.currentText().strip()
        index = self.device.findText(text)
        device = self.device.itemData(index) if index >= 0 else text  # typed names are kept as typed
        inputs = []
        for i in range(self.midi_inputs.count()):
            item = self.midi_inputs.item(i)
            name = item.data(QtCore.Qt.ItemDataRole.UserRole)
            if name and item.checkState() == QtCore.Qt.CheckState.Checked:
                inputs.append(name)
        s = self._settings
        return dataclasses.replace(
            s,
            audio=AudioSettings(backend=self.backend.currentData(), device=device or "",
                                sample_rate_hz=self.rate.currentData(), buffer_frames=self.buffer.currentData(),
                                **self._input_values()),
            midi=dataclasses.replace(s.midi, enabled=self.midi_enabled.isChecked(), inputs=tuple(inputs),
                                     follow_clock=self.follow_clock.isChecked(),
                                     transport_from_midi=self.midi_transport.isChecked(),
                                     clock_out=self.clock_out.isChecked(), link=self.link.isChecked(),
                                     backend=self._midi_backend_value()),
            torch_threads=self.threads.value(), recordings_dir=self.folder.text().strip(),
            record_format=self.format.currentData(), theme=self.theme.currentData(),
            safe_mode=self.safe_mode.isChecked(), quantise=self.quantise.currentData(),
            rewind_memory_mb=self.rewind_memory.value())

    def _input_values(self) -> dict[str, Any]:
        text = self.input_device.currentText().strip()
        index = self.input_device.findText(text)
        device = self.input_device.itemData(index) if index >= 0 else text  # typed names are kept as typed
        return {"input_enabled": self.input_enabled.isChecked(), "input_device": device or "",
                "input_channels": tuple(int(c) for c in self.input_channels.currentData().split(",")),
                "input_monitoring": self.input_monitoring.isChecked(),
                "input_latency_correction_frames": self.input_correction.value()}

    def _midi_backend_value(self) -> str:
        text = self.midi_backend.currentText().strip()
        index = self.midi_backend.findText(text)
        return self.midi_backend.itemData(index) if index >= 0 else text  # a typed backend is kept as typed
