"""`make screenshots`: run the real studio under Xvfb in a few states and write PNGs under docs/.

    python -m lmd_studio.gui.screenshots --out docs [--model fake] [--play-s 14]

It starts `Xvfb :99` itself when DISPLAY is unset, and a JACK dummy server when jackd is installed (so the
window shows a real audio device and a MIDI port; without JACK it plays silently and leaves MIDI off).
Then it launches the real entry point (`python -m lmd_studio.app.studio_main`) twice with LMD_STUDIO_TOUR
set: `run_tour` (called by `app_main.run_gui`) drives the window and saves the shots. Settings, scenes and
recordings go to a temporary LMD_STUDIO_HOME, so the user's own files are never touched.

Shots: studio-idle (first run), studio-playing (a full timeline with markers, a selection, recording),
studio-spectrogram, studio-settings (the dialog), studio-stage (the stage theme).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

from lmd_studio.app.session_api import StudioApi
from lmd_studio.settings.paths import StudioPaths
from lmd_studio.settings.schema import AudioSettings, MidiSettings, StudioSettings
from lmd_studio.settings.store import SettingsStore

if TYPE_CHECKING:  # the launcher half runs without Qt
    from lmd_studio.gui.main_window import StudioWindow

TOUR_ENV = "LMD_STUDIO_TOUR"
SHOTS_ENV = "LMD_STUDIO_SHOTS"
PLAY_ENV = "LMD_STUDIO_TOUR_PLAY_S"


# --- inside the app (called by app_main.run_gui) ------------------------------------------------------
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
    session.recording.toggle_take()
    session.set_view(theme="stage")  # the next run opens with the stage theme


# --- the launcher ------------------------------------------------------------------------------------
def _ensure_display() -> subprocess.Popen | None:
    if os.environ.get("DISPLAY"):
        return None
    if shutil.which("Xvfb") is None:
        raise SystemExit("screenshots: DISPLAY is not set and Xvfb is not installed (apt-get install xvfb)")
    display = ":99"
    proc = subprocess.Popen(["Xvfb", display, "-screen", "0", "1600x1000x24", "-nolisten", "tcp"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        if Path(f"/tmp/.X11-unix/X{display[1:]}").exists():
            break
        time.sleep(0.05)
    os.environ["DISPLAY"] = display
    return proc


JACK_NAME = "lmdshots"  # a fixed name: JACK's registry keeps slots of killed servers per name


def _start_jack(env: dict[str, str]) -> subprocess.Popen | None:
    """A JACK dummy server (48 kHz, 256 frames) named JACK_NAME, if jackd is installed; `env` is pointed
    at it (JACK_DEFAULT_SERVER) so the studio's audio process and MIDI find it."""
    if shutil.which("jackd") is None or shutil.which("jack_wait") is None:
        return None
    env["JACK_DEFAULT_SERVER"] = JACK_NAME
    proc = subprocess.Popen(["jackd", "-n", JACK_NAME, "--realtime", "-d", "dummy", "-r", "48000", "-p", "256"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if subprocess.run(["jack_wait", "-w", "-t", "10"], env=env, capture_output=True, timeout=15).returncode != 0:
        proc.terminate()
        proc.wait(5)
        env.pop("JACK_DEFAULT_SERVER")
        return None
    return proc


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="lmd_studio.gui.screenshots", description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=Path("docs"))
    p.add_argument("--model", default="fake", help="'fake' (default, reproducible) or a model folder")
    p.add_argument("--play-s", type=float, default=14.0, help="seconds of playing before the full shot")
    args = p.parse_args(argv)
    xvfb = _ensure_display()
    home = Path(tempfile.mkdtemp(prefix="lmd-shots-"))
    env = dict(os.environ, LMD_STUDIO_HOME=str(home), JACK_NO_AUDIO_RESERVATION="1", JACK_NO_START_SERVER="1",
               **{PLAY_ENV: str(args.play_s), SHOTS_ENV: str(args.out.resolve())})
    env.pop("QT_QPA_PLATFORM", None)  # real X11 windows under Xvfb
    jack = _start_jack(env)
    settings = StudioSettings(
        audio=AudioSettings(backend="auto", device="system") if jack or not xvfb else AudioSettings(backend="null"),
        midi=MidiSettings(enabled=jack is not None, backend="mido.backends.rtmidi/UNIX_JACK" if jack else ""))
    SettingsStore(StudioPaths.under(home).settings_file).save(dataclasses.replace(settings, first_run_done=False))
    try:
        for tour in ("main", "stage"):
            cmd = [sys.executable, "-m", "lmd_studio.app.studio_main", "--model", args.model]
            result = subprocess.run(cmd, env=dict(env, **{TOUR_ENV: tour}), timeout=180)
            if result.returncode != 0:
                print(f"screenshots: the {tour} tour failed (exit {result.returncode})", file=sys.stderr)
                return result.returncode
    finally:
        if jack is not None:
            jack.terminate()
            jack.wait(5)
        if xvfb is not None:
            xvfb.terminate()
            xvfb.wait(5)
        shutil.rmtree(home, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
