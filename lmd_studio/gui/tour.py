"""The in-app half of `make screenshots`: with LMD_STUDIO_TOUR set, `app_main.run_gui` hands the open
window to `run_tour`, which drives it through a scripted evening and saves PNGs.

The launcher (bench/screenshots.py) starts the real entry point with these variables set. Shots:
studio-idle (first run, with the welcome), studio-playing (a full timeline with markers, a selection,
recording), studio-spectrogram, studio-settings (the dialog), studio-about (Help → About), studio-stage (the
stage theme).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lmd_studio.app.session_api import StudioApi
    from lmd_studio.gui.main_window import StudioWindow

TOUR_ENV = "LMD_STUDIO_TOUR"
SHOTS_ENV = "LMD_STUDIO_SHOTS"
PLAY_ENV = "LMD_STUDIO_TOUR_PLAY_S"


def _pump(seconds: float) -> None:
    from PySide6 import QtWidgets

    app = QtWidgets.QApplication.instance()
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        app.processEvents()
        time.sleep(0.01)


def _save(widget, path: Path) -> None:
    _pump(0.3)
    widget.grab().save(str(path))
    print(f"wrote {path}", flush=True)


def _wait_until_ready(window, timeout_s: float = 180.0) -> None:
    """The model loads after the window opens (app/startup.py): the shots show it loaded."""
    end = time.perf_counter() + timeout_s
    while time.perf_counter() < end:
        status = window.last_status
        if not status.model_loading and not status.startup.endswith("…"):
            return
        _pump(0.1)


def run_tour(name: str, window: StudioWindow, session: StudioApi, out: Path) -> None:
    """Drive the open window through a scripted evening and save screenshots into `out`."""
    out.mkdir(parents=True, exist_ok=True)
    play_s = float(os.environ.get(PLAY_ENV, "14"))
    _wait_until_ready(window)
    if name == "stage":
        session.transport.play()
        _pump(min(play_s, 9.0))
        _save(window, out / "studio-stage.png")
        return
    _pump(1.5)
    _save(window, out / "studio-idle.png")
    prompts, knobs = session.prompts, session.performance
    prompts.set_text(1, "vinyl crackle and rain")
    prompts.set_weight(1, 0.35)
    session.scenes.save(0, "Late night")
    session.scenes.save(1, "Rain")
    window.scenes.show_scenes(session.scenes.slots())
    # a tempo, a key and a progression: the bar grid and the coming chords on the timeline
    knobs.set_auto("tempo_bpm", False)
    knobs.set_value("tempo_bpm", 84.0)
    knobs.set_auto("pitch", False)
    knobs.set_value("pitch", 21.0)  # A minor
    knobs.set_value("progression", 3.0)  # vi–IV–I–V
    session.transport.play()
    _pump(play_s * 0.35)
    knobs.set_value("brightness", 0.8)
    knobs.set_value("density", 0.25)
    _pump(play_s * 0.25)
    prompts.set_text(2, "soft tabla groove")
    prompts.set_weight(2, 0.6)
    session.recording.toggle_take()
    _pump(play_s * 0.25)
    knobs.set_value("temperature", 1.25)
    _pump(play_s * 0.15)
    frame = session.timeline.frame(window.timeline.span_s, 800)
    window.timeline.set_selection(frame.play_s - 6.0, frame.play_s - 3.5)
    _pump(0.8)
    _save(window, out / "studio-playing.png")
    window.timeline.set_spectrogram(True)
    _pump(1.0)
    _save(window, out / "studio-spectrogram.png")
    window.timeline.set_spectrogram(False)
    from lmd_studio.gui.settings_dialog import SettingsDialog

    dialog = SettingsDialog(session.settings, session.audio_device_names(), list(session.midi.input_names()),
                            session.paths.recordings_dir, midi_available=session.midi.available, parent=window)
    dialog.show()
    _pump(0.6)
    _save(dialog, out / "studio-settings.png")
    dialog.close()
    dialog.deleteLater()
    from lmd_studio.gui.about_dialog import AboutDialog

    about = AboutDialog(session.about.info(), parent=window)
    about.show()
    _pump(0.6)
    _save(about, out / "studio-about.png")
    about.close()
    about.deleteLater()
    session.recording.toggle_take()
    session.set_view(theme="stage")  # the next run opens with the stage theme
