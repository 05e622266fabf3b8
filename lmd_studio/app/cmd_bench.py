"""`lmd bench engine|model|midi|clock|…`: benchmarks that print a table, and JSON with --json.

Each benchmark module defines `add_arguments(parser)` and `run(args) -> int`; they are imported lazily so
`lmd bench midi` does not load torch.
"""

from __future__ import annotations

import argparse
import importlib

BENCHMARKS: dict[str, tuple[str, str]] = {
    "engine": ("lmd_studio.bench.engine", "real-time engine through an audio server: underruns, lateness, control latency"),
    "model": ("lmd_studio.bench.model", "LMDM token-passes and wall clock: naive vs enc-dec vs block-causal"),
    "midi": ("lmd_studio.bench.midi", "MIDI message → parameter snapshot latency through JACK MIDI"),
    "clock": ("lmd_studio.bench.clock", "MIDI clock out jitter/tempo through JACK MIDI; Ableton Link in a netns"),
    "recording": ("lmd_studio.bench.recording", "recorder/retro-capture cost and disk speed"),
    "gui": ("lmd_studio.bench.gui", "the studio window: start-up, Space → sound, GUI thread CPU playing/stopped"),
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="bench", metavar="BENCH", required=True)
    for name, (module_name, help_text) in BENCHMARKS.items():
        p = sub.add_parser(name, help=help_text)
        p.set_defaults(_bench_module=module_name)
        try:
            importlib.import_module(module_name).add_arguments(p)
        except ModuleNotFoundError:
            p.set_defaults(_missing=True)


def run(args: argparse.Namespace) -> int:
    if getattr(args, "_missing", False):
        print(f"lmd bench {args.bench}: not available in this build")
        return 2
    return int(importlib.import_module(args._bench_module).run(args) or 0)
