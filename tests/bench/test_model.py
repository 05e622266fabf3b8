"""`lmd bench model`: runs end to end on a tiny model, counts match the formulas, JSON has the keys, a CPU
without bf16 is reported (not a crash), and results are saved section by section."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pytest

from lmd_studio.bench import model as bench

TINY = ["--d-model", "32", "--layers", "1", "--heads", "2", "--steps", "3", "--blocks", "2", "--warmup", "0",
        "--threads", "1", "--codec", "none"]


def _args(tmp_path: Path, *extra: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    bench.add_arguments(parser)
    return parser.parse_args([*TINY, "--sizes", "8:2", "12:3", "--json", "--out", str(tmp_path / "bench.json"),
                              *extra])


def test_bench_json_has_the_issue_keys(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert bench.run(_args(tmp_path, "--no-bf16")) == 0
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
    assert out["complete"] and out["bf16"] == {"skipped": "not requested (--no-bf16)"}
    assert json.loads((tmp_path / "bench.json").read_text()) == out  # the saved copy is the printed one


def test_bench_table_and_bad_sizes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = _args(tmp_path, "--no-bf16")
    args.json = False
    assert bench.run(args) == 0
    text = capsys.readouterr().out
    assert "blockcausal" in text and "formula" in text and "faster than naive" in text
    parser = argparse.ArgumentParser()
    bench.add_arguments(parser)
    with pytest.raises(SystemExit):
        parser.parse_args(["--sizes", "10:3"])


def test_bench_module_does_not_import_torch() -> None:
    code = "import sys, lmd_studio.bench.model; print('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


def test_bench_without_cuda_is_a_clear_message(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    args = _args(tmp_path, "--no-bf16")
    args.device = "cuda"
    assert bench.run(args) == 2
    assert "no CUDA device" in capsys.readouterr().out


def test_overhead_fit_recovers_pass_and_token_costs() -> None:
    from lmd_studio.bench.model_runner import overhead_model

    rows = [{"K": k, "token_passes": t, "ms_per_block": k * 1.5 + t * 0.02} for k, t in ((8, 144), (8, 640), (4, 80))]
    fit = overhead_model(rows)
    assert fit == {"ms_per_pass": 1.5, "us_per_frame_token": 20.0}
    assert overhead_model(rows[:1]) is None


def test_bf16_is_measured_where_the_cpu_runs_it_and_reported_where_not(tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    """The real CPU, bf16 asked for: figures on AVX512-bf16 machines, a one-line reason on AVX2 ones (the
    capped run in test_avx2_capped.py takes the second branch) — never an exception."""
    from lmd_studio.model.cpu_features import probe_cpu_features

    cpu = probe_cpu_features()
    args = _args(tmp_path, "--sizes", "8:2")
    args.json = False
    assert bench.run(args) == 0
    text = capsys.readouterr().out
    saved = json.loads((tmp_path / "bench.json").read_text())
    assert saved["complete"] and saved["cpu_features"]["isa"] == cpu.isa
    if cpu.bf16_matmul:
        assert saved["bf16"]["rows"] and "peak_gflops_bf16" in saved
        assert "% of the bf16 peak" in text
    else:
        assert saved["bf16"] == {"skipped": cpu.bf16_skip_reason}
        assert f"bf16: not supported on this CPU ({cpu.isa})" in text


def test_injected_avx2_cpu_skips_bf16_and_every_section_is_handed_on() -> None:
    from lmd_studio.bench.model_runner import BenchSettings, run_benchmark
    from lmd_studio.model.cpu_features import CpuFeatures, probe_cpu_features

    laptop = CpuFeatures(isa="AVX2", onednn=probe_cpu_features().onednn, bf16_matmul=False)
    sections: list[dict] = []
    settings = BenchSettings(sizes=((8, 2), (12, 3)), steps=3, blocks=2, warmup=0, threads=1, codec="none",
                             d_model=32, layers=1, heads=2)
    result = run_benchmark(settings, probe=lambda: laptop, on_section=lambda r: sections.append(json.loads(json.dumps(r))))
    assert result["bf16"] == {"skipped": laptop.bf16_skip_reason} and "peak_gflops_bf16" not in result
    assert result["cpu_features"] == {"isa": "AVX2", "avx2": True, "avx512": False, "onednn": laptop.onednn,
                                      "bf16_matmul": False}
    # peak, one per size, fp32 full step, bf16, the end: each saved copy grows, only the last is complete
    assert [len(s.get("rows", [])) for s in sections] == [0, 3, 6, 6, 6, 6]
    assert [s["complete"] for s in sections] == [False] * 5 + [True]


def test_a_late_failure_keeps_the_sections_measured_before(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    from lmd_studio.bench import model_runner

    def broken(*args: object, **kwargs: object) -> dict:
        raise RuntimeError("a kernel this CPU lacks")

    monkeypatch.setattr(model_runner, "_bf16_section", broken)
    with pytest.raises(RuntimeError, match="a kernel this CPU lacks"):
        bench.run(_args(tmp_path))
    saved = json.loads((tmp_path / "bench.json").read_text())
    assert not saved["complete"] and len(saved["rows"]) == 6 and saved["peak_gflops_fp32"] > 0
    assert f"the sections measured before are in {tmp_path / 'bench.json'}" in capsys.readouterr().err


def test_jam_step_is_timed_beside_the_solo_step() -> None:
    import torch

    from lmd_studio.bench.model_runner import BenchSettings, jam_step
    from tests.model.lmdm_support import LinearTestCodec, tiny_dit

    dit = tiny_dit(seed=1)
    codec = LinearTestCodec(latent_channels=dit.cfg.latent_channels)
    jam = jam_step(dit, codec, BenchSettings(steps=2, blocks=3, warmup=0), torch.device("cpu"))
    assert jam["ms_jam_step"] > 0 and jam["ms_solo_step"] > 0 and jam["rtf_jam_step"] > 0
    assert jam["jam_cost_ratio"] == pytest.approx(jam["ms_jam_step"] / jam["ms_solo_step"], rel=0.01)
    assert jam["ms_delay_step"] > 0 and jam["delay_s"] == 1.0
    assert jam["delay_cost_ratio"] == pytest.approx(jam["ms_delay_step"] / jam["ms_solo_step"], rel=0.01)
