import numpy as np
import pytest

from lmd_studio.dsp.crossfade import apply_fades, crossfade_concat, tile_loop
from lmd_studio.dsp.metrics import lsd_db, mel_l1, mrstft, seam_ratio
from lmd_studio.dsp.resample import StreamingResampler, normalise_level, resample, rms_db

SR = 44100


def _signal(seconds=2.0, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(int(SR * seconds)) / SR
    return 0.3 * np.sin(2 * np.pi * 330 * t) + 0.05 * rng.standard_normal(t.size)


def test_distances_are_zero_for_identical_and_grow_with_damage():
    x = _signal()
    assert lsd_db(x, x) == pytest.approx(0.0, abs=1e-9)
    assert mrstft(x, x) == pytest.approx(0.0, abs=1e-9)
    assert mel_l1(x, x) == pytest.approx(0.0, abs=1e-9)
    rng = np.random.default_rng(3)
    small = x + 0.01 * rng.standard_normal(x.size)
    big = x + 0.2 * rng.standard_normal(x.size)
    for metric in (lsd_db, mrstft, mel_l1):
        assert 0 < metric(x, small) < metric(x, big)


def test_seam_ratio_is_one_for_continuous_audio_and_high_for_clicks():
    x = _signal(6.0)
    block = 16 * 2048
    assert seam_ratio(x, block) == pytest.approx(1.0, abs=0.25)
    clicked = x.copy()
    clicked[block::block] += 5.0  # a pop at every boundary
    assert seam_ratio(clicked, block) > 2.0
    stepped = x.copy()
    for start in range(block, x.size, 2 * block):  # level drops by 6 dB every other block
        stepped[start:start + block] *= 0.5
    assert seam_ratio(stepped, block) > 1.4  # spread over the 4 frames that see the step
    with pytest.raises(ValueError):
        seam_ratio(x[:block // 2], block)


def test_resample_and_streaming_agree():
    x = _signal(1.0).astype(np.float32)
    y = resample(x, SR, 48000)
    assert abs(y.size - 48000) <= 1
    r = StreamingResampler(SR, 48000)
    parts = [r.process(x[i:i + 1000]) for i in range(0, x.size, 1000)] + [r.process(np.zeros(0, np.float32), last=True)]
    z = np.concatenate(parts)
    n = min(z.size, y.size)
    assert np.max(np.abs(z[:n] - y[:n])) < 1e-3


def test_levels_and_fades():
    x = _signal(1.0).astype(np.float32)
    y = normalise_level(x, -20.0)
    assert rms_db(y) == pytest.approx(-20.0, abs=0.1)
    loud = normalise_level(x, 0.0, peak_ceiling=0.5)
    assert np.max(np.abs(loud)) == pytest.approx(0.5, rel=1e-4)
    faded = apply_fades(np.ones(1000), 100, 100)
    assert faded[0] < 0.01 and faded[-1] < 0.01 and faded[500] == 1.0
    joined = crossfade_concat(np.ones(1000), np.ones(1000), 200, shape="linear")
    assert joined.size == 1800 and np.allclose(joined, 1.0, atol=1e-6)
    assert tile_loop(np.ones(500), 2000, 50).size >= 2000
