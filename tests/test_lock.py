"""The lock file (packaging/constraints.txt) pins every dependency, agrees with pyproject.toml's ranges, and
is what this environment runs: the suite's result speaks for the locked versions."""

from __future__ import annotations

import re
import sys
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "packaging" / "constraints.txt"
tomllib = pytest.importorskip("tomllib", reason="needs Python >= 3.11 to read pyproject.toml")


def _lock() -> dict[str, Version]:
    pins: dict[str, Version] = {}
    for raw in LOCK.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, version = line.partition("==")
        assert sep, f"{LOCK.name}: '{line}' is not an exact pin (NAME==VERSION)"
        pins[canonicalize_name(name)] = Version(version)
    return pins


def _declared() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = [Requirement(r) for r in project["dependencies"]]
    for extra in ("dev", "app"):  # setup.sh installs both into the checkout's venv
        reqs += [Requirement(r) for r in project["optional-dependencies"][extra]]
    return reqs


def _lock_python() -> str:
    m = re.search(r"with Python (\d+\.\d+)", LOCK.read_text())
    assert m, f"{LOCK.name}: header must name the Python version it was made with"
    return m.group(1)


def test_every_declared_dependency_is_pinned_within_its_range() -> None:
    pins = _lock()
    for req in _declared():
        name = canonicalize_name(req.name)
        assert name in pins, f"{req.name} is in pyproject.toml but not pinned in {LOCK.name}"
        assert req.specifier.contains(pins[name], prereleases=True), (
            f"{LOCK.name} pins {req.name}=={pins[name]}, outside pyproject.toml's '{req.specifier}'")


def test_lock_excludes_the_known_broken_pyside() -> None:
    # PySide6 6.12.0 kills the GUI (tests/gui/test_qt_binding.py); the lock must never pick it
    assert _lock()[canonicalize_name("PySide6-Essentials")] != Version("6.12.0")


def test_this_environment_runs_the_locked_versions() -> None:
    py = f"{sys.version_info[0]}.{sys.version_info[1]}"
    if py != _lock_python():
        pytest.skip(f"lock made with Python {_lock_python()}, this is {py}: setup.sh installs unlocked here")
    mismatched = []
    for name, version in _lock().items():
        try:
            installed = Version(metadata.version(name))
        except metadata.PackageNotFoundError:
            mismatched.append(f"{name}: locked {version}, not installed")
            continue
        if installed.public != version.public:
            mismatched.append(f"{name}: locked {version}, installed {installed}")
    assert not mismatched, "run `make setup` (or packaging/setup.sh) to match the lock:\n" + "\n".join(mismatched)
