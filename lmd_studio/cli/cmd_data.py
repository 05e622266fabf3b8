"""`lmd data build` / `lmd data report`: the training corpus from real audio and scores (see data/builder.py)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="data_command", metavar="ACTION", required=True)
    b = sub.add_parser("build", help="render the corpus (resumable; rerun the same command to continue)")
    b.add_argument("--size", choices=("tiny", "small", "full"), default="small",
                   help="tiny: seconds (tests); small: ~1 h of audio; full: >= 20 h")
    b.add_argument("--out", type=Path, default=None, help="corpus folder (default: the user data dir)")
    b.add_argument("--seed", type=int, default=0)
    b.add_argument("--workers", type=int, default=2, help="worker processes (default 2 = both cores)")
    b.add_argument("--include-noncommercial", action="store_true",
                   help="also use sources licensed for non-commercial use only (recorded per item)")
    b.add_argument("--no-progress", action="store_true", help="no progress bar (logs)")
    b.add_argument("--only", action="append", default=None, metavar="KIND",
                   help="render only this kind's jobs now (score, sample, drums, mix, produced; repeatable); "
                        "the folder stays resumable into the whole corpus")
    b.add_argument("--sonic-pi-dir", type=Path, default=None, help="override the sonic-pi-samples folder")
    b.add_argument("--hydrogen-dir", type=Path, default=None, help="override the hydrogen-drumkits folder")
    b.add_argument("--sf2", type=Path, default=None, help="override FluidR3_GM.sf2")
    b.add_argument("--sf3", type=Path, default=None, help="override MuseScore_General_Full.sf3")
    b.add_argument("--no-stems", action="store_true",
                   help="skip the partner stems of multi-part items (melody/accompaniment, drums/band)")
    b.add_argument("--no-revoice", action="store_true",
                   help="skip the re-voiced renders of score and mix items (the same notes on other instruments), "
                        "and their backfill into an existing corpus")
    b.add_argument("--json", action="store_true", help="print the build report as JSON")
    r = sub.add_parser("report", help="print the build report of a corpus folder")
    r.add_argument("--corpus", type=Path, default=None)
    r.add_argument("--json", action="store_true")


def _paths(args: argparse.Namespace):
    from lmd_studio.data.sources import SourcePaths

    base = SourcePaths()
    return SourcePaths(sonic_pi_dir=args.sonic_pi_dir or base.sonic_pi_dir,
                       hydrogen_dir=args.hydrogen_dir or base.hydrogen_dir,
                       sf2_path=args.sf2 or base.sf2_path, sf3_path=args.sf3 or base.sf3_path)


def run(args: argparse.Namespace) -> int:
    from lmd_studio.data.builder import BuildConfig, BuildError, build_corpus, default_corpus_dir
    from lmd_studio.data.sources import MissingSourceError

    if args.data_command == "report":
        folder = args.corpus or default_corpus_dir()
        path = folder / ("report.json" if args.json else "report.md")
        if not path.exists():
            print(f"lmd data report: no report in {folder} (run `lmd data build --out {folder}` first)",
                  file=sys.stderr)
            return 2
        print(path.read_text(encoding="utf-8"))
        return 0
    out = args.out or default_corpus_dir()
    try:
        cfg = BuildConfig(out_dir=out, size=args.size, seed=args.seed, workers=args.workers,
                          include_noncommercial=args.include_noncommercial, sources=_paths(args),
                          progress=not args.no_progress, stems=not args.no_stems, revoice=not args.no_revoice,
                          only_kinds=tuple(args.only) if args.only else None)
        rep = build_corpus(cfg)
    except (MissingSourceError, BuildError, ValueError) as exc:
        print(f"lmd data build: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"\nlmd data build: interrupted; rerun the same command to resume ({out})", file=sys.stderr)
        return 130
    if args.json:
        print(json.dumps(rep, indent=2, sort_keys=True))
    else:
        print(f"built {rep['items']} items, {rep['hours']:.3f} h of audio in {out} "
              f"({rep['skipped']} skipped; report: {out / 'report.md'})")
    return 0
