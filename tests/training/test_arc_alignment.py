"""ARC-Forcing on a tiny network: the discriminator sees exactly the context the generator saw, so context
dropout keeps real and fake aligned (METHOD.md §3, stage 2, step 1)."""

import torch

from lmd_studio.training.arc import DOWNSAMPLE, Discriminator, scores_on_rollout
from tests.model.lmdm_support import text_for, tiny_dit

S, BLK, BLOCKS = 8, 4, 2


def _disc_setup():
    torch.set_num_threads(1)
    base = tiny_dit(pattern="bidirectional", routing=False, context_frames=S, block_frames=BLK)
    torch.manual_seed(0)
    disc = Discriminator(base, 1.0, 16, 1)
    gen = torch.Generator().manual_seed(3)
    c = base.cfg.latent_channels
    seq = torch.randn(2, S + BLOCKS * BLK, c, generator=gen)
    t = torch.tensor([0.3, 0.6])
    eps = torch.randn(seq.shape, generator=gen)
    return disc, seq, t, eps, text_for(base, cfg_rows=True)  # two text rows for a batch of two


def test_discriminator_ignores_hidden_context_frames():
    """Row 0 hides its whole context, row 1 its oldest chunk. Whatever those frames hold, the rollout scores
    stay the same: D cannot tell real from fake by a context the generator never saw. (Before the fix D read
    the full real context for both, so the real continuation matched it and the fake could not.)"""
    disc, seq, t, eps, text = _disc_setup()
    hidden = torch.zeros(2, S, dtype=torch.bool)
    hidden[0] = True
    hidden[1, :BLK] = True
    with torch.no_grad():
        scores = scores_on_rollout(disc, seq, t, eps, text, None, S, hidden)
        assert scores.shape == (2, BLOCKS * BLK // DOWNSAMPLE)
        changed = seq.clone()
        changed[0, :S] += 3.0
        changed[1, :BLK] -= 3.0
        torch.testing.assert_close(scores_on_rollout(disc, changed, t, eps, text, None, S, hidden), scores,
                                   rtol=0, atol=1e-5)
        # the visible part of the context still matters (D judges the continuation of what G saw)
        visible_changed = seq.clone()
        visible_changed[1, BLK:S] += 3.0
        moved = scores_on_rollout(disc, visible_changed, t, eps, text, None, S, hidden)
        assert (moved[1] - scores[1]).abs().max() > 1e-3
        # and without dropout every context frame counts
        free = scores_on_rollout(disc, seq, t, eps, text, None, S)
        assert (scores_on_rollout(disc, changed, t, eps, text, None, S) - free).abs().max() > 1e-3


def test_head_reads_rollout_frames_only():
    """Scores equal the head applied to the rollout frames' trunk features alone (no conv tap into context
    features): the head is what would carry hidden-frame features into a score next to the boundary."""
    disc, seq, t, eps, text = _disc_setup()
    with torch.no_grad():
        scores = scores_on_rollout(disc, seq, t, eps, text, None, S)
        x_t = (1 - t[:, None, None]) * seq + t[:, None, None] * eps
        h = disc.backbone(x_t, t, text, n_layers=disc.trunk_layers, return_hidden=True)[:, S:]
        expected = disc.out(disc.head(disc.down(h.float().transpose(1, 2))).transpose(1, 2)).squeeze(-1)
    torch.testing.assert_close(scores, expected)
