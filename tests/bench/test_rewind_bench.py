"""`lmd bench rewind` on a tiny model folder: it runs end to end, keeps to its budget and finds the replay
bit-identical (the measured figures for the shipped model are in the README)."""

from __future__ import annotations

import json
from pathlib import Path

from lmd_studio.cli import main
from tests.support.model_folders import tiny_model_folder


def test_rewind_bench_on_a_tiny_model(tmp_path: Path, capsys) -> None:
    folder = tiny_model_folder(tmp_path / "tiny")
    rc = main(["bench", "rewind", "--model", str(folder), "--seconds", "12", "--back-s", "3", "--budget-mb", "16",
               "--json"])
    out = capsys.readouterr().out
    assert rc == 0, out
    result = json.loads(out[out.index("{"):])
    assert result["rewind_bit_identical"] and result["new_variation_differs"]
    assert 0 < result["kept_mb"] <= 16 and result["reach_s"] >= 3


def test_rewind_bench_says_when_the_moment_is_not_kept(tmp_path: Path, capsys) -> None:
    folder = tiny_model_folder(tmp_path / "tiny")
    rc = main(["bench", "rewind", "--model", str(folder), "--seconds", "6", "--back-s", "30"])
    out = capsys.readouterr().out
    assert rc == 1 and out.startswith("lmd bench rewind: ") and "is not kept" in out and "Traceback" not in out
