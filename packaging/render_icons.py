"""Renders the application icon's PNGs from its SVG with Qt's own SVG renderer (no other tool needed).

    .venv/bin/python packaging/render_icons.py      # after editing resources/icons/lmd-studio.svg

Writes resources/icons/lmd-studio-<N>.png for every size a desktop asks for (the freedesktop hicolor
theme's usual sizes; packaging/install-desktop.sh installs each into <N>x<N>/apps). Small sizes are
rendered directly at their size, not scaled down from 512, so Qt anti-aliases each at its own pixel grid.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ICON_SIZES_PX = (16, 24, 32, 48, 64, 128, 256, 512)
ICONS_DIR = Path(__file__).resolve().parents[1] / "resources" / "icons"
ICON_NAME = "lmd-studio"


def png_path(icons_dir: Path, size_px: int) -> Path:
    return icons_dir / f"{ICON_NAME}-{size_px}.png"


def render(svg: Path, out_dir: Path, sizes_px: tuple[int, ...] = ICON_SIZES_PX) -> list[Path]:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # no display needed
    from PySide6 import QtCore, QtGui, QtSvg

    _app = QtGui.QGuiApplication.instance() or QtGui.QGuiApplication(["render_icons"])
    renderer = QtSvg.QSvgRenderer(str(svg))
    if not renderer.isValid():
        raise ValueError(f"{svg}: Qt cannot read this SVG")
    written = []
    for size in sizes_px:
        image = QtGui.QImage(size, size, QtGui.QImage.Format.Format_ARGB32)
        image.fill(QtCore.Qt.GlobalColor.transparent)
        painter = QtGui.QPainter(image)
        painter.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing)
        renderer.render(painter, QtCore.QRectF(0, 0, size, size))
        painter.end()
        out = png_path(out_dir, size)
        if not image.save(str(out), "PNG"):
            raise OSError(f"{out}: could not write the PNG")
        written.append(out)
    return written


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--svg", type=Path, default=ICONS_DIR / f"{ICON_NAME}.svg")
    p.add_argument("--out", type=Path, default=ICONS_DIR)
    args = p.parse_args(argv)
    for path in render(args.svg, args.out):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
