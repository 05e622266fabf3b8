"""Training and `lmd eval` ask cpu_features.py whether bf16 runs here: on an AVX2-only CPU (injected) bf16
autocast stays off and `lmd eval --bf16` says so in one line, before loading anything, and runs fp32."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
import torch

from lmd_studio.cli import cmd_eval
from lmd_studio.model.cpu_features import CpuFeatures
from lmd_studio.training.codec_recipe import CodecLoss, CodecTrainConfig
from lmd_studio.training.runner import autocast, bf16_supported

LAPTOP = CpuFeatures(isa="AVX2", onednn=True, bf16_matmul=False)
SERVER = CpuFeatures(isa="AVX512", onednn=True, bf16_matmul=True)
CPU = torch.device("cpu")


def test_diffusion_autocast_follows_the_cpu() -> None:
    assert not bf16_supported(CPU, probe=lambda: LAPTOP)
    assert bf16_supported(CPU, probe=lambda: SERVER)
    with autocast(CPU, True, probe=lambda: LAPTOP):
        assert not torch.is_autocast_enabled("cpu")
    with autocast(CPU, True, probe=lambda: SERVER):
        assert torch.is_autocast_enabled("cpu")
    with autocast(CPU, False, probe=lambda: SERVER):
        assert not torch.is_autocast_enabled("cpu")


def test_codec_loss_autocasts_only_where_bf16_runs() -> None:
    cfg = CodecTrainConfig()
    assert cfg.bf16  # the shipped default asks for it
    assert not CodecLoss(cfg, probe=lambda: LAPTOP).bf16
    assert CodecLoss(cfg, probe=lambda: SERVER).bf16


def test_eval_bf16_on_avx2_is_one_line_before_anything_loads(tmp_path: Path) -> None:
    parser = argparse.ArgumentParser()
    cmd_eval.add_arguments(parser)
    args = parser.parse_args(["--model", str(tmp_path / "absent"), "--bf16"])
    lines: list[str] = []
    with pytest.raises(ValueError, match="model folder not found"):  # the first thing that loads
        cmd_eval.evaluate_folder(args, args.model, lines.append, cpu_probe=lambda: LAPTOP)
    assert len(lines) == 1 and "\n" not in lines[0]
    assert lines[0].startswith("lmd eval: bf16: not supported on this CPU (AVX2)") and "fp32" in lines[0]
    lines.clear()
    with pytest.raises(ValueError, match="model folder not found"):
        cmd_eval.evaluate_folder(args, args.model, lines.append, cpu_probe=lambda: SERVER)
    assert lines == []
