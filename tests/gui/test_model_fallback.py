"""A broken model never keeps the studio from opening or playing: at start-up it falls back to the test
tones with a banner naming the file and the problem; picked at run time, the old model plays on."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from lmd_studio.app.bootstrap import build_studio
from tests.gui.conftest import wait_status
from tests.support.model_folders import broken_model_folder

ROOT = Path(__file__).resolve().parents[2]


def test_a_broken_model_on_the_command_line_opens_the_test_tones_with_a_banner(qtbot, open_window, home,
                                                                              tmp_path: Path) -> None:
    folder, bad_file = broken_model_folder(tmp_path / "broken", "missing_codec")
    session = build_studio(home, model=str(folder), audio="null", midi=False, retro_s=30.0)
    w = open_window(session)
    qtbot.waitUntil(lambda: w.notice_bar.isVisible(), timeout=3000)
    text = w.notice_bar.label.text()
    assert str(bad_file) in text and "codec file missing" in text and "test tones" in text
    assert session.model_spec == "fake" and "Test tones" in w.windowTitle()
    session.play()
    wait_status(qtbot, w, lambda st: st.playing and st.played_s > 0.3)


def test_picking_a_broken_model_keeps_playing_the_old_one(qtbot, open_window, tmp_path: Path) -> None:
    folder, bad_file = broken_model_folder(tmp_path / "broken", "nan_codec")
    w = open_window()
    s = w.session
    s.play()
    wait_status(qtbot, w, lambda st: st.playing and st.played_s > 0.2)
    job = s.load_model(str(folder))
    qtbot.waitUntil(lambda: job.done, timeout=20000)
    qtbot.waitUntil(lambda: "Could not load the model" in w.notice_bar.label.text(), timeout=3000)
    text = w.notice_bar.label.text()
    assert str(bad_file) in text and "NaN" in text and "still playing Test tones" in text
    assert s.model_spec == "fake"
    played = w._last_status.played_s
    wait_status(qtbot, w, lambda st: st.playing and st.played_s > played + 0.3)


def test_lmd_studio_with_a_broken_model_opens_and_quits_cleanly(tmp_path: Path) -> None:
    folder, _ = broken_model_folder(tmp_path / "broken", "truncated")
    script = Path(sys.executable).with_name("lmd-studio")
    cmd = [str(script)] if script.exists() else [sys.executable, "-m", "lmd_studio.cli.studio"]
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", LMD_STUDIO_HOME=str(tmp_path / "home"))
    proc = subprocess.run([*cmd, "--model", str(folder), "--audio", "null", "--quit-after", "2"],
                          capture_output=True, text=True, timeout=120, cwd=ROOT, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    settings = json.loads((tmp_path / "home" / "config" / "settings.json").read_text())
    assert settings["first_run_done"] is True and settings["model"] == ""  # --model is for this run only
