"""The `lmd` command. Each subcommand lives in its own module and is imported only when used, so
`lmd devices` never loads torch and `lmd train` never loads Qt."""

from __future__ import annotations

import argparse
import importlib
import os
import sys

# subcommand → module that defines `add_arguments(parser)` and `run(args) -> int`
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "render": ("lmd_studio.app.cmd_render", "render audio offline through the engine to a WAV/FLAC file"),
    "devices": ("lmd_studio.app.cmd_devices", "list audio and MIDI devices"),
    "bench": ("lmd_studio.app.cmd_bench", "benchmarks: engine, model, midi (table + --json)"),
    "data": ("lmd_studio.data.cmd_data", "build the training corpus (lmd data build)"),
    "train": ("lmd_studio.training.cmd_train", "training recipes: codec, base, lmdm, arc, lora"),
    "codec": ("lmd_studio.training.cmd_codec", "codec evaluation (lmd codec eval)"),
    "eval": ("lmd_studio.training.cmd_eval", "evaluate a model (FD, prompt adherence, drift, controls)"),
    "model": ("lmd_studio.training.cmd_model", "model management (lmd model export)"),
}


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lmd", description="LMD Studio command line")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module_name, help_text) in SUBCOMMANDS.items():
        p = sub.add_parser(name, help=help_text)
        if only == name:
            module = importlib.import_module(module_name)
            module.add_arguments(p)
            p.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    # OpenMP threads that spin while waiting starve everything else on a 2-core laptop (measured: a
    # block-causal block took 2228 ms instead of 100 ms under load with the default policy); must be set
    # before torch loads.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    argv = list(sys.argv[1:] if argv is None else argv)
    command = next((a for a in argv if not a.startswith("-")), None)
    if command not in SUBCOMMANDS:
        build_parser().print_help()
        return 0 if command is None else 2
    try:
        parser = build_parser(only=command)
    except ModuleNotFoundError as exc:
        print(f"lmd {command}: not available in this build ({exc})", file=sys.stderr)
        return 2
    args = parser.parse_args(argv)
    return int(args._run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
