"""Codec v2 loss terms on a tiny batch: finite, ~0 for a perfect reconstruction, smaller when closer, gradients
flow; the waveform terms equal the evaluation metrics (dsp/metrics.py) they stand for."""

import math

import numpy as np
import pytest
import torch

from lmd_studio.dsp import metrics
from lmd_studio.dsp.stft import StftConfig, stft_torch
from lmd_studio.training.codec2_disc import (
    MultiResolutionDiscriminator,
    feature_matching,
    hinge_d_loss,
    hinge_g_loss,
)
from lmd_studio.training.codec2_losses import WaveformLosses, head_log_l1, head_lsd_db, waveform_l1

SR = 44100


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)


def _audio(batch=2, n=4 * 2048, seed=0):
    g = torch.Generator().manual_seed(seed)
    t = torch.arange(n) / SR
    tone = 0.3 * torch.sin(2 * math.pi * 440 * t)
    return tone + 0.05 * torch.randn(batch, n, generator=g)


def _wave_terms(losses, pred, target):
    spectra = losses.spectra(pred, target)
    sc, log_l1 = losses.mrstft(spectra)
    return {"sc": sc, "stft_log_l1": log_l1, "mel_l1": losses.mel_l1(spectra), "lsd_db": losses.lsd_db(spectra),
            "wave_l1": waveform_l1(pred, target)}


def test_waveform_terms_perfect_closer_and_gradient():
    losses = WaveformLosses(SR)
    target = _audio()
    perfect = _wave_terms(losses, target.clone(), target)
    assert all(abs(v.item()) < 2e-3 for v in perfect.values()), perfect  # LSD: sqrt(eps) = 1e-3
    g = torch.Generator().manual_seed(1)
    noise = torch.randn(target.shape, generator=g)
    near = _wave_terms(losses, target + 0.01 * noise, target)
    far = _wave_terms(losses, target + 0.1 * noise, target)
    for k in near:
        assert math.isfinite(near[k].item()) and 0 < near[k].item() < far[k].item(), k
    pred = (target + 0.05 * noise).requires_grad_()
    for k, v in _wave_terms(losses, pred, target).items():
        (grad,) = torch.autograd.grad(v, pred, retain_graph=True)
        assert torch.isfinite(grad).all() and grad.abs().sum() > 0, k


def test_waveform_terms_equal_the_evaluation_metrics():
    losses = WaveformLosses(SR)
    target = _audio(batch=1)
    pred = target + 0.05 * torch.randn(target.shape, generator=torch.Generator().manual_seed(2))
    t = _wave_terms(losses, pred, target)
    ref, est = target[0].double().numpy(), pred[0].double().numpy()
    assert t["lsd_db"].item() == pytest.approx(metrics.lsd_db(ref, est), rel=1e-3)
    assert t["mel_l1"].item() == pytest.approx(metrics.mel_l1(ref, est), rel=1e-3)
    assert (t["sc"] + t["stft_log_l1"]).item() == pytest.approx(metrics.mrstft(ref, est), rel=1e-3)


def test_head_terms_perfect_closer_gradient_and_metric():
    spec = stft_torch(_audio(), StftConfig())  # [B, T, K] complex
    true_log = torch.log(spec.abs() + 1e-12)
    assert head_lsd_db(true_log, spec).item() < 0.05 and head_log_l1(true_log, spec).item() < 1e-3
    g = torch.Generator().manual_seed(3)
    noise = torch.randn(true_log.shape, generator=g)
    for term in (head_lsd_db, head_log_l1):
        near, far = term(true_log + 0.05 * noise, spec), term(true_log + 0.5 * noise, spec)
        assert 0 < near.item() < far.item()
        pred = (true_log + 0.2 * noise).requires_grad_()
        (grad,) = torch.autograd.grad(term(pred, spec), pred)
        assert torch.isfinite(grad).all() and grad.abs().sum() > 0
    est = torch.exp(true_log + 0.2 * noise)[0].numpy()
    assert head_lsd_db((true_log + 0.2 * noise)[:1], spec[:1]).item() == pytest.approx(
        metrics.lsd_from_magnitudes_db(spec[0].abs().numpy(), est), rel=1e-3)
    silent = torch.zeros_like(spec)  # silent bins: finite values and gradients
    pred = torch.full(true_log.shape, -20.0, requires_grad=True)
    (grad,) = torch.autograd.grad(head_lsd_db(pred, silent), pred)
    assert torch.isfinite(grad).all()


def test_adversarial_terms():
    torch.manual_seed(0)
    disc = MultiResolutionDiscriminator(SR, channels=4, layers=2)
    real = _audio()
    fake = (real + 0.1 * torch.randn(real.shape)).requires_grad_()
    out_real, out_fake = disc(real), disc(fake)
    assert len(out_real) == 3 and all(s.ndim == 4 for s, _ in out_real)
    d = hinge_d_loss(out_real, [(s.detach(), f) for s, f in out_fake])
    g, fm = hinge_g_loss(out_fake), feature_matching(out_real, out_fake)
    assert all(math.isfinite(v.item()) for v in (d, g, fm)) and fm.item() > 0
    assert feature_matching(out_real, disc(real.clone())).item() < 1e-6  # perfect reconstruction: 0
    d.backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in disc.parameters())
    (grad,) = torch.autograd.grad(g + fm, fake)
    assert torch.isfinite(grad).all() and grad.abs().sum() > 0
    # the hinge: a D that scores real > 1 and fake < -1 has zero loss
    high = [(torch.full((1, 1, 2, 2), 2.0), [])]
    low = [(torch.full((1, 1, 2, 2), -2.0), [])]
    assert hinge_d_loss(high, low).item() == 0.0 and hinge_g_loss(high).item() == 0.0
    np.testing.assert_allclose(hinge_g_loss(low).item(), 3.0)
