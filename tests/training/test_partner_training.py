"""Jam training: partner stems as the accompaniment input up to a cut-off, through batches and `lmd train lmdm`."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from lmd_studio.cli import main as lmd_main
from lmd_studio.data.revoice import REVOICED_STEM
from lmd_studio.model.conditioning import accompaniment_features
from lmd_studio.model.dit import DiT
from lmd_studio.model.model_io import load_dit
from lmd_studio.model.text_encoder import FakeTextEncoder
from lmd_studio.training.batches import WindowSampler
from lmd_studio.training.flow import CondDropout, batch_conditions
from lmd_studio.training.latents import LatentItem, LatentSet
from lmd_studio.training.partner import PartnerPlan, choose_partner, part_stems
from lmd_studio.training.text_bank import TextBank
from tests.training.diffusion_support import TINY_MODEL

S, BLOCK = TINY_MODEL.context_frames, TINY_MODEL.block_frames


def _item(stems: int) -> LatentItem:
    z = np.zeros((20, 32), np.float32)
    c = np.zeros((20, 15), np.float32)
    return LatentItem("x", z, c, "d", stems={f"s{i}": (z + i + 1, c) for i in range(stems)})


def test_choice_follows_the_plan():
    rng = np.random.default_rng(0)
    never, always = PartnerPlan(0.0, S, 4), PartnerPlan(1.0, S, 4)
    assert all(choose_partner(_item(2), never, rng) is None for _ in range(50))
    assert all(choose_partner(_item(0), always, rng) is None for _ in range(10))  # no stems, no pair
    choices = [choose_partner(_item(2), always, rng) for _ in range(200)]
    assert {(c.target, c.partner) for c in choices} == {("s0", "s1"), ("s1", "s0")}
    visible = {c.visible_frames for c in choices}
    assert visible == set(range(S - 4, S + 1))  # the cut-off lands anywhere in [s - lookback, s]
    with pytest.raises(ValueError, match="lookback"):
        PartnerPlan(0.5, S, S + 1)


def _revoiced_item(parts: int) -> LatentItem:
    item = _item(parts)
    z, c = np.full((20, 32), 9.0, np.float32), np.zeros((20, 15), np.float32)
    return LatentItem("r", item.latents, item.controls, "d", stems={**item.stems, REVOICED_STEM: (z, c)})


def test_delay_pairs_follow_the_plan_and_reach_into_the_target():
    rng = np.random.default_rng(1)
    delay = PartnerPlan(0.0, S, 4, p_delay=1.0, block_frames=BLOCK)
    choices = [choose_partner(_revoiced_item(2), delay, rng) for _ in range(400)]
    assert all(c is not None and c.target is None and c.partner == REVOICED_STEM for c in choices)
    visible = [c.visible_frames for c in choices]
    # half the draws show the whole target block (a long delay), the rest cut anywhere in [s - lookback, s + o]
    assert 0.4 < np.mean([v == S + BLOCK for v in visible]) < 0.6
    assert set(visible) == set(range(S - 4, S + BLOCK + 1))
    # no re-voiced render: a delay plan falls back to accompaniment pairs of the two parts (never the re-voice)
    both = PartnerPlan(1.0, S, 4, p_delay=0.5, block_frames=BLOCK)
    mixed = [choose_partner(_revoiced_item(2), both, rng) for _ in range(200)]
    assert {c.partner for c in mixed if c is not None} == {"s0", "s1", REVOICED_STEM}
    assert all(c.target in ("s0", "s1") for c in mixed if c is not None and c.partner != REVOICED_STEM)
    assert all(choose_partner(_item(2), delay, rng) is None for _ in range(20))
    with pytest.raises(ValueError, match="block_frames"):
        PartnerPlan(0.0, S, 4, p_delay=0.5)


def test_a_plan_without_delay_draws_what_it_drew_before():
    """p_delay = 0 must not consume draws: the jam batches of runs before generative delay stay the same."""
    plan = PartnerPlan(0.5, S, 4)
    a = [choose_partner(_item(2), plan, np.random.default_rng(7)) for _ in range(1)]
    b = [choose_partner(_revoiced_item(2), plan, np.random.default_rng(7)) for _ in range(1)]
    seq_a = [choose_partner(_item(2), plan, r) for r in [np.random.default_rng(3)] for _ in range(50)]
    seq_b = [choose_partner(_revoiced_item(2), plan, r) for r in [np.random.default_rng(3)] for _ in range(50)]
    assert a == b and seq_a == seq_b  # the re-voiced stem is not a part, and nothing else changed


def test_the_cut_off_hides_the_partner_from_the_target_block_on():
    partner = torch.arange(12 * 32, dtype=torch.float32).reshape(12, 32)
    feats = accompaniment_features(partner, 12, 32, visible_frames=S)
    assert torch.equal(feats[:S, :32], partner[:S]) and feats[:S, 32].eq(1).all()
    assert not feats[S:].any()  # the first target frame and everything after: nothing heard
    assert not accompaniment_features(None, 12, 32).any()


@pytest.fixture(scope="module")
def sampler_parts(diffusion_tiny):
    data = LatentSet.open(diffusion_tiny.latents, "train")
    bank = TextBank.build(data.descriptions, FakeTextEncoder(TINY_MODEL.text_dim), TINY_MODEL.max_text_tokens)
    return data, bank


def test_batches_pair_a_target_stem_with_the_other_stem_as_partner(sampler_parts):
    data, bank = sampler_parts
    assert any(len(part_stems(it)) == 2 for it in data.items), "the tiny corpus has items with partner stems"
    plain = WindowSampler(data, bank, S + BLOCK, seed=0)
    off = WindowSampler(data, bank, S + BLOCK, seed=0, partner=PartnerPlan(0.0, S, 4))
    jam = WindowSampler(data, bank, S + BLOCK, seed=0, partner=PartnerPlan(1.0, S, 4))
    paired = 0
    for step in range(8):
        a, b, c = plain.batch(step, 6), off.batch(step, 6), jam.batch(step, 6)
        assert a.accomp is None and torch.equal(a.latents, b.latents)  # p = 0 draws the same windows
        assert b.accomp is not None and not b.accomp.any()
        assert c.accomp is not None and c.accomp.shape == (6, S + BLOCK, 33)
        for row in range(6):
            heard = c.accomp[row, :, 32]
            if not heard.any():
                assert torch.equal(c.latents[row], a.latents[row])  # an item without stems: the plain mix
                continue
            paired += 1
            visible = int(heard.sum())
            assert S - 4 <= visible <= S and heard[:visible].all()  # heard up to the cut-off, never after
            assert not torch.equal(c.latents[row], a.latents[row])  # the target is a stem, not the mix
    assert paired > 0


def test_the_partner_reaches_the_frame_conditioning(sampler_parts):
    data, bank = sampler_parts
    batch = WindowSampler(data, bank, S + BLOCK, seed=0, partner=PartnerPlan(1.0, S, 4)).batch(0, 6)
    dit = DiT(TINY_MODEL)
    _, fc = batch_conditions(dit, batch, bank, CondDropout(0.0, 0.0, 0.0), torch.Generator().manual_seed(0), "cpu")
    first = TINY_MODEL.control_channels
    np.testing.assert_array_equal(fc[..., first:first + 33].numpy(), batch.accomp.numpy())


def test_lmdm_with_jam_training_runs_through_the_entry_point(diffusion_tiny, tmp_path):
    torch.set_num_threads(1)
    assert lmd_main(["train", "base", "--latents", str(diffusion_tiny.latents), "--config",
                     str(diffusion_tiny.config("base")), "--out", str(tmp_path / "base")]) == 0
    cfg = diffusion_tiny.write_config("lmdm-jam", dict(json.loads(diffusion_tiny.config("lmdm").read_text()),
                                                       p_partner=0.5, partner_lookback_s=0.2))
    assert lmd_main(["train", "lmdm", "--latents", str(diffusion_tiny.latents), "--config", str(cfg),
                     "--out", str(tmp_path / "lmdm"), "--init", str(tmp_path / "base")]) == 0
    summary = json.loads((tmp_path / "lmdm" / "summary.json").read_text())
    assert summary["status"] == "done" and summary["jam_trained"] is True
    # generative delay: an LMDM model continued on re-voiced pairs keeps its jam training and learns delay
    assert any(REVOICED_STEM in it.stems for it in LatentSet.open(diffusion_tiny.latents, "train").items)
    delay_cfg = diffusion_tiny.write_config("lmdm-delay", dict(json.loads(cfg.read_text()), p_partner=0.0,
                                                               p_delay=0.5, steps=2))
    assert lmd_main(["train", "lmdm", "--latents", str(diffusion_tiny.latents), "--config", str(delay_cfg),
                     "--out", str(tmp_path / "delay"), "--init", str(tmp_path / "lmdm")]) == 0
    summary = json.loads((tmp_path / "delay" / "summary.json").read_text())
    assert summary["status"] == "done" and summary["jam_trained"] is True and summary["delay_trained"] is True
    _, gen_cfg = load_dit(tmp_path / "delay" / "model.safetensors")
    assert gen_cfg.delay_trained and gen_cfg.jam_trained


def test_delay_batches_put_the_re_voiced_render_into_the_target_block(sampler_parts):
    data, bank = sampler_parts
    plan = PartnerPlan(0.0, S, 4, p_delay=1.0, block_frames=BLOCK)
    batch = WindowSampler(data, bank, S + BLOCK, seed=0, partner=plan).batch(0, 8)
    plain = WindowSampler(data, bank, S + BLOCK, seed=0).batch(0, 8)
    assert batch.accomp is not None
    reached = 0
    for row in range(8):
        heard = batch.accomp[row, :, 32]
        if heard.any():
            visible = int(heard.sum())
            assert S - 4 <= visible <= S + BLOCK and heard[:visible].all()
            reached += visible > S
            assert torch.equal(batch.latents[row], plain.latents[row])  # the target is the clip as stored
    assert reached > 0
