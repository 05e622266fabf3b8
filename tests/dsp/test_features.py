import numpy as np
import pytest

from lmd_studio.dsp.features import ControlFeatures, FeatureConfig, compute_control_features, notes_to_chroma

SR = 44100


def test_sine_features():
    t = np.arange(SR * 2) / SR
    x = 0.5 * np.sin(2 * np.pi * 440.0 * t)
    f = compute_control_features(x)
    assert f.num_frames == x.size // 2048
    assert f.frame_rate_hz == pytest.approx(SR / 2048)
    mid = slice(2, -2)
    # 0.5-amplitude sine: mean square 0.125 → -9.0 dB, plus ~+0.4 dB K-weighting shelf at 440 Hz, -0.691
    assert np.all(np.abs(f.loudness_db[mid] - (-9.03 - 0.691)) < 1.0)
    assert np.all(np.abs(f.centroid_hz[mid] - 440.0) < 30.0)
    assert np.argmax(f.chroma_audio[mid].mean(axis=0)) == 9  # A
    assert f.onset_density_hz[mid].max() <= 1.0
    assert f.pitch_source == "audio"


def test_louder_and_brighter_are_ordered():
    rng = np.random.default_rng(0)
    noise = rng.standard_normal(SR)
    low = np.convolve(noise, np.ones(32) / 32, mode="same")
    quiet = compute_control_features(0.01 * noise)
    loud = compute_control_features(0.1 * noise)
    dark = compute_control_features(0.1 * low)
    assert loud.loudness_db.mean() == pytest.approx(quiet.loudness_db.mean() + 20.0, abs=0.5)
    assert dark.centroid_hz.mean() < 0.5 * loud.centroid_hz.mean()


def test_onset_density_counts_clicks():
    rng = np.random.default_rng(1)
    x = np.zeros(SR * 4)
    for start in range(SR // 8, x.size - 2000, SR // 4):  # 4 hits per second
        x[start:start + 1500] += rng.standard_normal(1500) * np.exp(-np.arange(1500) / 200)
    f = compute_control_features(x)
    assert np.median(f.onset_density_hz[10:-10]) == pytest.approx(4.0, abs=1.0)
    silent = compute_control_features(np.zeros(SR))
    assert silent.onset_density_hz.max() == 0 and silent.centroid_hz.max() == 0


def test_notes_drive_pitch_salience():
    notes = np.array([[0.0, 1.0, 60, 100], [0.5, 1.0, 64, 100]], dtype=np.float32)
    chroma = notes_to_chroma(notes, 25, SR / 2048)  # 1.0 s ends inside frame 21
    assert chroma[2, 0] == pytest.approx(1.0) and chroma[2, 4] == 0.0
    assert chroma[15, 4] == pytest.approx(1.0)
    assert chroma[21].sum() > 0 and chroma[22].sum() == 0.0
    f = compute_control_features(np.zeros(SR), notes=notes)
    assert f.pitch_source == "midi" and f.pitch_salience[2, 0] == pytest.approx(1.0)


def test_round_trip_arrays_and_validation():
    f = compute_control_features(np.random.default_rng(2).standard_normal(SR) * 0.1)
    g = ControlFeatures.from_arrays(f.to_arrays())
    np.testing.assert_allclose(g.loudness_db, f.loudness_db, rtol=1e-6)
    assert g.pitch_source == f.pitch_source
    with pytest.raises(ValueError, match="centroid_hz"):
        ControlFeatures(np.zeros(3), np.zeros(2), np.zeros(3), np.zeros((3, 12)), np.zeros((3, 12)), "audio", 21.5)
    with pytest.raises(ValueError):
        FeatureConfig(latent_hop_frames=1000)
