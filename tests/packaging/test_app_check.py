"""`make app-check`'s verdicts: what counts as a good render or play run, the targets table, the clean
environment the app runs in; and (slow) the whole check against a real build."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from tests.packaging.support import load_script

app_check = load_script("app_check")


def test_a_render_counts_only_with_the_real_model_the_right_length_and_sound() -> None:
    line = "wrote /x/app-render.wav (5.0 s at 44100 Hz, 1.0× real time, peak 0.63) with model default"
    sound = {"seconds": 5.0, "rms": 0.1}
    assert app_check.render_ok(0, line, sound, 5.0)
    assert not app_check.render_ok(1, line, sound, 5.0)
    assert not app_check.render_ok(0, line, {"seconds": 4.5, "rms": 0.1}, 5.0)
    assert not app_check.render_ok(0, line, {"seconds": 5.0, "rms": 0.0}, 5.0)
    assert not app_check.render_ok(0, line.replace("model default", "model fake-tones"), sound, 5.0)
    assert not app_check.render_ok(0, "", sound, 5.0)


def test_a_play_run_counts_only_with_the_real_model_for_long_enough() -> None:
    good = {"rc": 0, "played_s": 5.6, "model": "Default model (default)"}
    assert app_check.play_ok(good, 5.0)
    assert not app_check.play_ok(good | {"rc": 1}, 5.0)
    assert not app_check.play_ok(good | {"played_s": 3.0}, 5.0)
    assert not app_check.play_ok(good | {"model": "Test tones (no model)"}, 5.0)
    assert not app_check.play_ok(good | {"model": "Default model (fake-tones)"}, 5.0)
    assert not app_check.play_ok({"rc": 0}, 5.0)


def test_targets_are_met_missed_or_not_measured() -> None:
    found = {"app_smoke_ok": True, "app_folder_ok": True, "app_window_s": 2.0, "app_first_audio_s": 9.0,
             "app_size_mb": 650.0}
    rows = {key: met for key, _, _, met in app_check.target_rows(found)}
    assert rows == {"app_smoke_ok": True, "app_folder_ok": True, "app_window_s": True, "app_first_audio_s": False,
                    "app_size_mb": True, "wheel_offline_ok": None}
    assert not app_check.all_met(found, skipped={"wheel_offline_ok"})
    assert app_check.all_met(found | {"app_first_audio_s": 7.9}, skipped={"wheel_offline_ok"})
    assert not app_check.all_met(found | {"app_first_audio_s": 7.9}, skipped=set())  # not measured ≠ met
    table = app_check.table(found)
    assert "MISSED" in table and "app_first_audio_s" in table and "not measured" in table


def test_the_app_runs_in_a_user_environment_without_the_checkout(tmp_path: Path) -> None:
    venv_bin = str(Path(sys.executable).parent)
    base = {"PYTHONPATH": "/src", "VIRTUAL_ENV": "/v", "XDG_CONFIG_HOME": "/cfg", "LMD_STUDIO_HOME": "/h",
            "HOME": "/root", "PATH": os.pathsep.join([venv_bin, "/usr/bin"]), "LANG": "C.UTF-8"}
    env = app_check.clean_env(tmp_path / "home", base)
    assert env["HOME"] == str(tmp_path / "home") and (tmp_path / "home").is_dir()
    assert env["PATH"] == "/usr/bin" and env["LANG"] == "C.UTF-8" and env["QT_QPA_PLATFORM"] == "offscreen"
    for gone in ("PYTHONPATH", "VIRTUAL_ENV", "XDG_CONFIG_HOME", "LMD_STUDIO_HOME"):
        assert gone not in env


@pytest.mark.slow
@pytest.mark.timeout(3600)
def test_make_app_check(tmp_path: Path) -> None:
    """The built app renders and plays the real model from its folder, the wheel installs offline (builds
    the app first when it is stale: ~5-12 min on 2 cores; the wheel venv takes a few more)."""
    out = tmp_path / "app-check.json"
    rc = app_check.main(["--json", str(out)])
    found = json.loads(out.read_text())
    assert found["app_smoke_ok"], json.dumps({k: v for k, v in found.items() if k.startswith("app_")}, indent=1)
    assert found["app_folder_ok"], (found["app_missing_files"], found["app_cuda_libs"], found["app_python_home"])
    assert found["wheel_offline_ok"], json.dumps({k: v for k, v in found.items() if k.startswith("wheel")}, indent=1)
    assert found["app_window_s"] is not None and found["app_first_audio_s"] is not None
    assert rc == (0 if found["targets_met"] else 1)
