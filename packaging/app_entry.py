"""The one-folder app's entry point (packaging/lmd-studio.spec freezes this script).

It runs the `lmd-studio` console script, found by that name in the bundled package metadata, so no module
path is written here that a refactor could move: pyproject.toml's [project.scripts] stays the one place.

It also stands in for the Python interpreter. The studio starts helper processes as `sys.executable -m
MODULE …` (the audio device process) or `sys.executable -c CODE`, and inside the app sys.executable is this
program: without the stand-in each helper would open a second studio instead.

`LMD_STUDIO_PROBE` (a JSON list of arguments) runs the studio under the start-up probe that `lmd bench gui`
uses (`packaging/app_check.py` sets it): the built app timed from inside, the way the checkout's is.
"""

from __future__ import annotations

import importlib
import json
import os
import runpy
import sys
from importlib import metadata

CONSOLE_SCRIPT = "lmd-studio"
PROBE_ENV = "LMD_STUDIO_PROBE"
PROBE_MODULE = "lmd_studio.bench.gui_probe"
# interpreter flags that may precede -m/-c (multiprocessing adds the parent's); they change nothing here
_IGNORED_FLAGS = frozenset({"-B", "-E", "-I", "-O", "-OO", "-P", "-s", "-S", "-u"})


def console_script_target(name: str = CONSOLE_SCRIPT) -> str:
    """'module:function' of the named console script, from the installed (or bundled) metadata."""
    found = metadata.entry_points(group="console_scripts", name=name)
    for entry in found:
        return str(entry.value)
    raise LookupError(f"no console script {name!r} in the package metadata (is lmd-studio installed?)")


def run_as_interpreter(argv: list[str]) -> bool:
    """Run `-m MODULE args…` or `-c CODE args…` as python would; False when argv is not such a call."""
    rest = argv[1:]
    while rest and rest[0] in _IGNORED_FLAGS:
        rest = rest[1:]
    if len(rest) < 2 or rest[0] not in ("-m", "-c"):
        return False
    flag, target, args = rest[0], rest[1], rest[2:]
    if flag == "-m":
        sys.argv = [target, *args]  # runpy puts the module's file in argv[0], as python -m does
        runpy.run_module(target, run_name="__main__", alter_sys=True)
    else:
        sys.argv = ["-c", *args]
        exec(compile(target, "<string>", "exec"), {"__name__": "__main__"})  # noqa: S102 (python -c)
    return True


def main() -> int:
    if run_as_interpreter(sys.argv):
        return 0
    probe = os.environ.pop(PROBE_ENV, None)  # popped: helper processes must not run the probe too
    if probe is not None:
        return int(importlib.import_module(PROBE_MODULE).main([str(a) for a in json.loads(probe)]))
    module_name, _, function = console_script_target().partition(":")
    return int(getattr(importlib.import_module(module_name), function)() or 0)


if __name__ == "__main__":
    # multiprocessing's own children (resource tracker, spawn) re-enter here as `-c`/`--multiprocessing-fork`
    import multiprocessing

    multiprocessing.freeze_support()
    sys.exit(main())
