"""The stage objectives on a tiny network: LMDM loss on target frames only with hidden context truly hidden,
and ARC rollouts (gradient through each block's last step only, blocks fed back detached) and scores."""

import torch

from lmd_studio.model.masks import window_mask
from lmd_studio.model.text_encoder import FakeTextEncoder
from lmd_studio.training.arc import DOWNSAMPLE, Discriminator, d_loss, g_loss, rollout, scores_on_rollout
from lmd_studio.training.batches import WindowBatch
from lmd_studio.training.flow import CondDropout, context_dropout, lmdm_flow_loss, lmdm_window_mask
from lmd_studio.training.text_bank import TextBank
from tests.model.lmdm_support import text_for, tiny_dit

NO_DROP = CondDropout(0.0, 1.0, 0.0)


def _setup(pattern="blockcausal"):
    torch.set_num_threads(1)
    dit = tiny_dit(pattern=pattern)
    bank = TextBank.build(["warm piano", "dry drums"], FakeTextEncoder(16, 8), 8)
    cfg = dit.cfg
    gen = torch.Generator().manual_seed(0)
    batch = WindowBatch(torch.randn(2, cfg.window_frames, cfg.latent_channels, generator=gen),
                        torch.rand(2, cfg.window_frames, 15, generator=gen), torch.tensor([0, 1]))
    return dit, bank, batch


def _loss(dit, bank, batch, **kw):
    with torch.no_grad():
        loss, _ = lmdm_flow_loss(dit, batch, bank, NO_DROP, torch.Generator().manual_seed(1), torch.device("cpu"),
                                 **kw)
    return loss.item()


def test_lmdm_loss_sees_visible_context_only():
    for pattern in ("blockcausal", "encdec"):
        dit, bank, batch = _setup(pattern)
        s = dit.cfg.context_frames
        base = _loss(dit, bank, batch, p_full=0.0, p_partial=0.0)
        changed = batch.latents.clone()
        changed[:, :s] += 3.0
        other = WindowBatch(changed, batch.controls, batch.text_ids)
        assert abs(_loss(dit, bank, other, p_full=0.0, p_partial=0.0) - base) > 1e-4  # context matters
        # with the whole context hidden its values cannot matter
        hidden = _loss(dit, bank, batch, p_full=1.0, p_partial=0.0)
        assert abs(_loss(dit, bank, other, p_full=1.0, p_partial=0.0) - hidden) < 1e-6


def test_context_dropout_draws_whole_chunks_oldest_first():
    dit, _, _ = _setup()
    cfg = dit.cfg
    hidden = context_dropout(4000, cfg, 0.2, 0.3, 0.0, torch.Generator().manual_seed(0))
    n = hidden.sum(1)
    assert (n % cfg.block_frames == 0).all()
    assert abs((n == cfg.context_frames).float().mean().item() - 0.2) < 0.03
    partial = (n > 0) & (n < cfg.context_frames)
    assert abs(partial.float().mean().item() - 0.3) < 0.03
    rows = hidden[partial]
    assert torch.equal(rows, torch.arange(cfg.context_frames)[None] < rows.sum(1, keepdim=True))  # oldest first


def test_window_mask_is_the_inference_mask_when_nothing_is_hidden():
    dit, _, _ = _setup()
    cfg = dit.cfg
    mask = lmdm_window_mask(cfg, "blockcausal", torch.zeros(2, cfg.context_frames, dtype=torch.bool))
    expected = window_mask("blockcausal", cfg.context_frames, cfg.block_frames, cfg.window_chunks)
    assert torch.equal(mask[0], expected) and torch.equal(mask[1], expected)


def test_rollout_backpropagates_through_each_blocks_last_step_only():
    dit, _, batch = _setup()
    dit.train()
    cfg = dit.cfg
    s, o = cfg.context_frames, cfg.block_frames
    text = text_for(dit)
    grad_passes = []
    forward = dit.forward

    def spy(*args, **kwargs):
        grad_passes.append(torch.is_grad_enabled())
        return forward(*args, **kwargs)

    dit.forward = spy
    context = batch.latents[:1, :s]
    visible = torch.ones(1, s, dtype=torch.bool)
    fake = rollout(dit, context, visible, None, text, [3, 1, 2], torch.Generator().manual_seed(5))
    assert fake.shape == (1, 3 * o, cfg.latent_channels) and fake.requires_grad
    assert grad_passes == [False, False, True, True, False, True]  # k-1 steps without, the k-th with gradient
    grad_passes.clear()
    same = rollout(dit, context, visible, None, text, [3, 1, 2], torch.Generator().manual_seed(5), grad=False)
    assert not any(grad_passes) and not same.requires_grad
    torch.testing.assert_close(same, fake.detach())


def test_blocks_are_fed_back_detached():
    """Block 2's gradient equals that of generating it alone after a constant block 1: nothing flows back."""
    dit, _, batch = _setup()
    dit.train()
    s, o, c = dit.cfg.context_frames, dit.cfg.block_frames, dit.cfg.latent_channels
    text = text_for(dit)
    params = [p for p in dit.parameters() if p.requires_grad]
    context, visible = batch.latents[:1, :s], torch.ones(1, s, dtype=torch.bool)
    fake = rollout(dit, context, visible, None, text, [1, 1], torch.Generator().manual_seed(5))
    full = torch.autograd.grad(fake[:, o:].sum(), params, retain_graph=True, allow_unused=True)
    gen = torch.Generator().manual_seed(5)
    torch.randn(1, o, c, generator=gen)  # the noise block 1 drew
    later = torch.cat([context, fake[:, :o].detach()], dim=1)[:, -s:]
    alone = rollout(dit, later, visible, None, text, [1], gen)
    torch.testing.assert_close(alone, fake[:, o:])
    single = torch.autograd.grad(alone.sum(), params, allow_unused=True)
    for a, b in zip(full, single):
        assert (a is None) == (b is None)
        if a is not None:
            torch.testing.assert_close(a, b)


def test_discriminator_scores_rollout_frames_at_a_quarter_rate():
    base = tiny_dit(pattern="bidirectional", routing=False, context_frames=8, block_frames=4)
    disc = Discriminator(base, 0.75, 16, 1)
    assert disc.trunk_layers == 2 or disc.trunk_layers == round(0.75 * base.cfg.n_layers)
    seq = torch.randn(2, 8 + 2 * 4, base.cfg.latent_channels)
    t = torch.full((2,), 0.5)
    scores = scores_on_rollout(disc, seq, t, torch.randn_like(seq), text_for(base, cfg_rows=True), None, 8)
    assert scores.shape == (2, 8 // DOWNSAMPLE)
    real, fake = torch.tensor([2.0, 2.0]), torch.tensor([-2.0, -2.0])
    loss_d, m = d_loss(real, fake, torch.tensor([-1.0, -1.0]), 1.0)
    assert loss_d.item() < 0.5 and m["d_margin"] == 4.0  # D that separates real from fake has a low loss
    assert g_loss(real, fake).item() > 3.0  # ... and the generator a high one
