"""What a newcomer sees: the app's icon and desktop name, Help → About (version, model card, CPU features
in use, folders with Open buttons, licences), Help → Report a problem (the summary on the clipboard), the
first-run welcome, and the no-sound banner whose button opens the audio settings."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from PySide6 import QtCore, QtGui, QtWidgets

from lmd_studio.app.about import LINK_NOTE
from lmd_studio.app.audio_notice import AUDIO_SETTINGS_ACTION
from lmd_studio.app.engine_parts import build_engine
from lmd_studio.app.model_card import read_model_card
from lmd_studio.app.session import Session
from lmd_studio.app.session_deps import SessionDeps
from lmd_studio.app.values import ModelInfo
from lmd_studio.audio.backend import NullAudioBackend
from lmd_studio.core.compute import ComputeInfo
from lmd_studio.core.fake import FakeBlockGenerator
from lmd_studio.gui.about_dialog import AboutDialog
from lmd_studio.gui.app_icon import DESKTOP_FILE_NAME, ICON_NAME, icon_files, set_identity
from lmd_studio.gui.main_window import REPORT_COPIED_TEXT, WELCOME_TEXT
from lmd_studio.settings.store import SettingsStore
from tests.support.model_folders import tiny_model_folder

ROOT = Path(__file__).resolve().parents[2]


class Opener:
    """Stands in for QDesktopServices.openUrl: records what would have opened (no file manager in tests)."""

    def __init__(self, works: bool = True) -> None:
        self.works = works
        self.opened: list[Path] = []

    def __call__(self, url: QtCore.QUrl) -> bool:
        self.opened.append(Path(url.toLocalFile()))
        return self.works


def test_the_app_has_its_icon_and_its_desktop_entrys_name(qapp, open_window) -> None:
    set_identity(qapp, "9.9.9")
    assert QtGui.QGuiApplication.desktopFileName() == DESKTOP_FILE_NAME
    assert qapp.applicationVersion() == "9.9.9" and not qapp.windowIcon().isNull()
    desktop = (ROOT / "packaging" / f"{DESKTOP_FILE_NAME}.desktop").read_text()
    assert f"\nIcon={ICON_NAME}\n" in desktop and f"\nStartupWMClass={DESKTOP_FILE_NAME}\n" in desktop
    sizes = [int(p.stem.rsplit("-", 1)[1]) for p in icon_files()]
    assert sizes == sorted(sizes) and {16, 48, 256} <= set(sizes)
    w = open_window()
    assert not w.windowIcon().isNull() and 48 in [s.width() for s in w.windowIcon().availableSizes()]


def test_the_help_menu_offers_about_and_a_problem_report(qtbot, open_window) -> None:
    w = open_window()
    help_menu = next(a.menu() for a in w.menuBar().actions() if a.text() == "&Help")
    texts = [a.text() for a in help_menu.actions() if a.text()]
    assert texts[-2:] == ["Report a problem…", "About LMD Studio"]
    w.actions_by_name["report_problem"].trigger()
    copied = QtGui.QGuiApplication.clipboard().text()
    assert copied == w.session.about.report(w.qt_facts())
    assert copied.startswith("LMD Studio ") and "\nQt: " in copied and str(w.session.paths.config_dir) in copied
    qtbot.waitUntil(lambda: w.notice_bar.label.text().endswith(REPORT_COPIED_TEXT), timeout=2000)


def test_about_opens_from_the_window_with_the_sessions_facts(qtbot, open_window) -> None:
    w = open_window()
    seen = {}

    def look_and_close() -> None:
        dialog = QtWidgets.QApplication.activeModalWidget()
        seen["title"] = dialog.title.text()
        seen["folders"] = list(dialog.folder_buttons)
        seen["model"] = dialog.model_text.text()
        dialog.copy_button.click()  # the same summary as Report a problem
        seen["copy"] = dialog.copy_button.text()
        dialog.reject()

    QtCore.QTimer.singleShot(0, look_and_close)
    w.actions_by_name["about"].trigger()
    info = w.session.about.info()
    assert info.version in seen["title"]
    assert seen["folders"][:4] == ["Settings", "Recordings", "Your models", "Logs"]
    assert "Test tones" in seen["model"] and "no model runs" in seen["model"]
    assert seen["copy"] == "Copied to the clipboard"
    assert QtGui.QGuiApplication.clipboard().text() == w.session.about.report(w.qt_facts())


def test_the_about_box_shows_a_models_card_and_compute_and_opens_folders(qtbot, open_window, tmp_path) -> None:
    folder = tiny_model_folder(tmp_path / "tiny")
    (folder / "MODEL_CARD.md").write_text("# tiny\n\nA tiny model for tests.\n\n- hours by licence: MIT 1.0\n")
    w = open_window()
    compute = ComputeInfo("cpu", "AVX2", onednn=True, bf16_supported=False, dtype="float32", threads=2)
    info = dataclasses.replace(w.session.about.info(), model=ModelInfo(
        "tiny", str(folder), folder, read_model_card(folder), compute))
    opener = Opener()
    dialog = AboutDialog(info, open_url=opener, parent=w)
    qtbot.addWidget(dialog)
    dialog.show()
    text = dialog.model_text.text()
    assert "A tiny model for tests." in text and "jam-trained: unknown" in text and "tempo-aware: no" in text
    assert "MIT" in text and "CPU AVX2 (AVX2 yes, AVX-512 no)" in text and "bf16 not supported" in text
    assert "2 torch threads" in text
    dialog.findChild(QtWidgets.QPushButton, "open_model_card").click()
    assert opener.opened == [folder / "MODEL_CARD.md"]
    recordings = w.session.paths.recordings_dir
    assert not recordings.exists()  # made by the first take; Open folder makes it
    dialog.folder_buttons["Recordings"].click()
    assert opener.opened[-1] == recordings and recordings.is_dir() and not dialog.problem.isVisible()
    assert LINK_NOTE in dialog.link_note.text().replace("&gt;", ">")
    assert "aalink" in dialog.third_party.toPlainText() or not info.third_party


def test_a_folder_that_cannot_be_opened_says_why(qtbot, open_window, tmp_path) -> None:
    w = open_window()
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    info = w.session.about.info()
    bad = dataclasses.replace(info.folders[0], path=blocker / "sub")  # a folder inside a file
    dialog = AboutDialog(dataclasses.replace(info, folders=(bad, *info.folders[1:])), open_url=Opener(), parent=w)
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.folder_buttons[bad.label].click()
    assert dialog.problem.isVisible() and dialog.problem.text().startswith(f"Cannot open {blocker / 'sub'}")
    refused = AboutDialog(info, open_url=Opener(works=False), parent=w)
    qtbot.addWidget(refused)
    refused.show()
    refused.folder_buttons["Logs"].click()
    assert refused.problem.isVisible() and "No file manager" in refused.problem.text()


def test_the_first_run_welcomes_and_the_next_does_not(qtbot, open_window, make_session) -> None:
    w = open_window()
    assert w.session.first_run
    qtbot.waitUntil(lambda: WELCOME_TEXT in w.notice_bar.label.text(), timeout=2000)
    for words in ("Space to play", "prompt", "R to record"):
        assert words in WELCOME_TEXT
    w.close()  # a clean end: the next start is no first run
    again = open_window(make_session())
    assert not again.session.first_run
    qtbot.wait(200)
    assert WELCOME_TEXT not in again.notice_bar.label.text() and again.notice_bar.waiting == 0


def test_no_sound_is_one_banner_whose_button_opens_the_audio_settings(qtbot, open_window, home) -> None:
    home.ensure()
    store = SettingsStore(home.settings_file)
    message = "no audio output device: playing silently; generation and recording continue"

    def parts(generator, mailbox, audio):
        return build_engine(generator, NullAudioBackend(48000, 2, 256, message=message), mailbox)

    deps = SessionDeps(paths=home, settings_store=store, make_generator=lambda s, threads: FakeBlockGenerator(),
                       make_parts=parts, retro_s=5.0)
    session = Session(deps, store.load().settings, FakeBlockGenerator(), model_spec="fake", first_run=True)
    w = open_window(session)
    qtbot.waitUntil(lambda: w.notice_bar.label.text().startswith("⚠  No sound: no audio output device."),
                    timeout=2000)
    assert w.notice_bar.current.action == AUDIO_SETTINGS_ACTION
    assert w.notice_bar.waiting == 1  # the welcome waits behind it, and does not push it away
    button = w.notice_bar.action_button
    assert button.isVisible() and button.text() == "Audio settings…"
    seen = {}

    def look_and_cancel() -> None:
        dialog = QtWidgets.QApplication.activeModalWidget()
        seen["tab"] = dialog.tabs.tabText(dialog.tabs.currentIndex())
        dialog.reject()

    QtCore.QTimer.singleShot(0, look_and_cancel)
    button.click()
    assert seen["tab"] == "Audio"
    qtbot.waitUntil(lambda: WELCOME_TEXT in w.notice_bar.label.text(), timeout=2000)  # its turn now
    qtbot.wait(300)
    assert "No sound" not in w.notice_bar.label.text()  # said once, not again each tick
