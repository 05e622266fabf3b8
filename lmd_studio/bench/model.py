"""`lmd bench model`: token-passes and wall clock of naive outpainting vs enc-dec vs block-causal.

Prints a table (and JSON with --json): for each (s, o, K) the token-passes per block counted by
instrumentation next to the formula, the measured milliseconds per block of each mode side by side, the
real-time factor of the full step (diffusion + codec decode), memory, and achieved GFLOP/s as a fraction of
this machine's matmul peak measured in the same run (fp32 and bf16). The same command runs on a GPU with
`--device cuda`. torch is imported only inside run() (model_runner.py), so `lmd bench` stays light.

The JSON result is also written to `--out` (default `runs/bench/model-<UTC time>.json` under the current
folder) and rewritten after every measured section, with `"complete": false` until the end: a run that
fails late (or is interrupted) keeps every figure measured before. Features this CPU lacks (bf16 on AVX2)
are reported as skipped, with the reason, never as a crash.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

DEFAULT_OUT_DIR = Path("runs") / "bench"


def _size(text: str) -> tuple[int, int]:
    try:
        s, o = (int(v) for v in text.split(":"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected S:O (context:block frames), got {text!r}") from None
    if s <= 0 or o <= 0 or s % o:
        raise argparse.ArgumentTypeError(f"need s, o > 0 with s a multiple of o, got {text!r}")
    return s, o


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sizes", type=_size, nargs="+", default=None, metavar="S:O",
                        help="context:block latent frames to compare at (default: the model's, 4:1 at its block "
                             "size, the paper's 192:48, and 384:96)")
    parser.add_argument("--steps", "-K", type=int, default=8, help="denoising steps per block (default 8)")
    parser.add_argument("--blocks", type=int, default=12, help="timed blocks per mode (default 12)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed blocks after the context fills")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda[:N]")
    parser.add_argument("--model", default=None, help="a models/<name>/ folder (default: models/default if it "
                                                      "has been trained, else random weights of the default size)")
    parser.add_argument("--sampler", default="pingpong", choices=("euler", "pingpong", "pingpong++"))
    parser.add_argument("--no-bf16", action="store_true", help="skip the bf16 measurements")
    parser.add_argument("--codec", default="auto", choices=("auto", "none"),
                        help="auto: the trained codec if present, else a random-weight codec of the same size")
    parser.add_argument("--d-model", type=int, default=None, help="override the model width (random weights)")
    parser.add_argument("--layers", type=int, default=None, help="override the layer count (random weights)")
    parser.add_argument("--heads", type=int, default=None, help="override the head count (random weights)")
    parser.add_argument("--clock", default="wall", choices=("wall", "cpu"),
                        help="wall (default) or this process's CPU time: on a machine busy with other jobs, "
                             "`--clock cpu --threads 1` estimates what an idle core would take")
    parser.add_argument("--json", action="store_true", help="print JSON instead of the table")
    parser.add_argument("--out", type=Path, default=None, metavar="FILE",
                        help="JSON results file, rewritten after each measured section so a late failure loses "
                             "nothing (default: runs/bench/model-<UTC time>.json in the current folder)")


def run(args: argparse.Namespace) -> int:
    from lmd_studio.bench.model_runner import BenchError, BenchSettings, print_table, run_benchmark

    if args.steps < 1 or args.blocks < 1 or args.warmup < 0 or args.threads < 1:
        print("lmd bench model: --steps, --blocks and --threads must be >= 1, --warmup >= 0")
        return 2
    settings = BenchSettings(sizes=tuple(args.sizes) if args.sizes else (), steps=args.steps,
                             blocks=args.blocks, warmup=args.warmup, threads=args.threads, device=args.device,
                             model_dir=args.model, sampler=args.sampler, bf16=not args.no_bf16,
                             codec=args.codec, clock=args.clock, d_model=args.d_model, layers=args.layers,
                             heads=args.heads)
    out = args.out or DEFAULT_OUT_DIR / time.strftime("model-%Y%m%d-%H%M%S.json", time.gmtime())
    saved: list[bool] = []  # whether any section reached the file, for the message on failure

    def save(result: dict[str, Any]) -> None:
        _write_json(out, result)
        saved.append(True)

    try:
        result = run_benchmark(settings, on_section=save)
    except BenchError as exc:
        print(f"lmd bench model: {exc}")
        return 2
    except BaseException:
        # the traceback still follows (a failure we did not foresee is a bug to see), but say where the
        # figures measured so far are
        if saved:
            print(f"lmd bench model: failed; the sections measured before are in {out}", file=sys.stderr)
        raise
    if args.json:
        print(json.dumps(result, indent=2))
        print(f"results written to {out}", file=sys.stderr)
    else:
        print_table(result)
        print(f"results written to {out}")
    return 0


def _write_json(path: Path, result: dict[str, Any]) -> None:
    """Write whole or not at all (temporary file, then rename): a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)
