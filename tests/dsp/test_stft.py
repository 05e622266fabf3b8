import numpy as np
import pytest
import torch

from lmd_studio.dsp.mel import mel_filterbank
from lmd_studio.dsp.stft import (
    StftConfig,
    istft,
    ola_gain,
    pad_for_latents,
    pad_for_latents_torch,
    stft,
    stft_torch,
)


def test_config_rejects_bad_values():
    with pytest.raises(ValueError, match="divide"):
        StftConfig(n_fft=2048, hop_frames=500)
    with pytest.raises(ValueError, match="even"):
        StftConfig(n_fft=2047, hop_frames=1)


def test_round_trip_is_exact_away_from_edges():
    cfg = StftConfig()
    x = np.random.default_rng(0).standard_normal(44100)
    y = istft(stft(x, cfg), cfg)
    n = cfg.num_frames(x.size)
    span = slice(cfg.n_fft, (n - 1) * cfg.hop_frames)
    np.testing.assert_allclose(y[span], x[span], atol=1e-12)
    assert ola_gain(cfg) == pytest.approx(1.5)


def test_latent_padding_gives_whole_frames_per_latent():
    cfg = StftConfig()
    x = np.zeros(2048 * 5 + 100)
    frames = stft(pad_for_latents(x, 2048, cfg), cfg)
    assert frames.shape == (5 * 4, cfg.n_bins)


def test_torch_matches_numpy():
    cfg = StftConfig()
    x = np.random.default_rng(1).standard_normal(2048 * 3)
    a = stft(pad_for_latents(x, 2048, cfg), cfg)
    b = stft_torch(pad_for_latents_torch(torch.from_numpy(x)[None], 2048, cfg), cfg)[0].numpy()
    np.testing.assert_allclose(b, a, atol=1e-9)


def test_mel_filterbank_is_flat_for_flat_spectrum():
    fb = mel_filterbank(44100, 2048, 80)
    response = fb @ np.ones(fb.shape[1])
    assert fb.shape == (80, 1025)
    assert response.min() > 0
    # equal-area triangles: a flat spectrum stays flat within a few percent (edges aside)
    assert np.std(response[5:-5]) / np.mean(response[5:-5]) < 0.05
