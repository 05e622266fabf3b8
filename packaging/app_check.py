"""`make app-check`: builds the one-folder app if it is stale, then measures it and the offline wheel install.

    .venv/bin/python packaging/app_check.py [--no-build] [--skip-wheel] [--skip-jack] [--json runs/app-check.json]

Every run of the app starts the built program from its folder with a fresh HOME, an environment without the
checkout's PYTHONPATH or venv, and a scratch working folder: what a musician's machine would see.

- app_window_s, app_first_audio_s: launch → first paint of the window, launch → first frames out with
  Space pressed at first paint (`--audio null`, offscreen; medians of `--runs` launches, each with its own
  fresh HOME), timed from inside by the probe `lmd bench gui` uses (the app runs it when
  LMD_STUDIO_PROBE is set: packaging/app_entry.py).
- app_smoke_ok: the app renders 5 s through the real model (`lmd render` run by the app's own interpreter
  stand-in, `-c`) into a WAV of the right length that is not silent, and the studio plays the real model for
  5 s and quits with exit code 0.
- app_size_mb: the folder (target ≤ 700 MB); app_folder_ok: the model, the text encoder and the Qt plugins
  a desktop needs are in it, and Python runs from the folder, not from an unpacked temporary copy;
  app_model_dtypes: how the bundled model's weights are stored (F16: packaging/app_bundle.py).
- app_jack_ok (when jackd is installed): under a JACK dummy server the studio's audio device process (a
  `-m` child of the app) connects to JACK.
- wheel_offline_ok: both wheels (packaging/build_wheels.py) install into a fresh venv with --no-index from
  dist/ plus a wheelhouse of the dependencies, then `lmd render --seconds 2` and `lmd-studio --quit-after`
  work there, from a folder outside the checkout.

Prints a table and writes JSON (default runs/app-check.json). Exit code 1 when a check fails or a target
is missed.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

# run as a script, this folder is on sys.path (tests/packaging/support.py adds it for the tests)
import app_bundle as bundle
import build_app
import build_wheels

ROOT = bundle.ROOT
PROBE_ENV = "LMD_STUDIO_PROBE"  # packaging/app_entry.py
# how the fallback shows when the model does not load: the generator's name (core/fake.py), and the
# studio's label for it (app/model_catalog.py)
FAKE_MODEL_MARKERS = ("fake-tones", "Test tones")
RENDER_SECONDS = 5.0
WHEEL_RENDER_SECONDS = 2.0
SILENCE_RMS = 1e-4
# targets from issue 18: (key, limit, "max" | "true")
TARGETS = (("app_smoke_ok", True, "true"), ("app_folder_ok", True, "true"), ("app_window_s", 5.0, "max"),
           ("app_first_audio_s", 8.0, "max"), ("app_size_mb", 700.0, "max"), ("wheel_offline_ok", True, "true"))
# the lmd command through the app's `-c` stand-in: the console script is looked up by name, like the app's
LMD_VIA_APP = ("import sys\nfrom importlib.metadata import entry_points\n"
               "(script,) = entry_points(group='console_scripts', name='lmd')\nsys.exit(script.load()(sys.argv[1:]))")
# variables that would let a run see the checkout, the venv or the developer's own settings
_SCRUBBED = ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONSTARTUP", "PYTHONUSERBASE", "XDG_CONFIG_HOME",
             "XDG_DATA_HOME", "XDG_CACHE_HOME", "XDG_STATE_HOME", "XDG_MUSIC_DIR", "HF_HOME", "HF_HUB_OFFLINE",
             "TRANSFORMERS_OFFLINE", "TRANSFORMERS_CACHE", "LMD_STUDIO_HOME", "LMD_STUDIO_PLAY",
             "LMD_STUDIO_TOUR", "LMD_BENCH_T0", PROBE_ENV, "PIP_CONSTRAINT", "PIP_FIND_LINKS")


def clean_env(home: Path, base: dict[str, str] | None = None) -> dict[str, str]:
    """A user's environment: HOME is a new empty folder, no Python or venv variables, no .venv on PATH,
    Qt offscreen (no display here; a window is still made and painted)."""
    env = {k: v for k, v in (base if base is not None else os.environ).items() if k not in _SCRUBBED}
    venv_bin = str(Path(sys.executable).parent)
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "/usr/bin:/bin").split(os.pathsep) if p != venv_bin)
    home.mkdir(parents=True, exist_ok=True)
    env["HOME"] = str(home)
    env["QT_QPA_PLATFORM"] = "offscreen"
    return env


def _tail(text: str, chars: int = 1500) -> str:
    return text[-chars:]


# --- the folder ---------------------------------------------------------------------------------------------
def check_folder(app_dir: Path) -> dict[str, Any]:
    internal = app_dir / "_internal"
    plugins = internal / "PySide6" / "Qt" / "plugins"
    missing = [p for p in bundle.REQUIRED_QT_PLUGINS if not (plugins / p).is_file()]
    for d in bundle.ASSET_DIRS:
        for f in (ROOT / d).rglob("*"):
            if f.is_file() and not (internal / f.relative_to(ROOT)).is_file():
                missing.append(str(f.relative_to(ROOT)))
    encoder = internal / bundle.TEXT_ENCODER_PACKAGE / bundle.TEXT_ENCODER_SUBDIR
    from lmd_studio.model.minilm import FOLDER_FILES, WEIGHTS_FILE  # what our encoder reads from its folder

    missing += [f"{encoder.relative_to(app_dir)}/{n}" for n in (*FOLDER_FILES, WEIGHTS_FILE)
                if not (encoder / n).is_file()]
    cuda = sorted(p.name for p in internal.rglob("lib*.so*") if p.name.startswith(("libcuda", "libcudnn", "libcublas",
                                                                                   "libnccl", "libnvrtc")))
    return {"app_size_mb": round(build_app.folder_size_bytes(app_dir) / 1e6, 1), "app_missing_files": missing,
            "app_cuda_libs": cuda, "app_model_dtypes": model_dtypes(internal / bundle.MODEL_DIR)}


def model_dtypes(model_dir: Path) -> dict[str, list[str]]:
    """The tensor dtypes of the bundled model's weight files (float16: "F16"), read from their headers."""
    from lmd_studio.core.model_files import read_header

    found: dict[str, list[str]] = {}
    for name in bundle.FLOAT16_MODEL_FILES:
        if (model_dir / name).is_file():
            header = read_header(model_dir / name)
            found[name] = sorted({e["dtype"] for k, e in header.items() if k != "__metadata__"})
    return found


def check_no_unpack(program: Path, env: dict[str, str], cwd: Path) -> dict[str, Any]:
    """One-folder mode: Python's home (sys._MEIPASS) is the app's own _internal folder, not a temp copy."""
    proc = subprocess.run([str(program), "-c", "import sys; print(sys._MEIPASS)"], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=120)
    home = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else ""
    inside = proc.returncode == 0 and Path(home).resolve() == (program.parent / "_internal").resolve()
    return {"app_runs_in_place": inside, "app_python_home": home}


# --- runs of the app ------------------------------------------------------------------------------------------
def run_probe(program: Path, env: dict[str, str], cwd: Path, probe_args: list[str], studio_args: list[str],
              timeout_s: float = 300.0) -> dict[str, Any]:
    """Run the studio under the start-up probe; its JSON result plus rc (and stderr when it failed)."""
    out = cwd / f"probe-{time.monotonic_ns()}.json"
    run_env = dict(env)
    run_env[PROBE_ENV] = json.dumps([*probe_args, "--out", str(out), "--", *studio_args])
    run_env["LMD_BENCH_T0"] = repr(time.time())  # the probe times everything from the launch
    try:
        proc = subprocess.run([str(program)], env=run_env, cwd=cwd, capture_output=True, text=True,
                              timeout=timeout_s)
        rc, stderr = proc.returncode, proc.stderr
    except subprocess.TimeoutExpired as exc:
        rc, stderr = 124, (exc.stderr or b"").decode(errors="replace") if isinstance(exc.stderr, bytes) else ""
    result: dict[str, Any] = json.loads(out.read_text()) if out.exists() else {}
    result["rc"] = rc
    if rc != 0 or not result.get("model"):
        result["stderr_tail"] = _tail(stderr)
    return result


def wav_summary(path: Path) -> dict[str, Any]:
    import numpy as np
    import soundfile as sf

    if not path.is_file():
        return {"seconds": 0.0, "rms": 0.0}
    audio, rate = sf.read(str(path), dtype="float32", always_2d=True)
    return {"seconds": round(audio.shape[0] / rate, 3), "rms": float(np.sqrt(np.mean(audio ** 2)))}


def is_fallback(model_text: str) -> bool:
    return any(marker in model_text for marker in FAKE_MODEL_MARKERS)


def render_ok(rc: int, stdout: str, wav: dict[str, Any], seconds: float) -> bool:
    """Exit 0, a WAV of the asked length that is not silent, made by the real model (not the fallback)."""
    model_line = next((ln for ln in stdout.splitlines() if " with model " in ln), "")
    return (rc == 0 and abs(wav["seconds"] - seconds) < 0.05 and wav["rms"] > SILENCE_RMS
            and bool(model_line) and not is_fallback(model_line))


def render_with_app(program: Path, env: dict[str, str], cwd: Path, seconds: float) -> dict[str, Any]:
    out = cwd / "app-render.wav"
    t0 = time.perf_counter()
    proc = subprocess.run([str(program), "-c", LMD_VIA_APP, "render", "--seconds", str(seconds), "--out", str(out)],
                          env=env, cwd=cwd, capture_output=True, text=True, timeout=600)
    wav = wav_summary(out)
    ok = render_ok(proc.returncode, proc.stdout, wav, seconds)
    result = {"ok": ok, "rc": proc.returncode, "wall_s": round(time.perf_counter() - t0, 2), **wav,
              "stdout_tail": _tail(proc.stdout, 300)}
    if not ok:
        result["stderr_tail"] = _tail(proc.stderr)
    return result


def play_ok(result: dict[str, Any], seconds: float) -> bool:
    model = str(result.get("model", ""))
    return (result.get("rc") == 0 and float(result.get("played_s", 0.0)) >= seconds and bool(model)
            and not is_fallback(model))


@contextmanager
def jack_ports_seen() -> Iterator[set[str]]:
    """While the block runs, collect every JACK port name other than the server's own (system:*)."""
    seen: set[str] = set()
    stop = threading.Event()

    def poll() -> None:
        while not stop.is_set():
            out = subprocess.run(["jack_lsp"], capture_output=True, text=True, timeout=10,
                                 env=dict(os.environ, JACK_NO_START_SERVER="1"))
            seen.update(p for p in out.stdout.split("\n") if p and not p.startswith("system:"))
            stop.wait(0.2)

    thread = threading.Thread(target=poll, name="jack-lsp-poll", daemon=True)
    thread.start()
    try:
        yield seen
    finally:
        stop.set()
        thread.join(15)


def check_jack(program: Path, home: Path, cwd: Path) -> dict[str, Any]:
    """The studio's default audio (a device process started as `<app> -m lmd_studio.audio.audio_child`)
    reaches a JACK dummy server."""
    from lmd_studio.bench.harness.jack import jack_available, jack_dummy_server

    if not jack_available():
        return {"app_jack_ok": None, "app_jack_note": "jackd not installed"}
    with jack_dummy_server() as server:
        env = clean_env(home)  # after the server started: it exported JACK_DEFAULT_SERVER
        env["JACK_NO_AUDIO_RESERVATION"] = "1"
        with jack_ports_seen() as ports:
            result = run_probe(program, env, cwd, ["--scenario", "startup", "--press", "show"], [])
            time.sleep(0.5)  # the poller's last look
    return {"app_jack_ok": result.get("rc") == 0 and bool(ports), "app_jack_ports": sorted(ports)[:6],
            "app_jack_first_audio_s": result.get("sound_s"), "app_jack_server": server.server_name,
            **({"app_jack_stderr_tail": result["stderr_tail"]} if "stderr_tail" in result else {})}


def _median(runs: list[dict[str, Any]], key: str) -> float | None:
    values = [float(r[key]) for r in runs if r.get(key) is not None]
    return round(statistics.median(values), 3) if values else None


def check_app(app_dir: Path, work: Path, jack: bool, runs: int = 3) -> dict[str, Any]:
    program = app_dir / bundle.APP_NAME
    found: dict[str, Any] = check_folder(app_dir)
    cwd = work / "run"
    cwd.mkdir(parents=True, exist_ok=True)
    found |= check_no_unpack(program, clean_env(work / "home-unpack"), cwd)
    found["app_folder_ok"] = not found["app_missing_files"] and not found["app_cuda_libs"] and found["app_runs_in_place"]

    startups = [run_probe(program, clean_env(work / f"home-startup-{i}"), cwd,
                          ["--scenario", "startup", "--press", "show"], ["--audio", "null"]) for i in range(runs)]
    startup = startups[-1]
    found |= {"app_window_s": _median(startups, "shown_s"), "app_ready_s": _median(startups, "ready_s"),
              "app_first_audio_s": _median(startups, "sound_s"), "app_startup_runs": runs,
              "app_model": startup.get("model"), "app_startup_rc": max(r["rc"] for r in startups)}
    if "stderr_tail" in startup:
        found["app_startup_stderr_tail"] = startup["stderr_tail"]

    render = render_with_app(program, clean_env(work / "home-render"), cwd, RENDER_SECONDS)
    play = run_probe(program, clean_env(work / "home-play"), cwd,
                     ["--scenario", "cpu", "--warm-play", str(RENDER_SECONDS), "--seconds", "0.5", "--settle", "0.2"],
                     ["--audio", "null"])
    found |= {"app_render": render, "app_play": {k: play.get(k) for k in ("rc", "model", "played_s", "ready_s",
                                                                          "stderr_tail") if k in play}}
    found["app_smoke_ok"] = bool(render["ok"] and play_ok(play, RENDER_SECONDS)
                                 and found["app_startup_rc"] == 0 and found["app_model"]
                                 and not is_fallback(str(found["app_model"])))
    if jack:
        found |= check_jack(program, work / "home-jack", cwd)
    return found


# --- the wheels -------------------------------------------------------------------------------------------------
def wheelhouse(code_wheel: Path, folder: Path) -> Path:
    """Wheels of every dependency at the locked versions (from the package index this machine has), the way a
    user would carry them to an offline machine. Kept between runs: pip skips what is already there."""
    folder.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "-c", str(ROOT / "packaging" / "constraints.txt"),
                    "--wheel-dir", str(folder), str(code_wheel)], check=True, capture_output=True, text=True)
    return folder


def check_wheel(work: Path, wheel_cache: Path) -> dict[str, Any]:
    t0 = time.perf_counter()
    dist = work / "dist"
    code_wheel, assets_wheel = build_wheels.build(dist)
    deps = wheelhouse(code_wheel, wheel_cache)
    venv = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    py = venv / "bin" / "python"
    # no index, no pip configuration (it names this machine's package mirrors): only the two folders; and
    # no PYTHONPATH, through which pip would find the checkout's lmd_studio "already installed"
    pip_env = {k: v for k, v in os.environ.items() if k not in _SCRUBBED and not k.startswith("PIP_")}
    pip_env["PIP_CONFIG_FILE"] = os.devnull
    install = subprocess.run([str(py), "-m", "pip", "install", "-q", "--no-index", "--find-links", str(dist),
                              "--find-links", str(deps), str(code_wheel), str(assets_wheel)],
                             env=pip_env, capture_output=True, text=True)
    result: dict[str, Any] = {"wheel_install_rc": install.returncode,
                              "wheel_mb": round(code_wheel.stat().st_size / 1e6, 2),
                              "wheel_assets_mb": round(assets_wheel.stat().st_size / 1e6, 1)}
    if install.returncode != 0:
        result |= {"wheel_offline_ok": False, "wheel_install_stderr_tail": _tail(install.stderr)}
        return result
    cwd = work / "wheel-run"
    cwd.mkdir()
    env = clean_env(work / "home-wheel")
    where = subprocess.run([str(py), "-c", "import lmd_studio, lmd_studio.core.assets as a; "
                            "print(lmd_studio.__file__); print(a.asset_root())"],
                           env=env, cwd=cwd, capture_output=True, text=True)
    lines = where.stdout.split()
    installed = len(lines) == 2 and all(Path(p).resolve().is_relative_to(venv.resolve()) for p in lines)
    out = cwd / "x.wav"
    render = subprocess.run([str(venv / "bin" / "lmd"), "render", "--seconds", str(WHEEL_RENDER_SECONDS),
                             "--out", str(out)], env=env, cwd=cwd, capture_output=True, text=True, timeout=600)
    wav = wav_summary(out)
    studio = subprocess.run([str(venv / "bin" / "lmd-studio"), "--audio", "null", "--quit-after", "5"],
                            env=env, cwd=cwd, capture_output=True, text=True, timeout=300)
    result |= {"wheel_code_and_assets_from_venv": installed, "wheel_paths": lines,
               "wheel_render_ok": render_ok(render.returncode, render.stdout, wav, WHEEL_RENDER_SECONDS),
               "wheel_render": {"rc": render.returncode, **wav, "stdout_tail": _tail(render.stdout, 300)},
               "wheel_studio_rc": studio.returncode, "wheel_check_s": round(time.perf_counter() - t0, 1)}
    if render.returncode != 0:
        result["wheel_render"]["stderr_tail"] = _tail(render.stderr)
    if studio.returncode != 0:
        result["wheel_studio_stderr_tail"] = _tail(studio.stderr)
    result["wheel_offline_ok"] = bool(installed and result["wheel_render_ok"] and studio.returncode == 0)
    return result


# --- report -----------------------------------------------------------------------------------------------------
def target_rows(found: dict[str, Any]) -> list[tuple[str, str, str, bool | None]]:
    """(key, value, target, met) for each issue target that was measured; met None when not measured."""
    rows = []
    for key, limit, kind in TARGETS:
        value = found.get(key)
        if value is None:
            rows.append((key, "not measured", "true" if kind == "true" else f"<= {limit}", None))
            continue
        met = bool(value) if kind == "true" else float(value) <= float(limit)
        rows.append((key, str(value), "true" if kind == "true" else f"<= {limit}", met))
    return rows


def table(found: dict[str, Any]) -> str:
    rows = [(k, v, t, "ok" if m else ("-" if m is None else "MISSED")) for k, v, t, m in target_rows(found)]
    extra = [(k, str(found[k]), "", "") for k in ("build_s", "app_ready_s", "app_jack_ok", "app_jack_first_audio_s",
                                                  "tarball_mb", "wheel_mb", "wheel_assets_mb") if k in found]
    rows += extra
    width = [max(len(str(r[i])) for r in [("measure", "value", "target", "")] + rows) for i in range(4)]
    lines = [f"{'measure':<{width[0]}}  {'value':<{width[1]}}  {'target':<{width[2]}}  met"]
    lines += [f"{a:<{width[0]}}  {b:<{width[1]}}  {c:<{width[2]}}  {d}" for a, b, c, d in rows]
    return "\n".join(lines)


def all_met(found: dict[str, Any], skipped: set[str]) -> bool:
    return all(m for k, _, _, m in target_rows(found) if k not in skipped)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="build (if stale) and measure the one-folder app and the wheel")
    p.add_argument("--no-build", action="store_true", help="measure dist/lmd-studio as it is")
    p.add_argument("--skip-wheel", action="store_true", help="leave out the offline wheel install")
    p.add_argument("--skip-jack", action="store_true", help="leave out the JACK run")
    p.add_argument("--json", type=Path, default=ROOT / "runs" / "app-check.json")
    p.add_argument("--wheelhouse", type=Path, default=ROOT / "build" / "wheelhouse")
    p.add_argument("--runs", type=int, default=3, help="start-up runs (the medians are reported)")
    args = p.parse_args(argv)

    found: dict[str, Any] = {}
    if not args.no_build and build_app.is_stale():
        found |= build_app.build()
    elif build_app.BUILD_INFO.is_file():
        found |= json.loads(build_app.BUILD_INFO.read_text())
    if not (build_app.APP_DIR / bundle.APP_NAME).is_file():
        print(f"app_check: {build_app.APP_DIR} has no built app (run make app)", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="lmd-app-check-") as tmp:
        work = Path(tmp)
        found |= check_app(build_app.APP_DIR, work / "app", jack=not args.skip_jack, runs=args.runs)
        if not args.skip_wheel:
            found |= check_wheel(work / "wheel", args.wheelhouse)
    skipped = {"wheel_offline_ok"} if args.skip_wheel else set()
    found["targets_met"] = all_met(found, skipped)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(found, indent=2) + "\n")
    print(table(found))
    print(f"(details: {args.json})")
    return 0 if found["targets_met"] else 1


if __name__ == "__main__":
    sys.exit(main())
