"""No traceback reaches a user of `lmd render`: broken model folders, failed renders and file-system errors
end with one message naming the file and the reason, status 1, and an existing `--out` left untouched."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from lmd_studio import cli
from lmd_studio.core.fake import FakeBlockGenerator
from lmd_studio.core.params import STANDARD_PARAMS
from lmd_studio.engine.audio_file import AudioFileError
from lmd_studio.engine.render import RenderError, render_to_file
from lmd_studio.rt.mailbox import ParamMailbox
from tests.support.model_folders import BREAKAGES, broken_model_folder
from tests.support.mounts import read_only_folder, tiny_filesystem

ROOT = Path(__file__).resolve().parents[2]


def lmd(*argv: str) -> int:
    try:
        return cli.main(list(argv))
    except SystemExit as exc:
        return int(exc.code or 0)


def existing_take(path: Path, seconds: float = 2.0, rate: int = 8000) -> bytes:
    sf.write(str(path), np.full((int(seconds * rate), 2), 0.25, np.float32), rate, subtype="PCM_24")
    return path.read_bytes()


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".part"))


@pytest.mark.parametrize("breakage", BREAKAGES)
def test_a_broken_model_folder_is_one_message_naming_the_file(breakage: str, tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    folder, bad_file = broken_model_folder(tmp_path / breakage, breakage)
    out = tmp_path / "take.wav"
    before = existing_take(out)
    code = lmd("render", "--seconds", "1", "--out", str(out), "--model", str(folder))
    err = capsys.readouterr().err
    assert code == 1
    assert "Traceback" not in err and str(bad_file) in err and "what to do:" in err
    assert len(err.strip().splitlines()) == 2, err
    assert out.read_bytes() == before


def test_a_render_that_fails_keeps_the_existing_file(tmp_path: Path) -> None:
    class BrokenGenerator(FakeBlockGenerator):
        def generate_block(self, state, controls):
            raise RuntimeError("the codec produced garbage")

    out = tmp_path / "take.wav"
    before = existing_take(out)
    with pytest.raises(RenderError, match=r"the codec produced garbage.*take\.wav was not written"):
        render_to_file(BrokenGenerator(sample_rate=8000), ParamMailbox(STANDARD_PARAMS), 1.0, out)
    assert out.read_bytes() == before and leftovers(tmp_path) == []


def test_a_successful_render_replaces_the_file(tmp_path: Path) -> None:
    out = tmp_path / "take.flac"
    existing_take(out, seconds=2.0)
    result = render_to_file(FakeBlockGenerator(sample_rate=8000), ParamMailbox(STANDARD_PARAMS), 1.0, out)
    assert result.path == out and sf.info(str(out)).frames == 8000 and leftovers(tmp_path) == []


def test_a_read_only_folder_is_reported_with_the_reason(tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    with read_only_folder(tmp_path) as ro:
        code = lmd("render", "--seconds", "0.5", "--out", str(ro / "x.wav"), "--model", "fake")
        err = capsys.readouterr().err
        assert code == 1 and "Traceback" not in err
        assert f"cannot write {ro / 'x.wav'}: the folder is on a read-only file system" in err


def test_a_full_disk_is_reported_and_the_old_file_survives(tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    with tiny_filesystem(tmp_path, size_kib=256) as disk:
        out = disk / "x.wav"
        before = existing_take(out, seconds=1.0)  # 48 KB; the render needs ~530 KB more
        code = lmd("render", "--seconds", "2", "--out", str(out), "--model", "fake")
        err = capsys.readouterr().err
        assert code == 1 and "Traceback" not in err
        assert f"writing {out} failed: disk full (no space left on device)" in err
        assert out.read_bytes() == before and leftovers(disk) == []


def test_an_os_error_on_the_final_rename_names_the_file(tmp_path: Path, monkeypatch) -> None:
    out = tmp_path / "take.wav"
    before = existing_take(out)

    def refuse(src, dst):
        raise OSError(28, os.strerror(28), str(src))

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(AudioFileError, match=r"cannot write .*take\.wav: disk full"):
        render_to_file(FakeBlockGenerator(sample_rate=8000), ParamMailbox(STANDARD_PARAMS), 0.5, out)
    assert out.read_bytes() == before and leftovers(tmp_path) == []


def test_the_real_command_prints_no_traceback(tmp_path: Path) -> None:
    folder, bad_file = broken_model_folder(tmp_path / "model", "nan_codec")
    proc = subprocess.run([sys.executable, "-m", "lmd_studio", "render", "--seconds", "1", "--out",
                           str(tmp_path / "x.wav"), "--model", str(folder)],
                          capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr and str(bad_file) in proc.stderr and "NaN" in proc.stderr
    usage = subprocess.run([sys.executable, "-m", "lmd_studio", "render", "--seconds", "nan", "--out",
                            str(tmp_path / "x.wav")], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert usage.returncode == 2 and "Traceback" not in usage.stderr and "finite number" in usage.stderr


def test_the_headless_demo_reports_a_broken_model(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from lmd_studio.cli import studio

    folder, bad_file = broken_model_folder(tmp_path / "model", "future_version")
    assert studio.main(["--headless-demo", "--model", str(folder)]) == 1
    err = capsys.readouterr().err
    assert str(bad_file) in err and "format_version 999" in err and "Traceback" not in err
