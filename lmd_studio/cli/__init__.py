"""The command line, the top layer: `lmd` (this module), `lmd-studio` (studio.py), one module per command.

Every `lmd` command lives in its own `cmd_*.py` module and is imported only when used (registry.py), so
`lmd devices` never loads torch and `lmd train` never loads Qt.
"""

from __future__ import annotations

import argparse
import sys

from lmd_studio.cli.process_env import set_process_defaults
from lmd_studio.cli.registry import Command, CommandTable

COMMANDS = CommandTable("lmd", "command", "COMMAND", {
    "render": Command("lmd_studio.cli.cmd_render", "render audio offline through the engine to a WAV/FLAC file"),
    "jam": Command("lmd_studio.cli.cmd_jam", "play along with a recorded part offline (jam mode from a file)"),
    "devices": Command("lmd_studio.cli.cmd_devices", "list audio and MIDI devices"),
    "bench": Command("lmd_studio.cli.cmd_bench", "benchmarks: engine, model, midi (table + --json)"),
    "data": Command("lmd_studio.cli.cmd_data", "build the training corpus (lmd data build)"),
    "train": Command("lmd_studio.cli.cmd_train", "training recipes: codec, base, lmdm, arc, lora"),
    "codec": Command("lmd_studio.cli.cmd_codec", "codec evaluation (lmd codec eval)"),
    "eval": Command("lmd_studio.cli.cmd_eval", "evaluate a model (FD, prompt adherence, drift, controls)"),
    "model": Command("lmd_studio.cli.cmd_model", "model management (lmd model export)"),
})


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The `lmd` parser; only the command `only` (none when None) gets its flags, i.e. is imported."""
    parser = argparse.ArgumentParser(prog="lmd", description="LMD Studio command line")
    COMMANDS.add_to(parser, load=() if only is None else (only,))
    return parser


def main(argv: list[str] | None = None) -> int:
    set_process_defaults()
    argv = list(sys.argv[1:] if argv is None else argv)
    command = next((a for a in argv if not a.startswith("-")), None)
    if command not in COMMANDS:
        build_parser().print_help()
        return 0 if command is None else 2
    return COMMANDS.run(build_parser(only=command).parse_args(argv))
