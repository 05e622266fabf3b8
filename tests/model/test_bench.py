"""`lmd bench model`: runs end to end on a tiny model, counts match the formulas, JSON has the keys."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

import pytest

from lmd_studio.model import bench


def _args(*extra: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    bench.add_arguments(parser)
    return parser.parse_args(["--d-model", "32", "--layers", "1", "--heads", "2", "--sizes", "8:2", "12:3",
                              "--steps", "3", "--blocks", "2", "--warmup", "0", "--threads", "1", "--codec", "none",
                              "--json", *extra])


def test_bench_json_has_the_issue_keys(capsys: pytest.CaptureFixture[str]) -> None:
    assert bench.run(_args("--no-bf16")) == 0
    out = json.loads(capsys.readouterr().out)
    for key in ("rows", "speedup_blockcausal_vs_naive", "speedup_blockcausal_vs_encdec", "peak_fraction",
                "peak_gflops_fp32", "memory"):
        assert key in out, key
    assert {r["mode"] for r in out["rows"]} == {"naive", "encdec", "blockcausal"}
    assert len(out["rows"]) == 6  # two sizes × three modes
    for row in out["rows"]:
        assert set(row) >= {"s", "o", "K", "token_passes", "token_passes_formula", "ms_per_block"}
        assert row["token_passes"] == row["token_passes_formula"], row
        assert row["ms_per_block"] > 0
    # a tiny model on a loaded machine can round to 0.000 of peak; above 1.5 would mean a wrong peak
    assert out["peak_gflops_fp32"] > 0 and 0 <= out["peak_fraction"] < 1.5


def test_bench_table_and_bad_sizes(capsys: pytest.CaptureFixture[str]) -> None:
    args = _args("--no-bf16")
    args.json = False
    assert bench.run(args) == 0
    text = capsys.readouterr().out
    assert "blockcausal" in text and "formula" in text and "faster than naive" in text
    parser = argparse.ArgumentParser()
    bench.add_arguments(parser)
    with pytest.raises(SystemExit):
        parser.parse_args(["--sizes", "10:3"])


def test_bench_module_does_not_import_torch() -> None:
    code = "import sys, lmd_studio.model.bench; print('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


def test_bench_without_cuda_is_a_clear_message(capsys: pytest.CaptureFixture[str]) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    args = _args("--no-bf16")
    args.device = "cuda"
    assert bench.run(args) == 2
    assert "no CUDA device" in capsys.readouterr().out


def test_overhead_fit_recovers_pass_and_token_costs() -> None:
    from lmd_studio.model.bench_runner import overhead_model

    rows = [{"K": k, "token_passes": t, "ms_per_block": k * 1.5 + t * 0.02} for k, t in ((8, 144), (8, 640), (4, 80))]
    fit = overhead_model(rows)
    assert fit == {"ms_per_pass": 1.5, "us_per_frame_token": 20.0}
    assert overhead_model(rows[:1]) is None
