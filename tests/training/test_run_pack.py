"""A run folder packed into one safetensors file and unpacked on another machine resumes as if it had never
stopped (bit for bit with exact moments; within rounding with the default bfloat16 moments)."""

from __future__ import annotations

import math
import subprocess
import sys

import pytest
import torch

from lmd_studio.model.checkpoint import CheckpointError, save_checkpoint
from lmd_studio.training.loop import LoopConfig, load_training_checkpoint, train_loop
from lmd_studio.training.run_pack import pack_run, read_pack, unpack_run
from tests.training.resume_support import assert_identical


def _model_and_optimizer() -> tuple[torch.nn.Module, torch.optim.Optimizer]:
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.Dropout(0.1), torch.nn.Linear(16, 1))
    return model, torch.optim.AdamW(model.parameters(), lr=1e-2, weight_decay=0.01)


def _train(out, steps: int, model=None, opt=None) -> list[float]:
    """Train to `steps` in `out` (resuming from its last.pt if present); the data depend only on the step."""
    if model is None:
        model, opt = _model_and_optimizer()
    losses: list[float] = []
    target = torch.nn.Linear(8, 1)
    torch.nn.init.constant_(target.weight, 0.5)

    def step_fn(step: int) -> dict[str, float]:
        g = torch.Generator().manual_seed(step)
        x = torch.randn(32, 8, generator=g)
        loss = (model(x) - target(x).detach()).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
        return {"loss": loss.item()}

    train_loop(LoopConfig(max_steps=steps, checkpoint_every=5, log_every=5, eval_every=5), model, opt, step_fn, out,
               eval_fn=lambda _s: {"val_loss": losses[-1]}, log=lambda *_: None, extra=lambda: {"wall_s": 12.5})
    return losses


def test_an_exact_pack_round_trips_the_checkpoint_bit_for_bit(tmp_path):
    _train(tmp_path / "run", 10)
    pack = pack_run(tmp_path / "run", tmp_path / "state.safetensors", exact=True)
    unpack_run(pack, tmp_path / "again")
    a = load_training_checkpoint(tmp_path / "run" / "last.pt")
    b = load_training_checkpoint(tmp_path / "again" / "last.pt")
    for key in ("model", "optimizer", "rng", "step", "extra"):
        assert_identical(a[key], b[key], key)
    assert math.isnan(b["best"]) and b["bad_evals"] == 0  # best.pt is not packed, so its score is forgotten
    assert (tmp_path / "again" / "metrics.csv").read_text() == (tmp_path / "run" / "metrics.csv").read_text()


def test_training_resumed_from_an_exact_pack_equals_one_that_never_stopped(tmp_path):
    straight = _train(tmp_path / "straight", 20)
    first = _train(tmp_path / "first", 10)
    unpack_run(pack_run(tmp_path / "first", tmp_path / "p.safetensors", exact=True), tmp_path / "elsewhere")
    second = _train(tmp_path / "elsewhere", 20)
    assert first + second == straight
    a = load_training_checkpoint(tmp_path / "straight" / "last.pt")
    b = load_training_checkpoint(tmp_path / "elsewhere" / "last.pt")
    assert_identical(a["model"], b["model"], "model")
    assert_identical(a["optimizer"], b["optimizer"], "optimizer")


def test_default_pack_rounds_only_the_moments_and_halves_them(tmp_path):
    _train(tmp_path / "run", 10)
    exact = pack_run(tmp_path / "run", tmp_path / "exact.safetensors", exact=True)
    small = pack_run(tmp_path / "run", tmp_path / "small.safetensors")
    from lmd_studio.training.run_pack import optimizer_file

    assert optimizer_file(small).stat().st_size < optimizer_file(exact).stat().st_size  # the moments halved
    # the weights file is the same but for its JSON header (the pack's mode, padded to 8 bytes; CI saw 8 bytes)
    assert abs(small.stat().st_size - exact.stat().st_size) <= 64
    original = load_training_checkpoint(tmp_path / "run" / "last.pt")
    packed, _files = read_pack(small)
    assert_identical(original["model"], packed["model"], "model")  # weights are never rounded
    for idx, state in original["optimizer"]["state"].items():
        for name in ("exp_avg", "exp_avg_sq"):
            got = packed["optimizer"]["state"][idx][name]
            assert got.dtype == state[name].dtype  # back at the optimizer's own dtype
            assert not torch.equal(got, state[name]) or state[name].abs().max() == 0  # rounded…
            torch.testing.assert_close(got, state[name], rtol=1e-2, atol=1e-12)  # …to bfloat16 precision
        assert_identical(state["step"], packed["optimizer"]["state"][idx]["step"], "step")
    # and a resume from it lands where the uninterrupted run does, within that rounding
    straight = _train(tmp_path / "straight", 20)
    unpack_run(small, tmp_path / "resumed")
    resumed = _train(tmp_path / "resumed", 20)
    assert resumed[-1] == pytest.approx(straight[-1], rel=0.05)
    assert resumed[-1] != straight[-1]  # it did resume from the rounded moments


def test_unpack_keeps_an_existing_checkpoint_unless_forced(tmp_path):
    _train(tmp_path / "run", 5)
    pack = pack_run(tmp_path / "run", tmp_path / "p.safetensors")
    _train(tmp_path / "other", 10)
    with pytest.raises(FileExistsError, match="already holds a checkpoint"):
        unpack_run(pack, tmp_path / "other")
    assert load_training_checkpoint(tmp_path / "other" / "last.pt")["step"] == 10
    assert unpack_run(pack, tmp_path / "other", force=True)["step"] == 5


def test_foreign_truncated_and_missing_files_are_refused_by_name(tmp_path):
    foreign = save_checkpoint(tmp_path / "dit.safetensors", {"w": torch.zeros(2)}, fmt="lmd-dit",
                              format_version=1, config={})
    with pytest.raises(CheckpointError, match="dit.safetensors.*lmd-run-pack"):
        read_pack(foreign)
    _train(tmp_path / "run", 5)
    pack = pack_run(tmp_path / "run", tmp_path / "p.safetensors")
    cut = tmp_path / "cut.safetensors"
    cut.write_bytes(pack.read_bytes()[: pack.stat().st_size // 2])
    with pytest.raises(CheckpointError, match="cut.safetensors"):
        read_pack(cut)
    with pytest.raises(CheckpointError, match="no last.pt"):
        pack_run(tmp_path / "nothing-here", tmp_path / "x.safetensors")


def test_cli_packs_and_unpacks_and_explains_a_bad_folder_in_one_line(tmp_path):
    _train(tmp_path / "run", 5)
    cmd = [sys.executable, "-m", "lmd_studio.cli", "train"]
    done = subprocess.run([*cmd, "pack", str(tmp_path / "run"), "--out", str(tmp_path / "p.safetensors")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "step 5" in done.stdout
    done = subprocess.run([*cmd, "unpack", str(tmp_path / "p.safetensors"), "--out", str(tmp_path / "again")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert load_training_checkpoint(tmp_path / "again" / "last.pt")["step"] == 5
    bad = subprocess.run([*cmd, "pack", str(tmp_path / "empty"), "--out", str(tmp_path / "q.safetensors")],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2
    assert bad.stderr.strip().count("\n") == 0 and "no last.pt" in bad.stderr and "Traceback" not in bad.stderr


def test_a_pack_is_two_files_and_refuses_a_missing_or_foreign_optimizer_half(tmp_path):
    from lmd_studio.training.run_pack import optimizer_file

    _train(tmp_path / "a", 5)
    _train(tmp_path / "b", 10)
    pack_a = pack_run(tmp_path / "a", tmp_path / "a.safetensors")
    pack_b = pack_run(tmp_path / "b", tmp_path / "b.safetensors")
    half = optimizer_file(pack_a)
    assert half.name == "a.optimizer.safetensors" and half.is_file()
    assert half.stat().st_size > 0 and pack_a.stat().st_size > 0
    half.rename(tmp_path / "elsewhere.safetensors")
    with pytest.raises(CheckpointError, match="a.optimizer.safetensors is missing"):
        read_pack(pack_a)
    optimizer_file(pack_b).rename(half)  # b's optimizer beside a's weights
    with pytest.raises(CheckpointError, match="belongs to another pack"):
        read_pack(pack_a)


def test_unpack_leaves_the_summary_to_the_resumed_stage(tmp_path):
    _train(tmp_path / "run", 5)
    (tmp_path / "run" / "summary.json").write_text('{"status": "done"}')
    pack = pack_run(tmp_path / "run", tmp_path / "p.safetensors")
    assert read_pack(pack)[1]["summary.json"] == '{"status": "done"}'  # kept in the pack as a record…
    result = unpack_run(pack, tmp_path / "again")
    assert result["files"] == ["metrics.csv"]  # (this loop writes no config.json)
    assert not (tmp_path / "again" / "summary.json").exists()  # …not restored: no export came with it
