"""The optional ARC stabilisers (ArcConfig flags): generator EMA, finite-difference R1/R2 on the
discriminator, moment matching of the rollout. Each does what its docstring claims, on closed-form cases."""

import torch
from torch import nn

from lmd_studio.training.arc import ema_update, moment_loss, perturbation_penalty, scores_on_rollout


def test_ema_update_moves_a_fraction_towards_the_model():
    torch.manual_seed(0)
    model, ema = nn.Linear(3, 2), nn.Linear(3, 2)
    before = ema.weight.detach().clone()
    ema_update(ema, model, 0.9)
    torch.testing.assert_close(ema.weight, 0.9 * before + 0.1 * model.weight.detach())
    for _ in range(200):
        ema_update(ema, model, 0.9)
    torch.testing.assert_close(ema.weight, model.weight.detach(), rtol=0, atol=1e-6)


class _LinearCritic(nn.Module):
    """A discriminator stand-in whose score is linear in the input: its gradient norm is known exactly."""

    def __init__(self, w: torch.Tensor) -> None:
        super().__init__()
        self.w = w  # [C]

    def forward(self, x_t, t, text, cond, hidden=None, score_from=0):
        return (x_t[:, score_from:] * self.w).sum(-1)  # [B, T - score_from], one score per frame


def test_perturbation_penalty_estimates_the_squared_gradient_norm():
    torch.set_num_threads(1)
    gen = torch.Generator().manual_seed(0)
    w = torch.tensor([0.5, -2.0, 1.0])
    critic = _LinearCritic(w)
    seq, eps = torch.randn(64, 12, 3, generator=gen), torch.randn(64, 12, 3, generator=gen)
    t = torch.rand(64, generator=gen)
    scores = scores_on_rollout(critic, seq, t, eps, None, None, 4)
    pen = perturbation_penalty(critic, seq, t, eps, None, None, 4, None, scores, 0.05, gen)
    assert abs(pen.item() - w.pow(2).sum().item()) < 0.1 * w.pow(2).sum().item()
    assert perturbation_penalty(_LinearCritic(torch.zeros(3)), seq, t, eps, None, None, 4, None,
                                scores * 0, 0.05, gen).item() == 0.0


def test_moment_loss_pushes_a_too_quiet_rollout_towards_the_real_spread():
    gen = torch.Generator().manual_seed(0)
    real = 1.5 * torch.randn(4, 16, 6, generator=gen) + 0.3
    assert moment_loss(real, real).item() < 1e-9
    fake = (0.2 * torch.randn(4, 16, 6, generator=gen)).requires_grad_(True)  # the conditional-mean look
    loss = moment_loss(fake, real)
    loss.backward()
    assert loss.item() > 1.0
    # a gradient step enlarges the fake's spread
    with torch.no_grad():
        stepped = fake - 0.1 * fake.grad
    assert stepped.std().item() > fake.std().item()
