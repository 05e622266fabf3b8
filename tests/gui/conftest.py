"""GUI fixtures: a Session on the fake generator and the Null audio backend in a temporary home, and the
main window around it, checked for leaked top-level widgets when the test ends."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from PySide6 import QtCore, QtWidgets

from lmd_studio.app.bootstrap import build_studio
from lmd_studio.gui.main_window import StudioWindow
from lmd_studio.gui.theme import apply_theme
from lmd_studio.settings.paths import StudioPaths


@pytest.fixture
def home(tmp_path: Path) -> StudioPaths:
    return StudioPaths.under(tmp_path / "home")


@pytest.fixture
def make_session(home: StudioPaths) -> Iterator[Callable]:
    made = []

    def make(midi: bool = False, **kwargs):
        session = build_studio(home, model=kwargs.pop("model", "fake"), audio="null", midi=midi,
                               retro_s=kwargs.pop("retro_s", 30.0))
        made.append(session)
        return session

    yield make
    for s in made:
        s._runtime.shutdown()  # idempotent; a test that closed the window already shut it down


# Harmless notes from Qt's offscreen platform plugin (real desktops support these); every other Qt warning
# still fails a test (qt_log_level_fail = WARNING).
OFFSCREEN_NOISE = ("This plugin does not support propagateSizeHints()",
                   "This plugin does not support raise()", "This plugin does not support grabbing the keyboard")


def pytest_collection_modifyitems(items) -> None:
    for item in items:
        if "tests/gui/" in str(item.fspath).replace("\\", "/"):
            item.add_marker(pytest.mark.qt_log_ignore(*OFFSCREEN_NOISE))


def _flush_deletes() -> None:
    for _ in range(3):
        QtCore.QCoreApplication.sendPostedEvents(None, QtCore.QEvent.Type.DeferredDelete)
        QtWidgets.QApplication.processEvents()


@pytest.fixture
def open_window(qtbot, qapp, make_session) -> Iterator[Callable]:
    """open_window(session=None) → a started StudioWindow; at teardown it is closed and deleted, and no
    top-level widget it created may be left behind."""
    _flush_deletes()
    before = {id(w) for w in QtWidgets.QApplication.topLevelWidgets()}
    windows: list[StudioWindow] = []

    def open_(session=None, midi: bool = False) -> StudioWindow:
        session = session or make_session(midi=midi)
        colors = apply_theme(qapp, session.settings.theme)
        session.start()
        window = StudioWindow(session, colors)
        window.resize(1440, 900)
        window.show()
        window.activateWindow()  # window shortcuts (Space, R, Esc…) need the active window
        qtbot.waitUntil(window.isActiveWindow, timeout=2000)
        window.start()
        windows.append(window)
        return window

    yield open_
    for w in windows:
        w.close()
        w.deleteLater()
    _flush_deletes()
    leaked = [w for w in QtWidgets.QApplication.topLevelWidgets() if id(w) not in before]
    assert not leaked, f"leaked top-level widgets: {[type(w).__name__ + ':' + w.objectName() for w in leaked]}"


def wait_status(qtbot, window: StudioWindow, predicate, timeout_ms: int = 5000) -> None:
    """Wait until predicate(window.last_status) holds (the window's timer keeps ticking)."""
    qtbot.waitUntil(lambda: predicate(window.last_status), timeout=timeout_ms)
