"""`make screenshots`: run the studio under Xvfb in a few states and write PNGs under docs/.

    python -m lmd_studio.gui.screenshots --out docs [--model fake] [--play-s 14]

Starts `Xvfb :99` itself when DISPLAY is unset (and stops it afterwards). Settings, scenes and
recordings go to a temporary LMD_STUDIO_HOME, so the user's own files are never touched. States: the
first-run window (idle), playing with a full timeline (markers, a selection, recording), the
spectrogram view, the stage theme, and the settings dialog.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _ensure_display() -> subprocess.Popen | None:
    if os.environ.get("DISPLAY"):
        return None
    if shutil.which("Xvfb") is None:
        raise SystemExit("screenshots: DISPLAY is not set and Xvfb is not installed (apt-get install xvfb)")
    display = ":99"
    proc = subprocess.Popen(["Xvfb", display, "-screen", "0", "1600x1000x24", "-nolisten", "tcp"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(50):
        if Path(f"/tmp/.X11-unix/X{display[1:]}").exists():
            break
        time.sleep(0.1)
    os.environ["DISPLAY"] = display
    return proc


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
    print(f"wrote {path}")


def take(out: Path, model: str, play_s: float) -> list[Path]:
    os.environ.pop("QT_QPA_PLATFORM", None)  # a real X11 window under Xvfb
    from lmd_studio.app.bootstrap import build_studio
    from lmd_studio.gui.app_main import make_application, open_studio
    from lmd_studio.gui.settings_dialog import SettingsDialog
    from lmd_studio.gui.theme import apply_theme
    from lmd_studio.settings.paths import StudioPaths

    out.mkdir(parents=True, exist_ok=True)
    home = Path(tempfile.mkdtemp(prefix="lmd-shots-"))
    written: list[Path] = []
    app = make_application()
    try:
        session = build_studio(StudioPaths.under(home), model=model, audio="null", midi=False, retro_s=60.0)
        window = open_studio(session, size=(1440, 900))
        _pump(1.0)
        written.append(out / "studio-idle.png")
        _save(window, written[-1])

        session.set_prompt_text(1, "vinyl crackle and rain")
        session.set_prompt_weight(1, 0.35)
        session.save_scene(0, "Late night")
        session.save_scene(1, "Rain")
        window.scenes.show_scenes(session.scenes())
        session.play()
        _pump(play_s * 0.35)
        session.set_value("brightness", 0.8)
        session.set_value("density", 0.25)
        _pump(play_s * 0.25)
        session.set_prompt_text(2, "soft tabla groove")
        session.set_prompt_weight(2, 0.6)
        session.start_recording()
        _pump(play_s * 0.25)
        session.set_value("temperature", 1.25)
        _pump(play_s * 0.15)
        frame = session.timeline_frame(window.timeline.span_s, 800)
        window.timeline.set_selection(frame.play_s - 6.0, frame.play_s - 3.5)
        _pump(0.8)
        written.append(out / "studio-playing.png")
        _save(window, written[-1])

        window.timeline.set_spectrogram(True)
        _pump(1.0)
        written.append(out / "studio-spectrogram.png")
        _save(window, written[-1])
        window.timeline.set_spectrogram(False)

        dialog = SettingsDialog(session.settings, ["system (JACK Audio Connection Kit)", "Built-in Audio"],
                                ["nanoKONTROL2 MIDI 1", "Keystation 49"], session.paths.recordings_dir,
                                parent=window)
        dialog.show()
        _pump(0.5)
        written.append(out / "studio-settings.png")
        _save(dialog, written[-1])
        dialog.close()

        apply_theme(app, "stage")
        window.close()
        session2 = build_studio(StudioPaths.under(home), model=model, audio="null", midi=False, retro_s=60.0)
        window2 = open_studio(session2, size=(1440, 900))
        apply_theme(app, "stage")
        session2.play()
        _pump(min(play_s, 8.0))
        written.append(out / "studio-stage.png")
        _save(window2, written[-1])
        window2.close()
    finally:
        shutil.rmtree(home, ignore_errors=True)
    return written


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="lmd_studio.gui.screenshots", description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=Path("docs"))
    p.add_argument("--model", default="fake", help="'fake' (default, reproducible) or a model folder")
    p.add_argument("--play-s", type=float, default=14.0, help="seconds of playing before the full shot")
    args = p.parse_args(argv)
    xvfb = _ensure_display()
    try:
        take(args.out, args.model, args.play_s)
    finally:
        if xvfb is not None:
            xvfb.terminate()
            xvfb.wait(5)
    return 0


if __name__ == "__main__":
    sys.exit(main())
