"""The main window: composes the panels, routes their signals to the Session's sub-APIs (`session.transport`,
`.prompts`, `.scenes`, … see app/session_api.py), and refreshes everything from one timer (`session.tick()` →
a StudioStatus value → each panel's `update_status`)."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import PySide6
from PySide6 import QtCore, QtGui, QtWidgets

from lmd_studio.app.session_api import StudioApi
from lmd_studio.app.values import Notice, StudioStatus
from lmd_studio.gui.app_icon import application_icon
from lmd_studio.gui.controls import PerformancePanel
from lmd_studio.gui.meters import MetersPanel
from lmd_studio.gui.notices import TIP, NoticeBar
from lmd_studio.gui.prompts import PromptMixerPanel
from lmd_studio.gui.scenes import VISIBLE_SCENES, ScenePanel
from lmd_studio.gui.settings_dialog import SettingsDialog
from lmd_studio.gui.shortcuts import SHORTCUTS, shortcuts_html
from lmd_studio.gui.theme import Colors, apply_theme
from lmd_studio.gui.timeline import TimelineWidget
from lmd_studio.gui.transport import LOOP_BARS, HeaderBar, TransportBar

TICK_MS = 33  # ≈30 frames per second for the timeline and the level meters
# Stopped with nothing moving (no input meter, no job, the level bars settled) the window ticks 10 times a
# second: it still answers MIDI and shows a change within 0.1 s, at a third of the cost (keys and mouse are
# Qt events, handled at once whatever the tick).
IDLE_TICK_MS = 100
# Numbers and text are read, not watched move: readings alone refresh the panels at most 15 times a second
# (each changed label repaints, and relays out its panel). Any other change shows at the next frame.
READOUT_PERIOD_S = 1.0 / 15.0
_READINGS = ("record_elapsed_s", "level_db", "hold_db", "clipped", "headroom_s", "rtf", "block_ms", "cpu_percent",
             "pending_change_s", "next_boundary_s", "context_s", "played_s", "retro_available_s", "countdowns",
             "prompt_shares", "input", "jobs")
WELCOME_TEXT = ("Welcome to LMD Studio! Press Space to play. Type what you want to hear in a prompt box "
                "(bottom left) and the music follows; turn the knobs as it plays. Press R to record a take, "
                "C to keep the last 30 s. F1 lists every key.")
REPORT_COPIED_TEXT = ("Copied a system summary to the clipboard (version, model, CPU, audio device, your "
                      "folders): paste it into your problem report")


class StudioWindow(QtWidgets.QMainWindow):
    def __init__(self, session: StudioApi, colors: Colors, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.c = colors
        self.setWindowTitle("LMD Studio")
        self.setObjectName("StudioWindow")
        self.setWindowIcon(application_icon())
        self._shown_entries = None
        self._shown_model = None
        self._shown_learning = ""
        self._shown_adapter = ("", False)  # (adapter the list shows, an adapter job was running)
        self._last_status = StudioStatus()
        self._panels_status = StudioStatus()  # the status the panels show
        self._panels_at_s = -1.0  # time.monotonic() of their last refresh
        self._force_update = True  # the next tick updates every panel, changed or not
        self._build()
        self._connect()
        self._install_shortcuts()
        self._model_changed()
        self.transport.show_volume(session.transport.volume_db)
        self.timer = QtCore.QTimer(self)
        self.timer.setInterval(TICK_MS)
        self.timer.timeout.connect(self.tick)

    # ================================================================ layout
    def _build(self) -> None:
        s = self.session
        self.header = HeaderBar()
        self.transport = TransportBar()
        self.notice_bar = NoticeBar(self.c)
        self.notice_bar.sig_action.connect(self._notice_action)
        self.timeline = TimelineWidget(self.c, span_s=s.settings.timeline_span_s, spectrogram=s.settings.spectrogram)
        self.prompts = PromptMixerPanel(s.prompts.slot_count)
        self.scenes = ScenePanel()
        self.prompts.layout().addWidget(self.scenes)
        self.prompts.layout().addStretch(1)
        self.performance = PerformancePanel()
        self.meters = MetersPanel(self.c.ok, self.c.warn, self.c.danger)
        bottom = QtWidgets.QHBoxLayout()
        bottom.setSpacing(8)
        bottom.addWidget(self.prompts, 5)
        bottom.addWidget(self.performance, 5)
        bottom.addWidget(self.meters, 3)
        central = QtWidgets.QWidget()
        lay = QtWidgets.QVBoxLayout(central)
        lay.setContentsMargins(10, 8, 10, 6)
        lay.setSpacing(8)
        lay.addWidget(self.header)
        lay.addWidget(self.transport)
        lay.addWidget(self.notice_bar)
        lay.addWidget(self.timeline, 1)
        lay.addLayout(bottom)
        self.setCentralWidget(central)
        self.job_label = QtWidgets.QLabel("")
        self.job_progress = QtWidgets.QProgressBar()
        self.job_progress.setFixedWidth(180)
        self.job_progress.setVisible(False)
        self.key_hint = QtWidgets.QLabel("Space play/stop · R record · C keep the last 30 s · Esc panic · "
                                         "1–8 scenes · F1 all shortcuts")
        self.key_hint.setObjectName("Dim")
        self.statusBar().addWidget(self.key_hint)
        self.statusBar().addPermanentWidget(self.job_label)
        self.statusBar().addPermanentWidget(self.job_progress)
        self.prompts.set_suggestions(s.prompts.suggestions())
        self.scenes.show_scenes(s.scenes.slots())

    def _connect(self) -> None:
        s = self.session
        t = self.transport
        t.sig_play_toggled.connect(s.transport.toggle_play)
        t.sig_record_toggled.connect(s.recording.toggle_take)
        t.sig_capture.connect(s.recording.capture_last)
        t.sig_loop.connect(s.timeline.capture_loop)
        t.sig_reset.connect(s.transport.reset)
        t.sig_panic.connect(s.transport.panic)
        t.sig_volume_changed.connect(s.transport.set_volume_db)
        h = self.header
        h.sig_model_chosen.connect(self.load_model)
        h.sig_open_model.connect(self.open_model_folder)
        h.sig_adapter_changed.connect(s.model.set_adapter)
        h.sig_settings.connect(self.open_settings)
        h.sig_midi_map.connect(self.open_midi_map)
        now = self._now_if_shift  # with a tempo set, a change made with Shift held lands at once
        p = self.prompts
        p.sig_text_changed.connect(now(self._prompt_text))
        p.sig_weight_changed.connect(now(s.prompts.set_weight))
        p.sig_enabled_changed.connect(now(s.prompts.set_enabled))
        p.sig_morph_changed.connect(s.prompts.set_morph_s)
        p.sig_learn_requested.connect(self.midi_learn)
        self.scenes.sig_recall.connect(now(s.scenes.recall))
        self.scenes.sig_save.connect(self._save_scene)
        self.scenes.sig_clear.connect(self._clear_scene)
        perf = self.performance
        perf.sig_value_changed.connect(now(s.performance.set_value))
        perf.sig_auto_changed.connect(now(s.performance.set_auto))
        perf.sig_quantise_changed.connect(s.transport.set_quantise)
        perf.sig_learn_requested.connect(self.midi_learn)
        perf.sig_reroll.connect(s.performance.reroll)
        self.meters.sig_safe_mode_changed.connect(s.transport.set_safe_mode)
        self.meters.sig_monitoring_changed.connect(s.input.set_monitoring)
        self.meters.sig_calibrate.connect(s.input.calibrate)
        self.meters.sig_jam_changed.connect(s.input.set_jam)
        self.meters.sig_delay_changed.connect(s.input.set_delay)
        tl = self.timeline
        tl.sig_save_selection.connect(s.timeline.save_selection)
        tl.sig_play_from.connect(s.branches.play_from)
        tl.sig_switch_branch.connect(s.branches.switch)
        tl.sig_span_changed.connect(self._span_changed)
        tl.sig_spectrogram_toggled.connect(self._spectrogram_toggled)

    def _now_if_shift(self, op: Callable[..., Any]) -> Callable[..., None]:
        """`op`, then — when Shift is held — land what it changed at once instead of on the beat grid."""
        def run(*args: Any) -> None:
            op(*args)
            if QtWidgets.QApplication.keyboardModifiers() & QtCore.Qt.KeyboardModifier.ShiftModifier:
                self.session.transport.land_now()
        return run

    def _install_shortcuts(self) -> None:
        s = self.session
        rec = s.recording
        handlers = {
            "play": s.transport.toggle_play, "record": rec.toggle_take, "capture_30": lambda: rec.capture_last(30.0),
            "capture_60": lambda: rec.capture_last(60.0), "capture_300": lambda: rec.capture_last(300.0),
            "reset": s.transport.reset, "panic": self._escape, "reroll": s.performance.reroll,
            "zoom_in": lambda: self.timeline.zoom(0.8),
            "zoom_out": lambda: self.timeline.zoom(1.25),
            "spectrogram": lambda: self.timeline.set_spectrogram(not self.timeline.spectrogram),
            "save_selection": self.timeline.save_selection, "settings": self.open_settings,
            # (QAction.triggered passes `checked` first: n must not take it)
            **{f"loop_{n}": (lambda _checked=False, n=n: s.timeline.capture_loop(n)) for n in LOOP_BARS},
            "open_model": self.open_model_folder, "render": self.render_dialog, "midi_map": self.open_midi_map,
            "focus_prompt": lambda: self.prompts.slots[0].text.setFocus(), "help": self.show_shortcuts,
            "quit": self.close,
        }
        for i in range(VISIBLE_SCENES):
            handlers[f"scene_{i}"] = lambda i=i: s.scenes.recall(i)
            handlers[f"save_scene_{i}"] = lambda i=i: self._save_scene(i, None)
        self.actions_by_name: dict[str, QtGui.QAction] = {}
        for name, keys, text in SHORTCUTS:
            action = QtGui.QAction(text, self)
            action.setShortcuts([QtGui.QKeySequence(k) for k in keys])
            action.setShortcutContext(QtCore.Qt.ShortcutContext.WindowShortcut)
            action.triggered.connect(handlers[name])
            self.addAction(action)
            self.actions_by_name[name] = action
        menu = self.menuBar()
        groups = (("&File", ("open_model", "render", "settings", "quit")),
                  ("&Transport", ("play", "record", "reset", "panic", "reroll")),
                  ("&Capture", ("capture_30", "capture_60", "capture_300", "save_selection")
                   + tuple(f"loop_{n}" for n in LOOP_BARS)),
                  ("&Scenes", tuple(f"scene_{i}" for i in range(VISIBLE_SCENES))
                   + tuple(f"save_scene_{i}" for i in range(VISIBLE_SCENES))),
                  ("&View", ("zoom_in", "zoom_out", "spectrogram", "focus_prompt")),
                  ("&MIDI", ("midi_map",)), ("&Help", ("help",)))
        menus: dict[str, QtWidgets.QMenu] = {}
        for title, names in groups:
            menus[title] = m = menu.addMenu(title)
            for name in names:
                m.addAction(self.actions_by_name[name])
        help_menu = menus["&Help"]
        help_menu.addSeparator()
        for name, text, handler, role in (
                ("report_problem", "Report a problem…", self.report_problem, QtGui.QAction.MenuRole.NoRole),
                ("about", "About LMD Studio", self.show_about, QtGui.QAction.MenuRole.AboutRole)):
            action = QtGui.QAction(text, self)
            action.setMenuRole(role)
            action.triggered.connect(handler)
            help_menu.addAction(action)
            self.actions_by_name[name] = action

    # ================================================================ timer
    @property
    def last_status(self) -> StudioStatus:
        """The status the last tick drew (read-only; for tests, benchmarks and the screenshot tour)."""
        return self._last_status

    def start(self) -> None:
        self.timer.start()
        self.tick()
        if self.session.first_run:  # after the first tick's notices: a tip waits behind any of them
            self.show_notice(Notice(TIP, WELCOME_TEXT))
        self.transport.play.setFocus()

    def tick(self) -> None:
        s = self.session
        status = s.tick()
        # Stopped, the status rarely changes: then the panels are left alone (no text set, no restyle, no
        # repaint) and a tick costs next to nothing.
        forced = self._force_update
        unchanged = status == self._last_status and not forced
        knobs_moved = status.controls_version != self._last_status.controls_version or forced
        self._last_status = status
        self._force_update = False
        if s.model.spec != self._shown_model:
            self._model_changed()
        self.transport.loop_chip.show_loop(s.recording.last_loop)
        if not unchanged:
            self.meters.show_levels(status)  # every frame: the level bars move with the music
        # (a reading held back is shown by a later tick even if nothing changes after it)
        if forced or (status != self._panels_status and self._panels_due(status)):
            self._panels_status, self._panels_at_s = status, time.monotonic()
            self.header.update_status(status)
            self.transport.update_status(status)
            self.performance.update_status(status)
            self.prompts.update_status(status)
            self.meters.update_status(status)
            self._show_jobs(status)
            self._show_learning(status.midi_learning)
            self._sync_adapter(status)
        if knobs_moved:
            knobs = s.performance
            self.performance.show_values({n: knobs.value(n) for n in self.performance.widgets},
                                         {n for n in self.performance.widgets if knobs.is_auto(n)})
        entries = s.prompts.entries()
        if entries != self._shown_entries:
            self._shown_entries = entries
            self.prompts.show_entries(entries, s.prompts.morph_s)
        volume_db = s.transport.volume_db
        if not self.transport.volume.isSliderDown() and abs(self.transport.volume.value() / 10 - volume_db) > 0.05:
            self.transport.show_volume(volume_db)
        self._refresh_timeline(status)
        for notice in s.take_notices():
            self.show_notice(notice)
        self._pace(status)

    def _pace(self, status: StudioStatus) -> None:
        """30 frames a second while anything moves; IDLE_TICK_MS while the studio rests."""
        resting = (not status.playing and not status.recording and not status.play_pending
                   and not status.model_loading and not status.morphing and not status.jobs
                   and status.input is None and not status.midi_learning and status.hold_db <= -59.0)
        interval = IDLE_TICK_MS if resting else TICK_MS
        if self.timer.interval() != interval:
            self.timer.setInterval(interval)

    def _panels_due(self, status: StudioStatus) -> bool:
        """Refresh the panels now? Yes when anything but a reading changed, else at most READOUT_PERIOD_S."""
        if time.monotonic() - self._panels_at_s >= READOUT_PERIOD_S:
            return True
        shown = self._panels_status
        return dataclasses.replace(status, **{f: getattr(shown, f) for f in _READINGS}) != shown

    def _show_learning(self, target: str) -> None:
        if target == self._shown_learning:
            return
        self._shown_learning = target
        for name, w in self.performance.widgets.items():
            w.set_learning(name == target)
        if target:
            label = next((w.spec.label for n, w in self.performance.widgets.items() if n == target), target)
            self.notice_bar.show_prompt(Notice("warning", f"MIDI learn: move a knob, fader or key for {label} "
                                                          f"(Esc cancels)"))
        else:
            self.notice_bar.clear_prompt()

    def _refresh_timeline(self, status: StudioStatus) -> None:
        tl = self.timeline
        frame = self.session.timeline.frame(tl.span_s, tl.columns(), tl.spectrogram)
        if status.play_pending:
            hint = "Starting as soon as the model is ready…"
        elif status.model_loading and not status.playing:
            hint = "Loading the model… press Space: the music starts when it is ready"
        else:
            hint = ("Press Space to play" if not status.playing and status.played_s == 0 else
                    ("stopped — Space plays on" if not status.playing else ""))
        tl.set_hint(hint)
        if status.model_loading:
            tl.info_text("")
        elif status.playing or status.primed:
            tl.info_text(f"context {status.context_s:.1f} s · {status.headroom_s:.1f} s generated ahead"
                         + (f" · next block in {status.next_boundary_s:.1f} s" if status.playing else ""))
        tl.refresh(frame)
        tl.show_branches(self.session.branches.branches, self.session.branches.current)

    def _sync_adapter(self, status: StudioStatus) -> None:
        """The adapter list shows the adapter the model really has: a remembered one that did not load
        goes back to "none", a pick that failed to load goes back to the previous one."""
        busy = any(j.name == "load adapter" and not j.done for j in status.jobs)
        shown, was_busy = self._shown_adapter
        self._shown_adapter = (shown, busy)
        if busy or (status.adapter == shown and not was_busy):
            return
        s = self.session
        self.header.show_adapters(s.model.adapter_supported, s.model.adapter_choices(), status.adapter,
                                  s.settings.adapter_strength)
        self._shown_adapter = (status.adapter, False)

    def _show_jobs(self, status: StudioStatus) -> None:
        running = [j for j in status.jobs if not j.done]
        self.job_progress.setVisible(bool(running))
        if running:
            j = running[0]
            self.job_label.setText(f"{j.name}: {j.stage}")
            if j.fraction < 0:
                self.job_progress.setRange(0, 0)
            else:
                self.job_progress.setRange(0, 100)
                self.job_progress.setValue(int(j.fraction * 100))
        else:
            self.job_label.setText("")
        self.header.model.setEnabled(not any(j.name == "load model" for j in running))

    def show_notice(self, notice: Notice) -> None:
        if self._shown_learning and notice.level == "info":
            self.statusBar().showMessage(notice.text, 6000)  # keep the learn prompt in view
        else:
            self.notice_bar.show_notice(notice)

    # ================================================================ actions
    def _model_changed(self) -> None:
        s = self.session
        model = s.model
        self._shown_model = model.spec
        self._force_update = True  # new knobs: the next tick fills them in
        self.header.show_models(model.choices(), model.spec)
        self.header.show_adapters(model.adapter_supported, model.adapter_choices(), s.settings.adapter,
                                  s.settings.adapter_strength)
        self._shown_adapter = (s.settings.adapter, False)
        knobs = s.performance
        controls = knobs.controls()
        self.performance.set_controls(controls, {c.spec.name: knobs.value(c.spec.name) for c in controls},
                                      {c.spec.name for c in controls if knobs.is_auto(c.spec.name)},
                                      learn_enabled=self.midi_available)
        self.prompts.learn_enabled = self.midi_available
        self.prompts.set_suggestions(s.prompts.suggestions())
        self.setWindowTitle(f"LMD Studio — {model.name}")


    @property
    def midi_available(self) -> bool:
        return self.session.midi.available

    def _escape(self) -> None:
        """Esc: leave MIDI learn if it is waiting, else panic."""
        if self.session.midi.learning_target:
            self.session.midi.cancel_learn()
        else:
            self.session.transport.panic()

    def _prompt_text(self, slot: int, text: str) -> None:
        self.session.prompts.set_text(slot, text)
        self.prompts.set_suggestions(self.session.prompts.suggestions())

    def _save_scene(self, index: int, name: str | None) -> None:
        self.session.scenes.save(index, name)
        self.scenes.show_scenes(self.session.scenes.slots())

    def _clear_scene(self, index: int) -> None:
        self.session.scenes.delete(index)
        self.scenes.show_scenes(self.session.scenes.slots())

    def _span_changed(self, span_s: float) -> None:
        self.session.set_view(timeline_span_s=span_s)

    def _spectrogram_toggled(self, on: bool) -> None:
        self.session.set_view(spectrogram=on)

    def load_model(self, spec: str) -> None:
        if spec != self.session.model.spec:
            self.session.model.load(spec)

    def open_model_folder(self) -> None:
        folder = QtWidgets.QFileDialog.getExistingDirectory(self, "Open a model folder (with dit.safetensors)")
        if folder:
            self.session.model.load(folder)

    def render_dialog(self) -> None:
        seconds, ok = QtWidgets.QInputDialog.getDouble(self, "Render", "Seconds to render with the current mix:",
                                                       60.0, 1.0, 3600.0, 0)
        if not ok:
            return
        folder = self.session.settings.recordings_path(self.session.paths.recordings_dir)
        path, _ = QtWidgets.QFileDialog.getSaveFileName(self, "Render to", str(folder / "lmd-render.wav"),
                                                        "Audio (*.wav *.flac)")
        if path:
            self.session.model.render_offline(seconds, Path(path))

    def _notice_action(self, action: str) -> None:
        if action == "midi_settings":
            self.open_settings(tab="MIDI")
        elif action == "audio_settings":
            self.open_settings(tab="Audio")

    def open_settings(self, *, tab: str = "") -> None:
        s = self.session
        dialog = SettingsDialog(s.settings, s.audio_device_names(), list(s.midi.input_names()),
                                s.paths.recordings_dir, midi_available=self.midi_available,
                                input_devices=s.input.device_names(), parent=self)
        dialog.show_tab(tab)
        if dialog.exec() == QtWidgets.QDialog.DialogCode.Accepted:
            new = dialog.result_settings()
            theme_changed = new.theme != s.settings.theme
            s.apply_settings(new)
            if theme_changed:
                self.notice_bar.show_notice(Notice("info", "The new theme applies fully after a restart"))
                apply_theme(QtWidgets.QApplication.instance(), new.theme)
        dialog.deleteLater()

    def open_midi_map(self) -> None:
        if not self.midi_available:
            self.show_notice(Notice("warning", "MIDI is not available in this build or on this machine"))
            return
        from lmd_studio.gui.midi_dialog import MidiMapDialog

        dialog = MidiMapDialog(self.session.midi, parent=self)
        dialog.exec()
        dialog.deleteLater()

    def midi_learn(self, target: str) -> None:
        if self.midi_available:
            self.session.midi.learn(target)

    def show_shortcuts(self) -> None:
        box = QtWidgets.QMessageBox(self)
        box.setWindowTitle("Keyboard shortcuts")
        box.setText(shortcuts_html())
        box.exec()
        box.deleteLater()

    def show_about(self) -> None:
        from lmd_studio.gui.about_dialog import AboutDialog

        dialog = AboutDialog(self.session.about.info(), parent=self)
        dialog.sig_copy_summary.connect(self.report_problem)
        dialog.exec()
        dialog.deleteLater()

    def report_problem(self) -> None:
        """Help → Report a problem: the About box's facts as plain text on the clipboard."""
        QtGui.QGuiApplication.clipboard().setText(self.session.about.report(self.qt_facts()))
        self.show_notice(Notice("info", REPORT_COPIED_TEXT))

    @staticmethod
    def qt_facts() -> tuple[tuple[str, str], ...]:
        """What only the GUI knows, for the problem report: Qt and its display platform."""
        return (("Qt", f"{QtCore.qVersion()} (PySide6 {PySide6.__version__}, "
                       f"{QtGui.QGuiApplication.platformName()} platform)"),)

    def closeEvent(self, event: QtGui.QCloseEvent) -> None:  # noqa: N802
        self.timer.stop()
        self.session.shutdown()
        super().closeEvent(event)
