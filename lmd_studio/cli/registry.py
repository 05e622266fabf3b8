"""One lazy command table, used by `lmd` and by its command groups (`lmd bench …`, `lmd train …`).

A table maps a command name to the module that implements it and a one-line help. Each module defines
`add_arguments(parser)` and `run(args) -> int`. A module is imported only when its parser is built: the
top level builds only the command on the command line (so `lmd devices` never loads torch and `lmd train`
never loads Qt); a group builds all of its own, each keeping torch and Qt inside `run`. A module that
cannot be imported (a build without its extras) leaves its command listed, saying so when it is run.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Collection, Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Command:
    module: str  # dotted name of the module with add_arguments(parser) and run(args) -> int
    help: str


@dataclass(frozen=True)
class CommandTable:
    prog: str  # how messages name the table: "lmd", "lmd bench"
    dest: str  # the argparse.Namespace attribute that holds the chosen command's name
    metavar: str  # how --help shows the choice
    commands: Mapping[str, Command]

    def __contains__(self, name: object) -> bool:
        return name in self.commands

    def add_to(self, parser: argparse.ArgumentParser, load: Collection[str] | None = None) -> None:
        """One sub-parser per command; the commands in `load` (all when None) get their module's flags."""
        sub = parser.add_subparsers(dest=self.dest, metavar=self.metavar, required=True)
        for name, command in self.commands.items():
            if load is not None and name not in load:
                sub.add_parser(name, help=command.help)
                continue
            try:
                module = importlib.import_module(command.module)
            except ModuleNotFoundError as exc:
                # it cannot say which flags it would take, so it takes any: running it says what is missing
                p = sub.add_parser(name, help=command.help, add_help=False, prefix_chars="\0")
                p.add_argument(self._missing + "_args", nargs="*", help=argparse.SUPPRESS)
                p.set_defaults(**{self._missing: str(exc)})
                continue
            module.add_arguments(sub.add_parser(name, help=command.help))

    def run(self, args: argparse.Namespace) -> int:
        """Run the command `args` chose (parsed by a parser this table was added to)."""
        name = getattr(args, self.dest)
        missing = getattr(args, self._missing, None)
        if missing is not None:
            print(f"{self.prog} {name}: not available in this build ({missing})", file=sys.stderr)
            return 2
        return int(importlib.import_module(self.commands[name].module).run(args) or 0)

    @property
    def _missing(self) -> str:
        return f"_{self.dest}_missing"
