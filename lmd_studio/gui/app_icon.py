"""The application's identity on the desktop: its icon, and the names that tie the window to its desktop
entry (packaging/lmd-studio.desktop), so a taskbar or dock shows the LMD Studio icon, not a generic one.

The PNGs come from `resources/icons` (rendered from the SVG by packaging/render_icons.py), found through
core/assets.py in a checkout, the one-folder app and a wheel install alike. PNGs rather than the SVG: Qt's
SVG icon engine is a plugin a trimmed install may lack, and each size was rendered on its own pixel grid.
"""

from __future__ import annotations

from pathlib import Path

from PySide6 import QtGui

from lmd_studio.core.assets import asset_root

APP_NAME = "LMD Studio"
DESKTOP_FILE_NAME = "lmd-studio"  # packaging/lmd-studio.desktop, without .desktop (and its StartupWMClass)
ICON_NAME = "lmd-studio"


def icons_dir(root: Path | None = None) -> Path:
    return (root or asset_root()) / "resources" / "icons"


def icon_files(root: Path | None = None) -> list[Path]:
    """The icon's PNGs, smallest first (empty when the resources are missing: the window keeps Qt's icon)."""
    folder = icons_dir(root)
    files = folder.glob(f"{ICON_NAME}-*.png") if folder.is_dir() else []
    return sorted(files, key=lambda p: int(p.stem.rsplit("-", 1)[1]) if p.stem.rsplit("-", 1)[1].isdigit() else 0)


def application_icon(root: Path | None = None) -> QtGui.QIcon:
    icon = QtGui.QIcon()
    for png in icon_files(root):
        icon.addFile(str(png))
    return icon


def set_identity(app: QtGui.QGuiApplication, version: str) -> None:
    """Name, version, desktop entry and icon of the application (once, at start)."""
    QtGui.QGuiApplication.setDesktopFileName(DESKTOP_FILE_NAME)
    app.setApplicationVersion(version)
    icon = application_icon()
    if not icon.isNull():
        app.setWindowIcon(icon)
