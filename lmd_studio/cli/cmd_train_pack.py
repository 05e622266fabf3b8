"""`lmd train pack RUN --out FILE`: a run folder's training state as one safetensors file to commit.

Run folders live beside the repository and do not outlive the machine; a pack in the repository does
(training/run_pack.py says what it holds and why).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run", type=Path, help="training run folder (holds last.pt)")
    parser.add_argument("--out", type=Path, required=True, help="the pack file to write (.safetensors)")
    parser.add_argument("--exact", action="store_true",
                        help="keep the optimizer's moments at full precision (default: bfloat16, half the size)")


def run(args: argparse.Namespace) -> int:
    from lmd_studio.model.checkpoint import CheckpointError
    from lmd_studio.training.run_pack import describe, pack_run

    try:
        path = pack_run(args.run, args.out, exact=args.exact)
    except (CheckpointError, ValueError, TypeError, OSError) as exc:
        print(f"lmd train pack: {exc}", file=sys.stderr)
        return 2
    print(describe(path))
    return 0
