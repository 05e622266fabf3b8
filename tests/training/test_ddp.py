"""Data parallelism: `lmd train base` for 2 steps under torchrun on 2 CPU processes (gloo); the replicas'
weights must agree although each replica trained on its own share of the batch."""

import json
import os
import subprocess
import sys

import torch

from lmd_studio.training import ddp


def test_two_replicas_under_torchrun_agree(diffusion_tiny, tmp_path):
    data = json.loads(diffusion_tiny.config("base").read_text())
    data.update(steps=2, batch_size=4)
    cfg = diffusion_tiny.write_config("base-ddp", data)
    out = tmp_path / "run"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
                           "-m", "lmd_studio.cli", "train", "base", "--latents", str(diffusion_tiny.latents),
                           "--config", str(cfg), "--out", str(out), "--device", "cpu"],
                          capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["hardware"]["replicas"] == 2 and summary["steps"] == 2
    first, second = summary["replica_checksums"]
    assert first == second and summary["replicas_agree"]
    # the single-process run from the same seed differs: each replica really saw its own half-batch
    single = tmp_path / "single"
    from lmd_studio.cli import main as lmd_main

    torch.set_num_threads(1)
    assert lmd_main(["train", "base", "--latents", str(diffusion_tiny.latents), "--config", str(cfg), "--out",
                     str(single), "--device", "cpu"]) == 0
    assert json.loads((single / "summary.json").read_text())["replica_checksums"][0] != first


def test_helpers_are_no_ops_for_one_process():
    info = ddp.DistInfo()
    p = torch.nn.Parameter(torch.ones(3))
    p.grad = torch.full((3,), 2.0)
    ddp.average_gradients([p], info)
    assert torch.equal(p.grad, torch.full((3,), 2.0))
    assert ddp.average_metrics({"a": 1.5}, info) == {"a": 1.5}
    assert ddp.agree_any(True, info) and not ddp.agree_any(False, info)
