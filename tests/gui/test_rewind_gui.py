"""Rewind and branch in the window: right-click the past → play from here again (the same or a new
variation); the branches that forked are picked in the timeline's toolbar (A/B); the memory for it is a
setting."""

from __future__ import annotations

import dataclasses

from lmd_studio.core.params import SEED
from lmd_studio.gui.settings_dialog import SettingsDialog
from tests.gui.conftest import wait_status


def test_play_from_here_again_branches_and_switches_back(qtbot, open_window, monkeypatch) -> None:
    w = open_window()
    s = w.session
    told: list[str] = []
    notify = s.notify
    monkeypatch.setattr(s.branches, "_notify", lambda level, text, path=None: (told.append(text),
                                                                                notify(level, text, path)))
    s.transport.play()
    wait_status(qtbot, w, lambda st: st.playing and st.played_s > 3.0, timeout_ms=15000)
    assert s.branches.reach_s() > 2.0 and not w.timeline.branch_box.isVisible()
    assert w.timeline.play_from_menu(w.last_status.played_s + 5.0) is None  # the future: no menu
    seed_before = int(s.engine.mailbox.get(SEED.name))
    at = w.last_status.played_s - 2.0
    menu = w.timeline.play_from_menu(at)
    assert menu is not None
    actions = {a.text(): a for a in menu.actions()}
    assert set(actions) == {"Play from here again", "Play from here — new variation"}
    actions["Play from here — new variation"].trigger()
    menu.deleteLater()
    assert [b.label for b in s.branches.branches] == ["A", "B"] and s.branches.current == "B"
    a, b = s.branches.branches
    assert a.seed == seed_before and b.seed != seed_before and b.new_variation and a.fork_s == b.fork_s == at
    assert int(s.engine.mailbox.get(SEED.name)) == b.seed
    marks = s.engine.timeline.markers(0, 10**9)
    assert marks and marks[-1].label.startswith("⟲ B from")
    qtbot.waitUntil(lambda: w.timeline.branch_box.isVisible() and w.timeline.branch_box.count() == 2, timeout=3000)
    assert w.timeline.branch_box.currentData() == "B"
    wait_status(qtbot, w, lambda st: st.playing and st.primed)
    assert s.engine.runtime.metrics.last_error == ""  # the engine found the kept state
    # back to A: its Variation again, from the same moment
    w.timeline.branch_box.activated.emit(w.timeline.branch_box.findData("A"))
    assert s.branches.current == "A" and int(s.engine.mailbox.get(SEED.name)) == seed_before
    qtbot.waitUntil(lambda: w.timeline.branch_box.currentData() == "A", timeout=3000)
    assert len(s.branches.branches) == 2  # switching is not a new fork
    # asking for a moment not yet played says so
    s.branches.play_from(w.last_status.played_s + 10.0)
    assert any("already played" in t for t in told)


def test_the_rewind_memory_is_a_setting(qtbot, open_window, home) -> None:
    w = open_window()
    s = w.session
    dialog = SettingsDialog(s.settings, [], [], home.recordings_dir, parent=w)
    try:
        assert dialog.rewind_memory.value() == 128
        dialog.rewind_memory.setValue(512)
        new = dialog.result_settings()
    finally:
        dialog.deleteLater()
    assert new.rewind_memory_mb == 512
    s.apply_settings(dataclasses.replace(s.settings, rewind_memory_mb=512))
    qtbot.waitUntil(lambda: s.engine.runtime.parts.engine.history.budget_bytes == 512 * 2**20, timeout=3000)
