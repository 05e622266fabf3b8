"""`lmd-studio` itself, in a subprocess, offscreen: it opens the window, plays, and quits by itself."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _entry_point() -> list[str]:
    script = Path(sys.executable).with_name("lmd-studio")
    return [str(script)] if script.exists() else [sys.executable, "-m", "lmd_studio.cli.studio"]


def test_lmd_studio_opens_plays_and_quits_by_itself(tmp_path: Path) -> None:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", LMD_STUDIO_HOME=str(tmp_path), LMD_STUDIO_PLAY="1")
    proc = subprocess.run([*_entry_point(), "--model", "fake", "--audio", "null", "--quit-after", "3"],
                          capture_output=True, text=True, timeout=120, cwd=ROOT, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    settings = json.loads((tmp_path / "config" / "settings.json").read_text())
    assert settings["first_run_done"] is True  # closed cleanly and saved the session
    assert settings["prompts"][0]["text"]


@pytest.mark.parametrize("content", ["{not json", '{"schema_version": 99}'])
def test_lmd_studio_survives_a_broken_settings_file(tmp_path: Path, content: str) -> None:
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "settings.json").write_text(content)
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", LMD_STUDIO_HOME=str(tmp_path))
    proc = subprocess.run([*_entry_point(), "--model", "fake", "--audio", "null", "--quit-after", "1.5"],
                          capture_output=True, text=True, timeout=120, cwd=ROOT, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert [p.read_text() for p in (tmp_path / "config").glob("settings.json.broken-*")] == [content]
