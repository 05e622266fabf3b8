"""Banners queue: none is replaced before it can be read, errors wait to be dismissed, info fades."""

from __future__ import annotations

import pytest
from PySide6 import QtCore

from lmd_studio.app.values import Notice
from lmd_studio.gui import notices
from lmd_studio.gui.notices import TIP, NoticeBar
from lmd_studio.gui.theme import THEMES


@pytest.fixture
def bar(qtbot, monkeypatch):
    monkeypatch.setattr(notices, "MIN_VISIBLE_MS", 300, raising=False)
    monkeypatch.setattr(notices, "INFO_VISIBLE_MS", 600)
    b = NoticeBar(THEMES["dark"])
    qtbot.addWidget(b)
    return b


def _text(b: NoticeBar) -> str:
    return b.label.text() if b.isVisible() else ""


def test_a_warning_is_not_replaced_before_it_can_be_read(qtbot, bar) -> None:
    bar.show_notice(Notice("warning", "Your settings could not be used: broken JSON"))
    bar.show_notice(Notice("info", "MIDI is on: JACK"))  # arrives a moment later
    assert "settings could not be used" in _text(bar)
    assert bar.more.text() == "+1 more"
    qtbot.waitUntil(lambda: "MIDI is on" in _text(bar), timeout=2000)  # after the minimum time
    assert not bar.more.isVisible()
    qtbot.waitUntil(lambda: not bar.isVisible(), timeout=3000)  # info fades when nothing waits


def test_an_error_stays_until_dismissed_and_the_queue_follows(qtbot, bar) -> None:
    bar.show_notice(Notice("error", "Settings not saved: disk full"))
    bar.show_notice(Notice("info", "Saved take-1.wav"))
    bar.show_notice(Notice("warning", "Adapter not loaded"))
    bar.show_notice(Notice("warning", "Adapter not loaded"))  # a repeat adds nothing
    qtbot.wait(700)
    assert "disk full" in _text(bar) and bar.more.text() == "+2 more"
    qtbot.mouseClick(bar.close_button, QtCore.Qt.MouseButton.LeftButton)
    assert "Saved take-1.wav" in _text(bar)
    qtbot.waitUntil(lambda: "Adapter not loaded" in _text(bar), timeout=2000)
    qtbot.wait(900)
    assert "Adapter not loaded" in _text(bar)  # the last warning stays until dismissed


def test_a_prompt_shows_at_once_and_gives_back_what_it_covered(qtbot, bar) -> None:
    bar.show_notice(Notice("warning", "Model fell back to the test tones"))
    bar.show_prompt(Notice("warning", "MIDI learn: move a control for Brightness"))
    assert "MIDI learn" in _text(bar)
    qtbot.wait(700)
    assert "MIDI learn" in _text(bar)  # a prompt stays while the mode lasts
    bar.clear_prompt()
    assert "test tones" in _text(bar)


def test_a_broken_settings_message_survives_the_next_notice_in_the_window(qtbot, open_window, make_session,
                                                                          home) -> None:
    home.ensure()
    home.settings_file.write_text("{not json")
    session = make_session()
    w = open_window(session)
    qtbot.waitUntil(lambda: "settings" in w.notice_bar.label.text().lower(), timeout=3000)
    first = w.notice_bar.label.text()
    session.notify("info", "Saved lmd-last-30s.wav")
    qtbot.wait(200)  # several ticks
    assert w.notice_bar.label.text() == first and w.notice_bar.isVisible()


def test_a_tip_waits_for_a_free_bar_and_pushes_nothing_away(qtbot, bar) -> None:
    bar.show_notice(Notice("warning", "No sound: no audio output device"))
    bar.show_notice(Notice(TIP, "Welcome! Press Space to play"))
    assert bar.more.text() == "+1 more"
    qtbot.wait(700)  # past the minimum time: a waiting tip is no successor
    assert "No sound" in _text(bar)
    qtbot.mouseClick(bar.close_button, QtCore.Qt.MouseButton.LeftButton)
    assert "Welcome" in _text(bar) and _text(bar).startswith("♪")
    qtbot.wait(900)
    assert "Welcome" in _text(bar)  # a tip stays until dismissed


def test_a_tip_gives_way_at_once_and_comes_back(qtbot, bar) -> None:
    bar.show_notice(Notice(TIP, "Welcome! Press Space to play"))
    bar.show_notice(Notice("info", "Saved take-1.wav"))
    assert "Saved take-1.wav" in _text(bar) and bar.waiting == 1
    qtbot.waitUntil(lambda: "Welcome" in _text(bar), timeout=2000)  # the info faded: the tip is back
    bar.show_prompt(Notice("warning", "MIDI learn: move a control for Brightness"))
    bar.clear_prompt()
    assert "Welcome" in _text(bar)
    qtbot.mouseClick(bar.close_button, QtCore.Qt.MouseButton.LeftButton)
    assert not bar.isVisible() and bar.waiting == 0


def test_the_audio_fix_has_its_button(bar) -> None:
    bar.show()
    bar.show_notice(Notice("warning", "No sound: no audio output device", action="audio_settings"))
    assert bar.action_button.isVisible() and bar.action_button.text() == "Audio settings…"
