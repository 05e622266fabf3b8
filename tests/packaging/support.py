"""Loads the scripts in packaging/ (a folder of scripts, not a package: `packaging` is pip's library)."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]
PACKAGING = ROOT / "packaging"


def load_script(name: str) -> ModuleType:
    """packaging/<name>.py, imported by its plain name as the scripts import each other. The folder is
    appended to sys.path, so none of its names can shadow an installed module."""
    if str(PACKAGING) not in sys.path:
        sys.path.append(str(PACKAGING))
    module = importlib.import_module(name)
    assert Path(module.__file__ or "").parent == PACKAGING, f"{name} was imported from {module.__file__}"
    return module
