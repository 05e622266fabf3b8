"""The one command table behind `lmd`, `lmd bench` and `lmd train`: a command's module loads only when its
parser is built, a group dispatches to the command chosen inside it, and a module that cannot be
imported leaves its command listed with a clear message."""

from __future__ import annotations

import argparse
import importlib
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from lmd_studio.cli import COMMANDS, main
from lmd_studio.cli.cmd_bench import BENCHMARKS
from lmd_studio.cli.cmd_train import RECIPES
from lmd_studio.cli.process_env import set_process_defaults
from lmd_studio.cli.registry import Command, CommandTable

LEAF = """
import argparse

def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--size", type=int, default=1)

def run(args: argparse.Namespace) -> int:
    print(f"{__name__} size={args.size}")
    return args.size
"""

GROUP = """
import argparse
from lmd_studio.cli.registry import Command, CommandTable

INNER = CommandTable("demo group", "inner", "INNER", {
    "one": Command("h1reg_leaf_one", "the first"),
    "gone": Command("h1reg_not_installed", "needs a package this build lacks"),
})

def add_arguments(p: argparse.ArgumentParser) -> None:
    INNER.add_to(p)

def run(args: argparse.Namespace) -> int:
    return INNER.run(args)
"""


@pytest.fixture
def table(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CommandTable:
    (tmp_path / "h1reg_leaf_one.py").write_text(textwrap.dedent(LEAF))
    (tmp_path / "h1reg_leaf_two.py").write_text(textwrap.dedent(LEAF))
    (tmp_path / "h1reg_group.py").write_text(textwrap.dedent(GROUP))
    monkeypatch.syspath_prepend(str(tmp_path))
    for name in ("h1reg_leaf_one", "h1reg_leaf_two", "h1reg_group"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    return CommandTable("demo", "command", "COMMAND", {
        "one": Command("h1reg_leaf_one", "the first"),
        "two": Command("h1reg_leaf_two", "the second"),
        "group": Command("h1reg_group", "a group of commands"),
    })


def _parse(table: CommandTable, argv: list[str], load: tuple[str, ...] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="demo")
    table.add_to(parser, load=load)
    return parser.parse_args(argv)


def test_only_the_chosen_command_is_imported(table: CommandTable, capsys: pytest.CaptureFixture[str]) -> None:
    args = _parse(table, ["two", "--size", "3"], load=("two",))
    assert "h1reg_leaf_two" in sys.modules and "h1reg_leaf_one" not in sys.modules
    assert table.run(args) == 3
    assert capsys.readouterr().out == "h1reg_leaf_two size=3\n"


def test_a_group_runs_the_command_chosen_inside_it(table: CommandTable,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    args = _parse(table, ["group", "one", "--size", "5"], load=("group",))
    assert (args.command, args.inner) == ("group", "one")
    assert table.run(args) == 5
    assert capsys.readouterr().out == "h1reg_leaf_one size=5\n"


def test_a_command_whose_module_is_missing_says_so(table: CommandTable,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    args = _parse(table, ["group", "gone", "--any", "flags"], load=("group",))
    assert table.run(args) == 2
    err = capsys.readouterr().err
    assert err == "demo group gone: not available in this build (No module named 'h1reg_not_installed')\n"


def test_every_listed_module_exists_and_has_the_command_functions() -> None:
    for table in (COMMANDS, BENCHMARKS, RECIPES):
        for name, command in table.commands.items():
            module = importlib.import_module(command.module)
            assert callable(module.add_arguments) and callable(module.run), f"{table.prog} {name}"


def test_lmd_without_a_known_command_prints_the_list(capsys: pytest.CaptureFixture[str],
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMP_WAIT_POLICY", "ACTIVE")
    assert main([]) == 0
    assert os.environ["OMP_WAIT_POLICY"] == "ACTIVE"  # the user's own setting is kept
    assert "render" in capsys.readouterr().out
    assert main(["no-such-command"]) == 2
    assert "COMMAND" in capsys.readouterr().out


def test_the_process_defaults_make_openmp_threads_wait_passively(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    set_process_defaults()
    assert os.environ["OMP_WAIT_POLICY"] == "PASSIVE"


def test_lmd_devices_and_lmd_bench_midi_load_no_torch_and_no_qt() -> None:
    code = ("import sys; from lmd_studio.cli import build_parser; build_parser(only='devices');"
            "build_parser(only='bench'); print(sorted(m for m in ('torch', 'PySide6') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "[]"
