"""The long-rollout monitor: it measures segment FD over self-rollouts from nothing, runs inside `lmd train
lmdm|arc` when a config asks for it, and then it (not the short monitor) picks the kept checkpoint."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from lmd_studio.cli import main as lmd_main
from lmd_studio.training.logging import MetricsLogger
from lmd_studio.training.long_rollout import LongRolloutConfig, long_rollout_config
from lmd_studio.training.stage_config import ArcConfig, LmdmConfig
from tests.training.diffusion_support import COMMON


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)


def test_config_switch_and_validation() -> None:
    assert long_rollout_config(LmdmConfig()) is None
    cfg = long_rollout_config(ArcConfig(long_rollout_streams=3, long_rollout_s=60.0, long_rollout_segment_s=20.0),
                              steps=4)
    assert cfg == LongRolloutConfig(streams=3, seconds=60.0, segment_s=20.0, steps=4)
    with pytest.raises(ValueError, match="segment"):
        LmdmConfig(long_rollout_streams=2, long_rollout_s=10.0, long_rollout_segment_s=20.0)
    with pytest.raises(ValueError, match=">= 0"):
        ArcConfig(long_rollout_streams=-1)


def _train(tiny, stage: str, config, out, init):  # noqa: ANN001, ANN202
    """`lmd train <stage>` on the tiny latents through the real entry point → the run folder."""
    assert lmd_main(["train", stage, "--latents", str(tiny.latents), "--config", str(config),
                     "--out", str(out), "--device", "cpu", "--init", str(init)]) == 0
    return out


def _monitored(run):  # noqa: ANN001, ANN202
    """The evaluation rows of a run that carry the long-rollout monitor."""
    return [r for r in MetricsLogger.read(run / "metrics.csv") if "long_fd_score" in r]


def test_lmdm_and_arc_pick_checkpoints_by_the_long_rollout(diffusion_tiny, tmp_path) -> None:
    long = {"long_rollout_streams": 2, "long_rollout_s": 4.0, "long_rollout_segment_s": 2.0, "eval_every": 1}
    lmdm_cfg = diffusion_tiny.write_config("lmdm_long", dict(COMMON, **long))
    base = tmp_path / "base"
    assert lmd_main(["train", "base", "--latents", str(diffusion_tiny.latents), "--config",
                     str(diffusion_tiny.config("base")), "--out", str(base), "--device", "cpu"]) == 0
    lmdm = _train(diffusion_tiny, "lmdm", lmdm_cfg, tmp_path / "lmdm", base)
    rows = _monitored(lmdm)
    assert rows, "the monitor ran at evaluation time"
    for r in rows:
        assert np.isfinite(r["long_fd_score"]) and r["long_fd_score"] >= r["long_fd_mean"] > 0
    summary = json.loads((lmdm / "summary.json").read_text())
    # the kept checkpoint is the one with the lowest long-rollout score, not the lowest validation loss
    assert summary["best_val"] == pytest.approx(min(r["long_fd_score"] for r in rows))
    # a stage may keep its flow objective as the judge and only log the monitor (the v2 LMDM configs)
    by_loss = diffusion_tiny.write_config("lmdm_long_loss", dict(COMMON, **long, checkpoint_monitor="val_loss"))
    lmdm_loss = _train(diffusion_tiny, "lmdm", by_loss, tmp_path / "lmdm_loss", base)
    loss_rows = _monitored(lmdm_loss)
    assert loss_rows and json.loads((lmdm_loss / "summary.json").read_text())["best_val"] == pytest.approx(
        min(r["val_loss"] for r in loss_rows))
    with pytest.raises(ValueError, match="checkpoint_monitor"):
        LmdmConfig(checkpoint_monitor="fd")
    # with val_loss judging, the rollouts may be taken every N steps only (and at the last step)
    sparse = diffusion_tiny.write_config("lmdm_long_sparse", dict(COMMON, **long, checkpoint_monitor="val_loss",
                                                                  steps=3, long_rollout_every=2))
    lmdm_sparse = _train(diffusion_tiny, "lmdm", sparse, tmp_path / "lmdm_sparse", base)
    evals = [r for r in MetricsLogger.read(lmdm_sparse / "metrics.csv") if "val_loss" in r]
    assert [r["step"] for r in evals] == [1, 2, 3]
    assert [r["step"] for r in _monitored(lmdm_sparse)] == [2, 3]
    with pytest.raises(ValueError, match="long_rollout_every must be 0 when the long rollout picks"):
        LmdmConfig(long_rollout_streams=2, long_rollout_every=2)
    with pytest.raises(ValueError, match="long_rollout_every must be >= 0"):
        LmdmConfig(checkpoint_monitor="val_loss", long_rollout_every=-1)
    arc_cfg = json.loads(diffusion_tiny.config("arc").read_text())
    arc_cfg.update(long)
    arc_path = diffusion_tiny.write_config("arc_long", arc_cfg)
    arc = _train(diffusion_tiny, "arc", arc_path, tmp_path / "arc", lmdm)
    arc_rows = _monitored(arc)
    assert arc_rows and json.loads((arc / "summary.json").read_text())["best_val"] == pytest.approx(
        min(r["long_fd_score"] for r in arc_rows))
