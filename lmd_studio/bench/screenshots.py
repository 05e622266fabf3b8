"""`make screenshots`: run the real studio under Xvfb in a few states and write PNGs under docs/.

    python -m lmd_studio.bench.screenshots --out docs [--model fake] [--play-s 14]

It starts `Xvfb :99` itself when DISPLAY is unset, and a JACK dummy server (harness/jack.py) when jackd is
installed (so the window shows a real audio device and a MIDI port; without JACK it plays silently and
leaves MIDI off). Then it launches the real entry point (`python -m lmd_studio.cli.studio`) twice
with LMD_STUDIO_TOUR set: `gui/tour.py`'s `run_tour` (called by `app_main.run_gui`) drives the window and
saves the shots. Settings, scenes and recordings go to a temporary LMD_STUDIO_HOME, so the user's own
files are never touched.
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
from contextlib import ExitStack
from pathlib import Path

from lmd_studio.bench.harness.jack import JackServer, jack_available, jack_dummy_server
from lmd_studio.gui.tour import PLAY_ENV, SHOTS_ENV, TOUR_ENV
from lmd_studio.settings.paths import StudioPaths
from lmd_studio.settings.schema import AudioSettings, MidiSettings, StudioSettings
from lmd_studio.settings.store import SettingsStore

JACK_NAME = "lmdshots"  # a fixed name: JACK's registry keeps slots of killed servers per name


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


def _stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    proc.wait(5)


def _start_jack(stack: ExitStack) -> JackServer | None:
    """A JACK dummy server (48 kHz, 256 frames, real-time clock) named JACK_NAME for as long as `stack`
    lives, if jackd is installed and it comes up; None otherwise (the studio then plays silently)."""
    if not jack_available():
        return None
    try:
        return stack.enter_context(jack_dummy_server(48000, 256, name=JACK_NAME, realtime=True))
    except RuntimeError:
        return None


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="lmd_studio.bench.screenshots", description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=Path("docs"))
    p.add_argument("--model", default="fake", help="'fake' (default, reproducible) or a model folder")
    p.add_argument("--play-s", type=float, default=14.0, help="seconds of playing before the full shot")
    args = p.parse_args(argv)
    with ExitStack() as stack:
        xvfb = _ensure_display()
        if xvfb is not None:
            stack.callback(_stop, xvfb)
        home = Path(tempfile.mkdtemp(prefix="lmd-shots-"))
        stack.callback(shutil.rmtree, home, ignore_errors=True)
        jack = _start_jack(stack)
        env = dict(os.environ, LMD_STUDIO_HOME=str(home), JACK_NO_AUDIO_RESERVATION="1",
                   JACK_NO_START_SERVER="1", **{PLAY_ENV: str(args.play_s), SHOTS_ENV: str(args.out.resolve())})
        env.pop("QT_QPA_PLATFORM", None)  # real X11 windows under Xvfb
        if jack is not None:
            env["JACK_DEFAULT_SERVER"] = jack.server_name  # the studio's audio process and MIDI find it
        settings = StudioSettings(
            audio=AudioSettings(backend="auto", device="system") if jack or not xvfb else AudioSettings(backend="null"),
            midi=MidiSettings(enabled=jack is not None, backend="mido.backends.rtmidi/UNIX_JACK" if jack else ""))
        SettingsStore(StudioPaths.under(home).settings_file).save(dataclasses.replace(settings, first_run_done=False))
        for tour in ("main", "stage"):
            cmd = [sys.executable, "-m", "lmd_studio.cli.studio", "--model", args.model]
            result = subprocess.run(cmd, env=dict(env, **{TOUR_ENV: tour}), timeout=180)
            if result.returncode != 0:
                print(f"screenshots: the {tour} tour failed (exit {result.returncode})", file=sys.stderr)
                return result.returncode
    return 0


if __name__ == "__main__":
    sys.exit(main())
