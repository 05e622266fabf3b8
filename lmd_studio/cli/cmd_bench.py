"""`lmd bench engine|model|midi|clock|…`: benchmarks that print a table, and JSON with --json.

Each benchmark is a module of lmd_studio/bench/ (add_arguments + run); adding one is one line here.
"""

from __future__ import annotations

import argparse

from lmd_studio.cli.registry import Command, CommandTable

BENCHMARKS = CommandTable("lmd bench", "bench", "BENCH", {
    "engine": Command("lmd_studio.bench.engine", "real-time engine through an audio server: underruns, lateness, control latency"),
    "model": Command("lmd_studio.bench.model", "LMDM token-passes and wall clock: naive vs enc-dec vs block-causal"),
    "midi": Command("lmd_studio.bench.midi", "MIDI message → parameter snapshot latency through JACK MIDI"),
    "clock": Command("lmd_studio.bench.clock", "MIDI clock out jitter/tempo through JACK MIDI; Ableton Link in a netns"),
    "input": Command("lmd_studio.bench.input", "audio input through JACK: round-trip compensation error, input overruns, aligned takes"),
    "rewind": Command("lmd_studio.bench.rewind", "rewind with a real model: bit-identical replay, memory of the kept states, reach, gap"),
    "recording": Command("lmd_studio.bench.recording", "recorder/retro-capture cost and disk speed"),
    "gui": Command("lmd_studio.bench.gui", "the studio window: start-up, Space → sound, GUI thread CPU playing/stopped"),
})


def add_arguments(parser: argparse.ArgumentParser) -> None:
    BENCHMARKS.add_to(parser)


def run(args: argparse.Namespace) -> int:
    return BENCHMARKS.run(args)
