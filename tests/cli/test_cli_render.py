"""The real entry points: `lmd render`, `lmd devices`, `lmd-studio` headless demo (subprocesses)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parents[2]


def run_cli(*args: str, env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lmd_studio", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT, env=env or os.environ.copy())


def test_render_writes_a_faster_than_real_time_file(tmp_path: Path) -> None:
    out = tmp_path / "take.flac"
    proc = run_cli("render", "--seconds", "3", "--out", str(out), "--model", "fake",
                   "--prompt", "dark ambient drone@2", "--prompt", "bright bells@1", "--set", "brightness=0.9")
    assert proc.returncode == 0, proc.stderr
    assert "real time" in proc.stdout
    audio, rate = sf.read(out)
    assert rate == 44100 and audio.shape == (3 * 44100, 2)
    assert 0.01 < np.abs(audio).max() <= 1.0
    info = sf.info(out)
    assert info.subtype == "PCM_24"
    speed = float(proc.stdout.split("×")[0].split(",")[-1])
    assert speed > 1.0


def test_render_rejects_bad_input(tmp_path: Path) -> None:
    bad_suffix = run_cli("render", "--seconds", "1", "--out", str(tmp_path / "x.mp4"), "--model", "fake")
    assert bad_suffix.returncode == 2 and ".wav or .flac" in bad_suffix.stderr
    bad_param = run_cli("render", "--seconds", "1", "--out", str(tmp_path / "x.wav"), "--model", "fake",
                        "--set", "wobble=3")
    assert bad_param.returncode == 2 and "unknown parameter" in bad_param.stderr
    bad_model = run_cli("render", "--seconds", "1", "--out", str(tmp_path / "x.wav"), "--model", str(tmp_path))
    assert bad_model.returncode != 0 and "not an LMD Studio model folder" in bad_model.stderr


def test_devices_lists_without_crashing() -> None:
    proc = run_cli("devices")
    assert proc.returncode == 0, proc.stderr
    assert "Audio devices:" in proc.stdout and "MIDI ports:" in proc.stdout


def test_studio_without_display_renders_the_demo(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    env["HOME"] = str(tmp_path)
    env["XDG_MUSIC_DIR"] = str(tmp_path / "Music")
    proc = subprocess.run([sys.executable, "-m", "lmd_studio.cli.studio", "--model", "fake"],
                          capture_output=True, text=True, timeout=180, cwd=ROOT, env=env)
    assert proc.returncode == 0, proc.stderr
    assert "no display" in proc.stdout
    written = Path(proc.stdout.strip().splitlines()[-1].split("demo written to ")[1].split(" (")[0])
    audio, rate = sf.read(written)
    assert audio.shape[0] == 30 * rate and np.abs(audio).max() > 0.01
