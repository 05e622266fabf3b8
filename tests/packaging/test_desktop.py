"""The desktop entry validates (desktop-file-validate, and our own reading of the spec's required keys), its
icon exists at every size, and install-desktop.sh installs and uninstalls per user."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from PySide6 import QtGui

ROOT = Path(__file__).resolve().parents[2]
DESKTOP = ROOT / "packaging" / "lmd-studio.desktop"
INSTALL = ROOT / "packaging" / "install-desktop.sh"
ICONS = ROOT / "resources" / "icons"
SIZES_PX = (16, 24, 32, 48, 64, 128, 256, 512)
# freedesktop menu spec: registered main categories; Audio and Midi need AudioVideo beside them
MAIN_CATEGORIES = {"AudioVideo", "Audio", "Video", "Development", "Education", "Game", "Graphics", "Network",
                   "Office", "Science", "Settings", "System", "Utility"}


def _entry(path: Path) -> dict[str, str]:
    lines = [ln for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip() and not ln.startswith("#")]
    assert lines[0] == "[Desktop Entry]", f"{path.name}: the first group must be [Desktop Entry]"
    keys: dict[str, str] = {}
    for ln in lines[1:]:
        assert not ln.startswith("["), f"{path.name}: only the [Desktop Entry] group is expected"
        key, sep, value = ln.partition("=")
        assert sep and key.replace("-", "").isalnum(), f"{path.name}: '{ln}' is not KEY=VALUE"
        assert key not in keys, f"{path.name}: {key} appears twice"
        keys[key] = value
    return keys


def _validate(path: Path) -> None:
    tool = shutil.which("desktop-file-validate")
    if tool is None:
        pytest.fail("desktop-file-validate is missing: run `make test` (it installs desktop-file-utils)")
    result = subprocess.run([tool, str(path)], capture_output=True, text=True)
    assert result.returncode == 0 and not result.stdout.strip(), result.stdout + result.stderr


def test_desktop_file_passes_desktop_file_validate() -> None:
    _validate(DESKTOP)


def test_desktop_file_has_the_required_keys_and_music_categories() -> None:
    entry = _entry(DESKTOP)
    for key in ("Type", "Name", "Exec", "Icon"):
        assert entry.get(key), f"{DESKTOP.name}: {key} is required"
    assert entry["Type"] == "Application"
    categories = [c for c in entry["Categories"].split(";") if c]
    assert entry["Categories"].endswith(";")
    assert {"AudioVideo", "Audio", "Midi", "Music"} <= set(categories)
    assert MAIN_CATEGORIES & set(categories)
    assert entry["Terminal"] == "false"


def test_the_icon_exists_as_svg_and_at_every_png_size(qapp) -> None:
    name = _entry(DESKTOP)["Icon"]
    assert (ICONS / f"{name}.svg").is_file()
    for size in SIZES_PX:
        image = QtGui.QImage(str(ICONS / f"{name}-{size}.png"))
        assert (image.width(), image.height()) == (size, size), f"{name}-{size}.png is {image.size()}"
        centre = image.pixelColor(size // 2, size // 2)
        assert centre.alpha() == 255, f"{name}-{size}.png: the middle is transparent (empty render?)"


def test_install_desktop_installs_a_valid_entry_and_uninstalls_it(tmp_path: Path) -> None:
    program = tmp_path / "My Apps" / "lmd-studio"  # a space: Exec must quote it
    program.parent.mkdir()
    program.write_text("#!/bin/sh\n")
    program.chmod(0o755)
    env = dict(os.environ, XDG_DATA_HOME=str(tmp_path / "data"))
    subprocess.run(["bash", str(INSTALL), "--exec", str(program)], env=env, check=True, capture_output=True)
    installed = tmp_path / "data" / "applications" / "lmd-studio.desktop"
    _validate(installed)
    entry = _entry(installed)
    assert entry["Exec"] == f'"{program}"'
    assert entry["TryExec"] == str(program)
    icons = tmp_path / "data" / "icons" / "hicolor"
    assert (icons / "scalable" / "apps" / "lmd-studio.svg").is_file()
    for size in SIZES_PX:
        assert (icons / f"{size}x{size}" / "apps" / "lmd-studio.png").is_file()

    subprocess.run(["bash", str(INSTALL), "--uninstall"], env=env, check=True, capture_output=True)
    left = [p for p in (tmp_path / "data").rglob("lmd-studio*") if p.is_file()]
    assert not installed.exists() and left == []


def test_install_desktop_says_what_to_do_when_no_program_is_found(tmp_path: Path) -> None:
    lone = tmp_path / "install-desktop.sh"  # a copy with no app folder, .venv or PATH entry around it
    shutil.copy(INSTALL, lone)
    env = dict(os.environ, XDG_DATA_HOME=str(tmp_path / "data"), PATH="/usr/bin:/bin")
    result = subprocess.run(["bash", str(lone)], env=env, capture_output=True, text=True)
    assert result.returncode == 1
    assert "--exec" in result.stderr
