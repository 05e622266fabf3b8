"""The shared loop the codec recipe uses: NaN stop keeps the last good checkpoint, early stop, CSV resume."""

import math

import pytest
import torch

from lmd_studio.training.logging import MetricsLogger, plot_metrics
from lmd_studio.training.loop import LoopConfig, load_training_checkpoint, train_loop


def _setup():
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 1)
    return model, torch.optim.SGD(model.parameters(), lr=0.1)


def test_nan_stops_and_keeps_the_last_good_checkpoint(tmp_path):
    model, opt = _setup()

    def step_fn(step):
        loss = model(torch.ones(1, 3)).pow(2).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
        return {"loss": math.nan if step == 5 else loss.item()}

    res = train_loop(LoopConfig(max_steps=10, checkpoint_every=2, log_every=1), model, opt, step_fn, tmp_path,
                     log=lambda *_: None)
    assert res.status == "nan" and res.step == 5
    assert load_training_checkpoint(tmp_path / "last.pt")["step"] == 4  # last good one, not the poisoned step


def test_early_stop_and_time_limit(tmp_path):
    model, opt = _setup()
    evals = iter([1.0, 0.5, 0.6, 0.7, 0.8, 0.9])
    res = train_loop(LoopConfig(max_steps=100, eval_every=1, log_every=1, patience_evals=3, monitor="v"), model, opt,
                     lambda s: {"loss": 1.0}, tmp_path, eval_fn=lambda s: {"v": next(evals)}, log=lambda *_: None)
    assert res.status == "early_stop" and res.best == 0.5 and res.step == 5
    assert load_training_checkpoint(res.best_checkpoint)["step"] == 2
    with pytest.raises(ValueError):
        LoopConfig(max_steps=0)


def test_metrics_csv_resume_and_plot(tmp_path):
    log = MetricsLogger(tmp_path / "m.csv")
    for s in range(1, 6):
        log.log(s, {"loss": 1.0 / s})
    log.log(5, {"val": 0.3})  # a new column appears
    resumed = MetricsLogger(tmp_path / "m.csv", resume_step=2)  # the checkpoint had 2 steps done
    assert [r["step"] for r in resumed.rows] == [1.0, 2.0]
    resumed.log(3, {"loss": 0.33})
    rows = MetricsLogger.read(tmp_path / "m.csv")
    assert [r["step"] for r in rows] == [1.0, 2.0, 3.0] and rows[-1]["loss"] == pytest.approx(0.33)
    assert plot_metrics(tmp_path / "m.csv", tmp_path / "m.png").stat().st_size > 1000
