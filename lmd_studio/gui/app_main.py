"""`run_gui(args, build_session)`: the QApplication, the theme, the main window around a Session.

The Session is built by the caller (the `lmd-studio` entry point passes `app.bootstrap.build_studio`), so
this package never imports the composition root and, through it, the engine or the model.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable

from PySide6 import QtCore, QtWidgets

from lmd_studio.app.about import studio_version
from lmd_studio.app.session_api import StudioApi
from lmd_studio.gui.app_icon import APP_NAME, set_identity
from lmd_studio.gui.main_window import StudioWindow
from lmd_studio.gui.theme import apply_theme

SessionBuilder = Callable[..., StudioApi]


def make_application(argv: list[str] | None = None) -> QtWidgets.QApplication:
    """The one QApplication, named, versioned and with its icon (the names before it exists, as Qt asks)."""
    app = QtWidgets.QApplication.instance()
    if app is None:
        QtWidgets.QApplication.setApplicationName(APP_NAME)
        QtWidgets.QApplication.setOrganizationName(APP_NAME)
        app = QtWidgets.QApplication(argv if argv is not None else sys.argv[:1])
        set_identity(app, studio_version())
    return app


def open_studio(session: StudioApi, size: tuple[int, int] = (1440, 900)) -> StudioWindow:
    """Theme the application for the session's settings, start it and show its window."""
    app = make_application()
    colors = apply_theme(app, session.settings.theme)
    session.start()
    window = StudioWindow(session, colors)
    window.resize(*size)
    window.show()
    window.start()
    return window


def run_gui(args: argparse.Namespace, build_session: SessionBuilder) -> int:
    """Open the studio and run until it is closed; `args.quit_after` (seconds) closes it by itself."""
    app = make_application()
    session = build_session(model=getattr(args, "model", None), audio=getattr(args, "audio", None))
    window = open_studio(session)
    tour = os.environ.get("LMD_STUDIO_TOUR")
    if tour:  # `make screenshots` (bench/screenshots.py) drives the real app through a scripted evening
        from pathlib import Path

        from lmd_studio.gui.tour import SHOTS_ENV, run_tour

        run_tour(tour, window, session, Path(os.environ.get(SHOTS_ENV, "docs")))
        window.close()
        return 0
    quit_after = getattr(args, "quit_after", None)
    if quit_after is not None:
        QtCore.QTimer.singleShot(int(quit_after * 1000), window.close)
    if os.environ.get("LMD_STUDIO_PLAY"):  # demos and soak runs start playing at once
        session.transport.play()
    return int(app.exec())
