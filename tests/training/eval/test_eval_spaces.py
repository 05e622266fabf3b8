"""The two evaluation embedding spaces and the Fréchet distance."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lmd_studio.model.checkpoint import CheckpointError
from lmd_studio.training.audio_text import AudioTextConfig, AudioTextEncoder, load_audio_text, save_audio_text
from lmd_studio.training.eval.dsp import DIM, FEATURE_NAMES, dsp_features
from lmd_studio.training.frechet import frechet_distance

SR = 44100


def click_track(bpm: float, seconds: float = 6.0) -> np.ndarray:
    x = np.zeros(int(seconds * SR), np.float32)
    period = int(SR * 60 / bpm)
    rng = np.random.default_rng(0)
    for start in range(0, x.size - 400, period):
        x[start:start + 400] += rng.standard_normal(400).astype(np.float32) * np.exp(-np.arange(400) / 60)
    return x


def test_frechet_distance_properties() -> None:
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((400, 6)), rng.standard_normal((400, 6))
    near = frechet_distance(a, b)
    shifted = frechet_distance(a, b + 2.0)
    assert near < 0.2
    assert shifted == pytest.approx(near + 6 * 4.0, rel=0.1)  # ||Δμ||² = 6·2²
    assert frechet_distance(a, b) == pytest.approx(frechet_distance(b, a), rel=1e-6)
    wide = frechet_distance(a, 3 * b)
    assert wide > 5 * near
    with pytest.raises(ValueError, match="at least 2"):
        frechet_distance(a[:1], b)


def test_dsp_features_see_timbre_harmony_and_tempo() -> None:
    assert len(FEATURE_NAMES) == DIM
    t = np.arange(4 * SR) / SR
    sine_a = dsp_features(0.3 * np.sin(2 * np.pi * 440 * t), SR)
    sine_c = dsp_features(0.3 * np.sin(2 * np.pi * 261.63 * t), SR)
    noise = dsp_features(np.random.default_rng(1).standard_normal(4 * SR) * 0.1, SR)
    chroma = slice(FEATURE_NAMES.index("chroma0_mean"), FEATURE_NAMES.index("chroma0_mean") + 12)
    assert np.argmax(sine_a[chroma]) == 9 and np.argmax(sine_c[chroma]) == 0  # A and C
    flat = FEATURE_NAMES.index("flatness_mean")
    assert noise[flat] > 10 * sine_a[flat]
    feats = dsp_features(click_track(120.0), SR)
    bpm = feats[FEATURE_NAMES.index("tempo_bpm")] * 100
    assert abs(bpm - 120.0) < 4 or abs(bpm - 60.0) < 2
    assert feats[FEATURE_NAMES.index("tempo_strength")] > 0.3
    stereo = dsp_features(np.stack([0.3 * np.sin(2 * np.pi * 440 * t)] * 2), SR)
    np.testing.assert_allclose(stereo, sine_a, rtol=1e-5, atol=1e-6)
    resampled = dsp_features(0.3 * np.sin(2 * np.pi * 440 * np.arange(4 * 22050) / 22050), 22050)
    assert np.argmax(resampled[chroma]) == 9


def test_audio_text_encoder_learns_a_toy_pairing_and_round_trips(tmp_path) -> None:
    torch.manual_seed(0)
    torch.set_num_threads(1)
    cfg = AudioTextConfig(clip_s=0.5, width=32, embed_dim=16, n_mels=32)
    model = AudioTextEncoder(cfg)
    t = torch.arange(cfg.clip_frames) / SR
    texts = torch.randn(2, 384)  # two "descriptions"
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)

    def batch():
        labels = torch.randint(0, 2, (16,))
        tone = 0.3 * torch.sin(2 * np.pi * 440 * t)[None].repeat(16, 1)
        noise = 0.1 * torch.randn(16, cfg.clip_frames)
        audio = torch.where(labels[:, None] == 0, tone + 0.01 * noise, noise)
        return audio, labels

    first = None
    for _ in range(40):
        audio, labels = batch()
        loss = model.contrastive_loss(model.embed_audio(audio), model.embed_text(texts[labels]),
                                      labels[:, None] == labels[None, :])
        first = first if first is not None else float(loss.detach())
        opt.zero_grad()
        loss.backward()
        opt.step()
    audio, labels = batch()
    model.eval()  # no masks or dropout when embedding
    with torch.no_grad():
        sims = model.embed_audio(audio) @ model.embed_text(texts).T  # [16, 2]
    assert (sims.argmax(1) == labels).float().mean() > 0.9
    assert float(loss.detach()) < first
    path = save_audio_text(model, tmp_path / "at.safetensors")
    again = load_audio_text(path)
    with torch.no_grad():
        torch.testing.assert_close(again.embed_audio(audio), model.embed_audio(audio))
    (tmp_path / "bad.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{}")
    with pytest.raises(CheckpointError, match="bad.safetensors"):
        load_audio_text(tmp_path / "bad.safetensors")
