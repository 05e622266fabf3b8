"""The in-process half of `lmd bench gui`: runs the real `lmd-studio` entry point and times it from inside.

    python lmd_studio/bench/gui_probe.py --scenario startup|cpu --out result.json -- [lmd-studio args]

Run as a script (not `-m`), so that with PYTHONPATH pointing at another checkout it measures that
checkout's studio: it only relies on what every version has (`lmd-studio`'s `main`, a main window named
"StudioWindow" with `session` and `actions_by_name["play"]`, the session's engine output stage — reached
through `session.engine.runtime` since issue 13, through the session's `_runtime` before).

- startup: the wall-clock time (since $LMD_BENCH_T0, the parent's launch time) of the window's first
  paint, of "ready" (the model loaded, the engine primed, no job running), of the Space press (the play
  action, at first paint or 1 s after ready with `--press ready`) and of the first frames leaving for the
  device (a 1 ms poll of the output stage on a thread of its own).
- cpu: once ready, the GUI thread's CPU time (time.thread_time on the GUI thread) and the process's over
  `--seconds` playing, then over `--seconds` stopped.

Results go to `--out` as JSON; the window is then closed the ordinary way (its close event shuts down).
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import threading
import time
from types import ModuleType


def _parse(argv: list[str]) -> tuple[argparse.Namespace, list[str]]:
    p = argparse.ArgumentParser(prog="gui_probe")
    p.add_argument("--scenario", choices=("startup", "cpu"), required=True)
    p.add_argument("--press", choices=("show", "ready"), default="show", help="startup: when Space is pressed")
    p.add_argument("--seconds", type=float, default=20.0, help="cpu: seconds measured playing, then stopped")
    p.add_argument("--settle", type=float, default=3.0, help="cpu: seconds before each measurement")
    p.add_argument("--warm-play", type=float, default=15.0,
                   help="cpu: seconds played before measuring (the 16 s view scrolls from 12 s on)")
    p.add_argument("--timeout", type=float, default=180.0)
    p.add_argument("--profile", default=None,
                   help="cpu: write a cProfile of the GUI thread while playing to this file (pstats format)")
    p.add_argument("--out", required=True)
    cut = argv.index("--") if "--" in argv else len(argv)
    return p.parse_args(argv[:cut]), argv[cut + 1:]


class _Probe:
    def __init__(self, args: argparse.Namespace, t0: float) -> None:
        from PySide6 import QtCore

        self.args = args
        self.t0 = t0
        self.result: dict = {"scenario": args.scenario, "press": args.press}
        self.window = None
        self._sound_at: float | None = None
        self._stop_poll = threading.Event()
        self._filter = None
        self._QtCore = QtCore

    def mark(self, name: str, at: float | None = None) -> None:
        self.result[name] = round((at if at is not None else time.time()) - self.t0, 4)

    # --- the window's first paint ----------------------------------------------------------------
    def install(self, app) -> None:
        QtCore = self._QtCore
        probe = self

        class FirstPaint(QtCore.QObject):
            def eventFilter(self, obj, event):  # noqa: N802 (Qt override)
                if event.type() == QtCore.QEvent.Type.Paint and hasattr(obj, "window"):
                    win = obj.window()
                    if win is not None and win.objectName() == "StudioWindow" and probe.window is None:
                        probe.window = win
                        probe.mark("shown_s")
                        QtCore.QTimer.singleShot(0, probe.on_shown)
                return False

        self._filter = FirstPaint()
        app.installEventFilter(self._filter)
        QtCore.QTimer.singleShot(int(self.args.timeout * 1000), self.finish)

    def on_shown(self) -> None:
        from PySide6 import QtWidgets

        QtWidgets.QApplication.instance().removeEventFilter(self._filter)  # no cost while measuring
        threading.Thread(target=self._poll_sound, name="bench-sound-poll", daemon=True).start()
        if self.args.scenario == "startup" and self.args.press == "show":
            self.press()
        self._wait_ready()

    # --- readings --------------------------------------------------------------------------------------
    def _runtime(self):
        """The session's running engine: its public seam, or the attribute older checkouts had."""
        session = self.window.session
        host = getattr(session, "engine", None)
        return host.runtime if host is not None else getattr(session, "_runtime", None)

    def _output(self):
        runtime = self._runtime()
        return None if runtime is None else runtime.parts.engine.output

    def _poll_sound(self) -> None:
        while not self._stop_poll.is_set() and self._sound_at is None:
            out = self._output()
            if out is not None and out.playing and out.frames_played > 0:
                self._sound_at = time.time()
                self.mark("sound_s", self._sound_at)
                return
            time.sleep(0.001)

    def ready(self) -> bool:
        s = self.window.session
        status = self.window._last_status
        return (bool(getattr(s, "model_ready", True)) and self._runtime().metrics.primed
                and not any(not j.done for j in status.jobs))

    def _wait_ready(self) -> None:
        if not self.ready():
            self._QtCore.QTimer.singleShot(10, self._wait_ready)
            return
        self.mark("ready_s")
        session = self.window.session
        self.result["model"] = session.model.name if hasattr(session, "engine") else session.model_name
        if self.args.scenario == "startup":
            if self.args.press == "ready":
                self._QtCore.QTimer.singleShot(1000, self.press)
            self._wait_sound()
        else:
            self._QtCore.QTimer.singleShot(int(self.args.settle * 1000), self._cpu_phase_playing)

    def press(self) -> None:
        self.mark("press_s")
        self.window.actions_by_name["play"].trigger()  # what Space does

    def _wait_sound(self) -> None:
        if self._sound_at is None or "press_s" not in self.result:
            self._QtCore.QTimer.singleShot(10, self._wait_sound)
            return
        self.result["press_to_sound_s"] = round(self.result["sound_s"] - self.result["press_s"], 4)
        self.finish()

    # --- cpu ---------------------------------------------------------------------------------------------
    def _measure(self, name: str, then) -> None:
        profiler = None
        if self.args.profile and name == "playing":
            import cProfile  # only the GUI thread: cProfile follows the thread that enabled it

            profiler = cProfile.Profile()
            profiler.enable()
        thread0, proc0, wall0 = time.thread_time(), time.process_time(), time.perf_counter()

        def done() -> None:
            wall = time.perf_counter() - wall0
            if profiler is not None:
                profiler.disable()
                profiler.dump_stats(self.args.profile)
            self.result[f"gui_cpu_{name}_pct"] = round(100.0 * (time.thread_time() - thread0) / wall, 2)
            self.result[f"process_cpu_{name}_pct"] = round(100.0 * (time.process_time() - proc0) / wall, 2)
            then()

        self._QtCore.QTimer.singleShot(int(self.args.seconds * 1000), done)

    def _cpu_phase_playing(self) -> None:
        self.window.actions_by_name["play"].trigger()
        self._when_played()

    def _when_played(self) -> None:
        if self.window._last_status.played_s < self.args.warm_play:
            self._QtCore.QTimer.singleShot(100, self._when_played)
            return
        self.mark("measure_playing_s")
        self._measure("playing", self._cpu_phase_stopped)

    def _cpu_phase_stopped(self) -> None:
        self.result["played_s"] = round(self.window._last_status.played_s, 2)
        self.window.actions_by_name["play"].trigger()
        self._QtCore.QTimer.singleShot(int(self.args.settle * 1000), lambda: self._measure("stopped", self.finish))

    # --- the end ------------------------------------------------------------------------------------------
    def finish(self) -> None:
        self._stop_poll.set()
        with open(self.args.out, "w") as f:
            json.dump(self.result, f)
        if self.window is not None:
            self.window.close()
        else:
            from PySide6 import QtWidgets

            QtWidgets.QApplication.instance().quit()


# where `lmd-studio`'s main() lives, newest first: `--code` may point at a checkout from before the move
STUDIO_ENTRY_POINTS = ("lmd_studio.cli.studio", "lmd_studio.app.studio_main")


def _studio_entry_point() -> ModuleType:
    for name in STUDIO_ENTRY_POINTS:
        try:
            return importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name is None or not (name == exc.name or name.startswith(exc.name + ".")):
                raise  # the module exists but something it imports is missing: that is a real error
    raise ModuleNotFoundError(f"no lmd-studio entry point in this checkout (tried {', '.join(STUDIO_ENTRY_POINTS)})")


def main(argv: list[str] | None = None) -> int:
    args, studio_args = _parse(list(sys.argv[1:] if argv is None else argv))
    t0 = float(os.environ.get("LMD_BENCH_T0") or time.time())
    from PySide6 import QtWidgets

    QtWidgets.QApplication.setApplicationName("LMD Studio")
    QtWidgets.QApplication.setOrganizationName("LMD Studio")
    app = QtWidgets.QApplication(["lmd-studio"])
    probe = _Probe(args, t0)
    probe.install(app)
    # the probe is an entry point, like `python -m lmd_studio.cli.studio`: it runs the studio, it
    # does not use its parts (so, like the screenshots' subprocess, it is not an import of a layer)
    return int(_studio_entry_point().main(studio_args))


if __name__ == "__main__":
    sys.exit(main())
