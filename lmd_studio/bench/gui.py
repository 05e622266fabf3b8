"""`lmd bench gui`: the studio as a user meets it — start-up, Space → sound, and the GUI thread's CPU.

Each run starts the real `lmd-studio` entry point in a fresh process (a fresh temporary home, silent
`--audio null`) through `lmd_studio/bench/gui_probe.py`, which times it from inside:

- startup (`--runs` times each way): launch → first paint of the window; → ready (model loaded, engine
  primed); Space pressed at the first paint → first frames out; Space pressed 1 s after ready → first
  frames out. Default model: models/default.
- cpu: the GUI thread's CPU (% of one core) over `--seconds` playing and `--seconds` stopped at the
  window's 30 fps refresh, with the fake generator so the model's threads do not blur the reading.

Run it under a display (`xvfb-run -a lmd bench gui`) to measure a real window, or `--offscreen`.
`--code DIR` measures another checkout's studio (e.g. a `git worktree` of an older commit) with this
checkout's probe: the same numbers before and after a change. `--against DIR` does both in one run: the
CPU runs (`--cpu-runs`, default 3) alternate between this checkout and DIR, and the table gives the
medians side by side with their ratio (a shared VM's speed drifts by more than most changes are worth, so
only a ratio measured in one run says what a change did). `--cores N` pins the studio to N cores.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

_ROOT = Path(__file__).resolve().parents[2]
_PROBE = Path(__file__).resolve().with_name("gui_probe.py")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--scenario", choices=("startup", "cpu", "all"), default="all")
    p.add_argument("--model", default=str(_ROOT / "models" / "default"), help="model for the start-up runs")
    p.add_argument("--cpu-model", default="fake", help="model for the CPU runs (default: the test tones)")
    p.add_argument("--runs", type=int, default=3, help="start-up runs for each Space timing")
    p.add_argument("--seconds", type=float, default=20.0, help="cpu: seconds playing, then stopped")
    p.add_argument("--code", default=None, help="checkout whose lmd_studio is measured (default: this one)")
    p.add_argument("--against", default=None,
                   help="cpu: also measure this checkout, runs alternating with --code's, and report the ratio")
    p.add_argument("--cpu-runs", type=int, default=None, help="cpu: runs per checkout (default 1, or 3 with --against)")
    p.add_argument("--cores", type=int, default=0, help="pin the studio to this many cores (0: no pinning)")
    p.add_argument("--offscreen", action="store_true", help="QT_QPA_PLATFORM=offscreen instead of $DISPLAY")
    p.add_argument("--json", action="store_true", help="print JSON only")


def _probe_run(args: argparse.Namespace, probe_args: list[str], studio_args: list[str],
               code: str | None = None) -> dict:
    code = code if code is not None else args.code
    with tempfile.TemporaryDirectory(prefix="lmd-bench-gui-") as tmp:
        out = Path(tmp) / "result.json"
        env = dict(os.environ, LMD_STUDIO_HOME=str(Path(tmp) / "home"))
        env.pop("LMD_STUDIO_PLAY", None)
        if args.offscreen:
            env["QT_QPA_PLATFORM"] = "offscreen"
        if code:
            env["PYTHONPATH"] = os.pathsep.join(p for p in (str(Path(code).resolve()), env.get("PYTHONPATH")) if p)
        cores = args.cores

        def pin() -> None:
            os.sched_setaffinity(0, set(sorted(os.sched_getaffinity(0))[:cores]))

        env["LMD_BENCH_T0"] = repr(time.time())
        proc = subprocess.run([sys.executable, str(_PROBE), *probe_args, "--out", str(out), "--", *studio_args,
                               "--audio", "null"], env=env, cwd=code or _ROOT, capture_output=True, text=True,
                              timeout=600,
                              # pinning is Linux-only (sched_setaffinity), and Windows has no preexec_fn at all
                              preexec_fn=pin if cores > 0 else None)
        result = json.loads(out.read_text()) if out.exists() else {}
        result["rc"] = proc.returncode
        if proc.returncode != 0 or not out.exists():
            result["stderr_tail"] = proc.stderr[-2000:]
        return result


_CPU_KEYS = ("gui_cpu_playing_pct", "gui_cpu_stopped_pct", "process_cpu_playing_pct", "process_cpu_stopped_pct")


def _cpu_runs(args: argparse.Namespace) -> dict:
    """The CPU scenario: one run (the old output), or several, alternating with --against's checkout."""
    runs = args.cpu_runs if args.cpu_runs is not None else (3 if args.against else 1)
    probe, studio = ["--scenario", "cpu", "--seconds", str(args.seconds)], ["--model", args.cpu_model]
    mine: list[dict] = []
    theirs: list[dict] = []
    for _ in range(max(1, runs)):
        mine.append(_probe_run(args, probe, studio))
        if args.against:
            theirs.append(_probe_run(args, probe, studio, code=args.against))
    if len(mine) == 1 and not theirs:
        return {"cpu": mine[0]}
    out: dict = {"cpu": {"runs": mine, **{k: _median(mine, k) for k in _CPU_KEYS}}}
    if theirs:
        out["cpu_against"] = {"code": str(Path(args.against).resolve()), "runs": theirs,
                              **{k: _median(theirs, k) for k in _CPU_KEYS}}
        a, b = out["cpu"]["gui_cpu_playing_pct"], out["cpu_against"]["gui_cpu_playing_pct"]
        out["cpu_ratio_playing"] = round(a / b, 3) if a and b else None
    return out


def _median(runs: list[dict], key: str) -> float | None:
    values = [r[key] for r in runs if key in r]
    return round(statistics.median(values), 3) if values else None


def run(args: argparse.Namespace) -> int:
    if not args.offscreen and not os.environ.get("DISPLAY") and not os.environ.get("QT_QPA_PLATFORM"):
        print("no DISPLAY: measuring offscreen (run under `xvfb-run -a` for a real window)", file=sys.stderr)
        args.offscreen = True
    result: dict = {"code": str(Path(args.code).resolve()) if args.code else str(_ROOT), "cores": args.cores,
                    "platform": "offscreen" if args.offscreen else f"display {os.environ.get('DISPLAY', '')}"}
    if args.scenario in ("startup", "all"):
        at_show = [_probe_run(args, ["--scenario", "startup", "--press", "show"], ["--model", args.model])
                   for _ in range(args.runs)]
        at_ready = [_probe_run(args, ["--scenario", "startup", "--press", "ready"], ["--model", args.model])
                    for _ in range(args.runs)]
        result["startup"] = {
            "model": args.model, "runs": at_show + at_ready,
            "window_shown_s": _median(at_show + at_ready, "shown_s"),
            "ready_s": _median(at_show + at_ready, "ready_s"),
            "space_at_show_to_sound_s": _median(at_show, "press_to_sound_s"),
            "launch_to_sound_s": _median(at_show, "sound_s"),
            "space_when_ready_to_sound_s": _median(at_ready, "press_to_sound_s"),
        }
    if args.scenario in ("cpu", "all"):
        result |= _cpu_runs(args)
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    rows = [("checkout", result["code"]), ("platform", result["platform"])]
    if "startup" in result:
        s = result["startup"]
        rows += [(f"start-up ({args.runs}+{args.runs} runs, median)", s["model"]),
                 ("  launch → window shown", f"{s['window_shown_s']} s"),
                 ("  launch → ready", f"{s['ready_s']} s"),
                 ("  Space at first paint → sound", f"{s['space_at_show_to_sound_s']} s "
                                                    f"(launch → sound {s['launch_to_sound_s']} s)"),
                 ("  Space 1 s after ready → sound", f"{s['space_when_ready_to_sound_s']} s")]
    if "cpu" in result:
        c = result["cpu"]
        rows += [(f"GUI thread CPU ({args.seconds:.0f} s each, model {args.cpu_model})", ""),
                 ("  playing", f"{c.get('gui_cpu_playing_pct')} % of a core "
                               f"(process {c.get('process_cpu_playing_pct')} %)"),
                 ("  stopped", f"{c.get('gui_cpu_stopped_pct')} % of a core "
                               f"(process {c.get('process_cpu_stopped_pct')} %)")]
        if "runs" in c:
            rows += [("  runs (playing)", ", ".join(str(r.get("gui_cpu_playing_pct")) for r in c["runs"]))]
    if "cpu_against" in result:
        o = result["cpu_against"]
        rows += [(f"GUI thread CPU of {o['code']}", ""),
                 ("  playing / stopped", f"{o.get('gui_cpu_playing_pct')} % / {o.get('gui_cpu_stopped_pct')} % "
                                         f"(runs {', '.join(str(r.get('gui_cpu_playing_pct')) for r in o['runs'])})"),
                 ("  ratio playing (this / that)", str(result.get("cpu_ratio_playing")))]
    width = max(len(k) for k, _ in rows)
    for k, v in rows:
        print(f"{k:<{width}}  {v}")
    cpu_runs = [result[k].get("runs", [result[k]]) for k in ("cpu", "cpu_against") if k in result]
    failed = [r for r in result.get("startup", {}).get("runs", []) + [r for rs in cpu_runs for r in rs]
              if r and r.get("rc")]
    for r in failed:
        print(f"a run failed (rc {r['rc']}): {r.get('stderr_tail', '')}", file=sys.stderr)
    print(json.dumps({k: v for k, v in result.items() if k != "startup"} | (
        {"startup": {k: v for k, v in result["startup"].items() if k != "runs"}} if "startup" in result else {})))
    return 1 if failed else 0
