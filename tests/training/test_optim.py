"""The shared schedule reproduces the three schedules the recipes had (values worked out by hand here, not by
calling the code twice), and the shared optimizer step clears, clips, sets the rate and steps."""

import pytest
import torch

from lmd_studio.training.codec2_config import Codec2TrainConfig
from lmd_studio.training.optim import lr_at, optimizer_step
from lmd_studio.training.recipe_audio_text import AudioTextTrainConfig
from lmd_studio.training.recipe_codec import CodecTrainConfig
from lmd_studio.training.stage_config import ArcConfig, LmdmConfig

SCHEDULE = {"lr": 1e-3, "min_lr": 1e-4, "warmup_steps": 10, "steps": 110}
# step -> lr for peak 1e-3, floor 1e-4: warm-up (step + 1) / 10 of the peak, then floor + 0.5 (peak - floor)
# (1 + cos(pi progress)) with progress = (step - 10) / 100, held at the floor past the end
EXPECTED = {0: 1e-4, 4: 5e-4, 9: 1e-3, 10: 1e-3, 35: 1e-4 + 4.5e-4 * (1 + 0.7071067811865476), 60: 5.5e-4,
            110: 1e-4, 500: 1e-4}


def _name(cfg) -> str:
    return type(cfg).__name__


@pytest.mark.parametrize("cfg", [LmdmConfig(**SCHEDULE), ArcConfig(**SCHEDULE, disc_lr=2e-4),
                                 Codec2TrainConfig(**SCHEDULE, disc_lr=2e-4)], ids=_name)
def test_the_diffusion_and_codec2_schedule(cfg):
    for step, lr in EXPECTED.items():
        assert lr_at(step, cfg) == pytest.approx(lr, rel=1e-12, abs=0), step


@pytest.mark.parametrize("cfg", [CodecTrainConfig(**SCHEDULE), AudioTextTrainConfig(**SCHEDULE)], ids=_name)
def test_the_codec_and_audiotext_schedule(cfg):
    for step, lr in EXPECTED.items():
        assert lr_at(step, cfg, floor_lr=cfg.min_lr) == pytest.approx(lr, rel=1e-12, abs=0), step


@pytest.mark.parametrize("cfg", [ArcConfig(**SCHEDULE, disc_lr=2e-4), Codec2TrainConfig(**SCHEDULE, disc_lr=2e-4)],
                         ids=_name)
def test_a_discriminator_peak_scales_the_floor(cfg):
    # peak 2e-4, floor 2e-5 (min_lr keeps its ratio to lr)
    for step, lr in {0: 2e-5, 9: 2e-4, 10: 2e-4, 60: 1.1e-4, 110: 2e-5}.items():
        assert lr_at(step, cfg, cfg.disc_lr) == pytest.approx(lr, rel=1e-12, abs=0), step


def test_the_two_floor_rules_are_kept_to_the_last_bit():
    """The diffusion/codec2 floor was always `min_lr * peak / lr`, the codec/audiotext floor `min_lr`: for
    3e-5 and 1e-3 those differ in the last bit, and a resumed run must not change which it gets."""
    rates = {"lr": 1e-3, "min_lr": 3e-5, "warmup_steps": 0, "steps": 10}
    assert lr_at(10, LmdmConfig(**rates)) == 3.0000000000000004e-05
    codec = CodecTrainConfig(**rates)
    assert lr_at(10, codec, floor_lr=codec.min_lr) == 3e-05


def test_optimizer_step_clears_clips_sets_the_rate_and_steps():
    w = torch.nn.Parameter(torch.tensor([1.0, 2.0]))
    w.grad = torch.tensor([100.0, 100.0])  # a stale gradient from an earlier step must not leak in
    opt = torch.optim.SGD([w], lr=123.0)
    loss = (w * torch.tensor([3.0, 4.0])).sum()  # gradient [3, 4], norm 5
    norm = optimizer_step(loss, [w], opt, lr=0.5, grad_clip=1.0)
    assert norm == pytest.approx(5.0)
    assert opt.param_groups[0]["lr"] == 0.5
    # clipped to norm 1: [0.6, 0.8]; SGD at 0.5
    torch.testing.assert_close(w.detach(), torch.tensor([1.0 - 0.3, 2.0 - 0.4]))
