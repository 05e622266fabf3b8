"""Where the files that ship beside the code live: `models/` (the default model) and `resources/` (icons).

Three ways LMD Studio is installed, one layout, so callers only ever ask for `asset_root() / "models"`:
- a checkout: the repository root, beside `lmd_studio/`;
- the one-folder app (`make app`): PyInstaller puts `models/` and `resources/` beside the bundled
  `lmd_studio` package (packaging/lmd-studio.spec), so the checkout's relative path holds there too;
- a wheel install: they come in the companion wheel `lmd-studio-assets` (package `lmd_studio_assets`,
  built by packaging/build_wheels.py). A companion rather than package data because the model is 57 MB
  and changes once per model release, while the code wheel (< 1 MB) changes with every commit.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from importlib.machinery import ModuleSpec
from pathlib import Path

ASSETS_PACKAGE = "lmd_studio_assets"
# lmd_studio/core/assets.py → the folder that holds lmd_studio/ (a checkout's root, or the app bundle's)
CODE_ROOT = Path(__file__).resolve().parents[2]

SpecFinder = Callable[[str], "ModuleSpec | None"]


def holds_assets(folder: Path) -> bool:
    """Both folders, not just `models/`: site-packages may hold some other distribution's `models`."""
    return (folder / "models").is_dir() and (folder / "resources").is_dir()


def asset_root(code_root: Path = CODE_ROOT, find_spec: SpecFinder = importlib.util.find_spec) -> Path:
    """The folder holding `models/` and `resources/`: beside the code (a checkout or the app), else the
    installed companion package; when neither has them, beside the code (callers then report the missing
    file, as they do in a checkout without a trained model)."""
    if holds_assets(code_root):
        return code_root
    spec = find_spec(ASSETS_PACKAGE)
    for location in (spec.submodule_search_locations or []) if spec is not None else []:
        if holds_assets(Path(location)):
            return Path(location)
    return code_root
