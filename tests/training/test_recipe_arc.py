"""`lmd train arc` on the tiny corpus: the exported checkpoint is always a post-trained generator (never the
stage-1 weights an early evaluation measured), the optional stabilisers run and the EMA is what ships, and
`full_windows_only` keeps silence-padded clips out of the data."""

import json

import numpy as np
import pytest
import torch

from lmd_studio.cli import main as lmd_main
from lmd_studio.model.model_io import load_dit
from lmd_studio.model.text_encoder import FakeTextEncoder
from lmd_studio.training.batches import WindowSampler
from lmd_studio.training.latents import LatentItem, LatentSet
from lmd_studio.training.logging import MetricsLogger
from lmd_studio.training.loop import load_training_checkpoint
from lmd_studio.training.recipe_arc import eval_metrics, full_windows_only
from lmd_studio.training.recipe_common import StageData
from lmd_studio.training.stage_config import CONFIG_DIR, ArcConfig, load_stage_config
from lmd_studio.training.text_bank import TextBank


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)


def _train(stage, setup, out, config, *extra):
    return lmd_main(["train", stage, "--latents", str(setup.latents), "--config", str(config), "--out", str(out),
                     "--device", "cpu", *extra])


@pytest.fixture(scope="module")
def lmdm_run(diffusion_tiny, tmp_path_factory):
    root = tmp_path_factory.mktemp("arc-chain")
    assert _train("base", diffusion_tiny, root / "base", diffusion_tiny.config("base")) == 0
    assert _train("lmdm", diffusion_tiny, root / "lmdm", diffusion_tiny.config("lmdm"), "--init",
                  str(root / "base")) == 0
    return root / "lmdm"


def _arc_weights_by(setup, lmdm_run, tmp_path, data: dict, key: str, values: tuple) -> dict:
    """Train `lmd train arc` once per value of one config key; the last checkpoint's weights per value."""
    weights = {}
    for value in values:
        config = setup.write_config(f"arc-{key}-{value}", dict(data, **{key: value}))
        out = tmp_path / f"{key}-{value}"
        assert _train("arc", setup, out, config, "--init", str(lmdm_run)) == 0
        weights[value] = load_training_checkpoint(out / "last.pt")["model"]
    return weights


def test_evaluations_before_the_first_generator_update_are_only_a_baseline():
    fds = {"val_latent_fd": 7.0, "val_latent_fd_scratch": 9.0}
    assert eval_metrics(fds, step=2, g_start=2) == {"val_latent_fd_init": 7.0,  # G has not moved yet
                                                    "val_latent_fd_scratch_init": 9.0}
    assert eval_metrics(fds, step=3, g_start=2) == fds  # one G update done


def test_export_is_a_post_trained_ema_generator(diffusion_tiny, lmdm_run, tmp_path):
    """An evaluation before the generator trains must not become "best": train-arc2 exported its step-100
    checkpoint, bit-identical to the stage-1 model, and labelled it ARC."""
    data = json.loads(diffusion_tiny.config("arc").read_text())
    data.update(steps=5, eval_every=1, checkpoint_every=1, disc_warmup_steps=1, head_warmup_steps=1, g_every=2,
                ema_decay=0.5, disc_penalty_weight=0.1, moment_weight=0.1, bf16=False)
    config = diffusion_tiny.write_config("arc-stable-test", data)
    out = tmp_path / "arc"
    assert _train("arc", diffusion_tiny, out, config, "--init", str(lmdm_run)) == 0
    rows = MetricsLogger.read(out / "metrics.csv")
    g_start = 2
    evals = {int(r["step"]): r for r in rows if "val_latent_fd" in r or "val_latent_fd_init" in r}
    assert sorted(evals) == [1, 2, 3, 4, 5]
    assert all("val_latent_fd_init" in evals[s] and "val_latent_fd" not in evals[s] for s in (1, 2))
    assert all("val_latent_fd" in evals[s] for s in (3, 4, 5))
    train_rows = {int(r["step"]): r for r in rows if "loss" in r}
    # G trains at step indices 2 and 4 (rows 3 and 5), D every step, with the penalty and moments logged
    assert [s for s in sorted(train_rows) if "g_adv" in train_rows[s]] == [3, 5]
    assert all("d_penalty" in train_rows[s] for s in (3, 4, 5)) and "g_moments" in train_rows[5]
    best = load_training_checkpoint(out / "best.pt")
    assert best["step"] > g_start
    summary = json.loads((out / "summary.json").read_text())
    for key in ("val_latent_fd_init", "val_latent_fd_scratch_init"):  # the baseline sits beside best_val
        assert summary[key] == evals[2][key]
    assert all("val_latent_fd_scratch" in evals[s] for s in (3, 4, 5))
    exported, _ = load_dit(out / "model.safetensors")
    stage1, _ = load_dit(lmdm_run / "model.safetensors")
    state = exported.state_dict()
    for name, value in state.items():  # the EMA of the best checkpoint is what ships ...
        torch.testing.assert_close(value, best["model"][f"ema.{name}"])
    # ... and it moved away from both the stage-1 weights and the raw generator
    assert any(not torch.equal(value, stage1.state_dict()[name]) for name, value in state.items())
    assert any(not torch.equal(value, best["model"][f"gen.{name}"]) for name, value in state.items())


def test_every_generator_loss_term_reaches_the_update(diffusion_tiny, lmdm_run, tmp_path):
    """With the flow regulariser on, the moment term must still change the generator's step (an earlier
    draft rebuilt the total from the adversarial and flow terms and silently dropped it)."""
    data = json.loads(diffusion_tiny.config("arc").read_text())
    data.update(steps=3, disc_warmup_steps=1, head_warmup_steps=1, flow_weight=0.5, bf16=False)
    weights = _arc_weights_by(diffusion_tiny, lmdm_run, tmp_path, data, "moment_weight", (0.0, 10.0))
    gen_keys = [k for k in weights[0.0] if k.startswith("gen.")]
    assert any(not torch.equal(weights[0.0][k], weights[10.0][k]) for k in gen_keys)
    disc_keys = [k for k in weights[0.0] if k.startswith("disc.")]
    assert all(torch.equal(weights[0.0][k], weights[10.0][k]) for k in disc_keys)  # G-only term


def test_full_windows_only_drops_items_that_would_be_silence_padded(tmp_path):
    channels, frames = 4, 12
    silence = np.full(channels, 7.0, dtype=np.float32)
    meta = {"silence_latent": silence.tolist(), "latent_channels": channels}

    def item(name, n):
        return LatentItem(name, np.zeros((n, channels), np.float32), np.zeros((n, 15), np.float32), name)

    split = LatentSet(tmp_path, "train", [item("short", 5), item("long", 40), item("exact", frames)], meta)
    bank = TextBank.build(["short", "long", "exact"], FakeTextEncoder(16, 8), 8)
    data = StageData(WindowSampler(split, bank, frames, 0), WindowSampler(split, bank, frames, 1), bank, tmp_path)

    def padded(sampler):
        return any(bool((sampler.batch(step, 8).latents == 7.0).all(-1).any()) for step in range(20))

    assert padded(data.train)  # the plain sampler hands out silence-padded "real" clips
    kept = full_windows_only(data, frames, 0)
    assert sorted(it.id for it in kept.train.data.items) == ["exact", "long"]
    assert not padded(kept.train) and not padded(kept.val)


def test_shipped_configs_parse_and_the_stable_one_turns_the_stabilisers_on():
    plain = load_stage_config(ArcConfig, CONFIG_DIR / "arc.json")
    assert plain.ema_decay == 0 and plain.disc_penalty_weight == 0 and plain.moment_weight == 0
    stable = load_stage_config(ArcConfig, CONFIG_DIR / "arc_stable.json")
    assert 0.9 <= stable.ema_decay < 1 and stable.disc_penalty_weight > 0 and stable.moment_weight > 0
    assert stable.full_windows_only and stable.lr < plain.lr
    with pytest.raises(ValueError, match="ema_decay"):
        ArcConfig(ema_decay=1.0)
    with pytest.raises(ValueError, match="g_every"):
        ArcConfig(g_every=0)


def test_p_text_drop_reaches_the_discriminator_warm_up(diffusion_tiny, lmdm_run, tmp_path):
    """The config's CFG dropout drives the flow terms (it used to be ignored for a hard-coded 0.1): a warm-up
    step that always drops the prompt must move the discriminator differently from one that never does."""
    data = json.loads(diffusion_tiny.config("arc").read_text())
    data.update(steps=1, disc_warmup_steps=1, head_warmup_steps=1, bf16=False)
    weights = _arc_weights_by(diffusion_tiny, lmdm_run, tmp_path, data, "p_text_drop", (0.0, 1.0))
    disc_keys = [k for k in weights[0.0] if k.startswith("disc.")]
    assert any(not torch.equal(weights[0.0][k], weights[1.0][k]) for k in disc_keys)
