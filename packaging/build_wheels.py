"""`make wheel`: the two wheels a pip install offline needs, in dist/.

    .venv/bin/python packaging/build_wheels.py [--out dist]

- lmd_studio-<version>-py3-none-any.whl: the code (pip wheel of this checkout, no network: the venv's own
  setuptools builds it).
- lmd_studio_assets-<version>-py3-none-any.whl: the companion holding models/default and resources/ as the
  package `lmd_studio_assets` (lmd_studio/core/assets.py finds it). A separate wheel because the default
  model is 57 MB and changes once per model release, while the code wheel is under 1 MB and changes with
  every commit: upgrading the code does not fetch the model again, and a code-only install (CI, a custom
  model) can skip it.

Both install together: `pip install --no-index --find-links dist lmd_studio*.whl` (the glob matches both).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

# run as a script, this folder is on sys.path (tests/packaging/support.py adds it for the tests)
import app_bundle as bundle
from build_app import version

ROOT = bundle.ROOT
ASSETS_DIST = "lmd-studio-assets"
ASSETS_PACKAGE = "lmd_studio_assets"  # lmd_studio.core.assets.ASSETS_PACKAGE (a test keeps them equal)

_ASSETS_INIT = '''"""LMD Studio's default model and resources, installed beside the lmd-studio code wheel.

lmd_studio.core.assets.asset_root() finds `models/` and `resources/` in this folder.
"""

from pathlib import Path

ROOT = Path(__file__).resolve().parent
'''

_ASSETS_PYPROJECT = '''[build-system]
requires = ["setuptools>=77"]
build-backend = "setuptools.build_meta"

[project]
name = "{dist}"
version = "{version}"
description = "LMD Studio's default model (models/default) and resources (icons), for the lmd-studio wheel"
requires-python = ">=3.10"
license = "MIT"  # the weights; the training data's licences are listed in models/default/MODEL_CARD.md

# namespaces: the data folders count as (namespace) packages, so setuptools ships them without a warning
[tool.setuptools.packages.find]
include = ["{package}*"]
namespaces = true

[tool.setuptools.package-data]
{package} = ["models/**/*", "resources/**/*"]
'''


def _pip_wheel(source: Path, out: Path) -> Path:
    """Build one wheel from `source` with this venv's setuptools (no build isolation: nothing to fetch)."""
    with tempfile.TemporaryDirectory(prefix="lmd-wheel-") as tmp:
        built_by = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                                   "--wheel-dir", tmp, str(source)], cwd=source, capture_output=True, text=True,
                                  env=dict(os.environ, PIP_NO_INDEX="1"))
        if built_by.returncode != 0:  # setuptools' deprecation notices are noise unless the build failed
            raise RuntimeError(f"pip wheel {source} failed:\n{built_by.stderr[-3000:]}")
        built = list(Path(tmp).glob("*.whl"))
        if len(built) != 1:
            raise RuntimeError(f"pip wheel {source} made {len(built)} wheels, expected one")
        target = out / built[0].name
        target.unlink(missing_ok=True)
        shutil.move(str(built[0]), target)
    return target


def build_code_wheel(out: Path) -> Path:
    # a stale build/lib from an earlier wheel could smuggle deleted modules into the new one; the
    # egg-info setuptools leaves in the checkout would pass for an installed lmd-studio on PYTHONPATH
    leftovers = (ROOT / "build" / "lib", ROOT / "lmd_studio.egg-info")
    for folder in leftovers:
        shutil.rmtree(folder, ignore_errors=True)
    try:
        return _pip_wheel(ROOT, out)
    finally:
        shutil.rmtree(ROOT / "lmd_studio.egg-info", ignore_errors=True)


def build_assets_wheel(out: Path) -> Path:
    with tempfile.TemporaryDirectory(prefix="lmd-assets-") as tmp:
        stage = Path(tmp)
        (stage / "pyproject.toml").write_text(_ASSETS_PYPROJECT.format(
            dist=ASSETS_DIST, version=version(), package=ASSETS_PACKAGE))
        package = stage / ASSETS_PACKAGE
        package.mkdir()
        (package / "__init__.py").write_text(_ASSETS_INIT)
        for folder in bundle.ASSET_DIRS:
            shutil.copytree(ROOT / folder, package / folder)
        return _pip_wheel(stage, out)


def build(out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    return [build_code_wheel(out), build_assets_wheel(out)]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="build the lmd-studio wheel and its assets companion")
    p.add_argument("--out", type=Path, default=ROOT / "dist")
    args = p.parse_args(argv)
    for wheel in build(args.out.resolve()):
        print(f"{wheel}  ({wheel.stat().st_size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
