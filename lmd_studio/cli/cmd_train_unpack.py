"""`lmd train unpack FILE --out RUN`: a run folder again from a pack, so `lmd train <stage> --out RUN`
resumes where the packed run stopped (training/run_pack.py)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("pack", type=Path, help="a pack written by `lmd train pack`")
    parser.add_argument("--out", type=Path, required=True, help="the run folder to recreate")
    parser.add_argument("--force", action="store_true", help="replace a checkpoint already in the run folder")
    parser.add_argument("--dry-run", action="store_true", help="only say what the pack holds")


def run(args: argparse.Namespace) -> int:
    from lmd_studio.model.checkpoint import CheckpointError
    from lmd_studio.training.run_pack import describe, unpack_run

    try:
        print(describe(args.pack))
        if args.dry_run:
            return 0
        result = unpack_run(args.pack, args.out, force=args.force)
    except (CheckpointError, FileExistsError, OSError) as exc:
        print(f"lmd train unpack: {exc}", file=sys.stderr)
        return 2
    print(f"run folder {result['run']} at step {result['step']}: resume with `lmd train <stage> --out {result['run']}`")
    return 0
