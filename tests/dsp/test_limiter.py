"""The output limiter: nothing leaves above the ceiling, it scales rather than clips, it counts what it
caught, streaming equals whole-signal processing, and below the ceiling it is a pure delay, bit for bit."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from lmd_studio.dsp.limiter import LimiterConfig, PeakLimiter

RATE = 48000


def sine(amplitude: float, seconds: float = 0.5, hz: float = 997.0, channels: int = 2) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    x = amplitude * np.sin(2 * np.pi * hz * t)
    return np.repeat(x[:, None], channels, axis=1).astype(np.float32)


def run_blocks(limiter: PeakLimiter, x: np.ndarray, sizes: list[int]) -> np.ndarray:
    y = x.copy()
    start, k = 0, 0
    while start < len(y):
        n = sizes[k % len(sizes)]
        limiter.process(y[start:start + n])
        start += n
        k += 1
    return y


def test_plus_6_dbfs_comes_out_under_the_ceiling_scaled_not_clipped() -> None:
    cfg = LimiterConfig(ceiling_db=-1.0)
    lim = PeakLimiter(cfg, RATE, 2, max_frames=512)
    x = sine(2.0)  # +6 dBFS
    y = run_blocks(lim, x, [256])
    assert np.abs(y).max() <= cfg.ceiling + 1e-7
    assert lim.over_full_scale_samples == 0 and not (np.abs(y) >= 1.0).any()
    # a limiter scales the waveform: in the steady part y is x (delayed) times one gain, ≈ ceiling / 2;
    # a hard clip would flatten the tops instead (y / x falling towards the peaks)
    d = lim.latency_frames
    steady = slice(RATE // 10, len(x) - d)
    xs, ys = x[steady], y[steady.start + d:steady.stop + d]
    loud = np.abs(xs) > 0.2
    ratio = ys[loud] / xs[loud]
    assert ratio.max() / ratio.min() < 1.002  # within 0.02 dB (sampled crests differ slightly)
    assert ratio.mean() == pytest.approx(cfg.ceiling / 2.0, rel=2e-3)
    flat_tops = np.abs(ys) >= cfg.ceiling * (1 - 1e-6)
    assert flat_tops.sum() < 0.01 * flat_tops.size  # only the sample nearest each crest touches it


def test_it_counts_the_samples_that_would_have_clipped() -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(0.0, 0.6, (20000, 2)).astype(np.float32)
    x[1234, 0] = 1.0  # exactly full scale: not a clip
    x[5000, 1] = -1.5
    lim = PeakLimiter(LimiterConfig(), RATE, 2, max_frames=1024)
    y = run_blocks(lim, x, [300, 17, 1024])
    assert lim.clipped_samples_pre_limiter == int((np.abs(x) > 1.0).sum()) > 0
    assert lim.over_full_scale_samples == 0
    assert lim.input_peak == pytest.approx(float(np.abs(x).max()))
    assert np.abs(y).max() <= LimiterConfig().ceiling + 1e-7


@pytest.mark.parametrize("sizes", [[1], [7, 64, 300], [4096]])
def test_block_by_block_equals_whole_signal(sizes: list[int]) -> None:
    rng = np.random.default_rng(1)
    x = (sine(1.4, 0.3) + rng.normal(0, 0.3, (int(0.3 * RATE), 2))).astype(np.float32)
    x[3000:3100] *= 4.0  # a burst far over the ceiling: attack, hold and release all happen
    whole = x.copy()
    PeakLimiter(LimiterConfig(), RATE, 2, max_frames=len(x)).process(whole)
    # max_frames smaller than some blocks: the limiter splits them itself
    streamed = run_blocks(PeakLimiter(LimiterConfig(), RATE, 2, max_frames=1024), x, sizes)
    np.testing.assert_allclose(streamed, whole, rtol=0, atol=1e-6)


@pytest.mark.parametrize("lookahead_ms", [0.0, 2.0, 5.0])
def test_below_the_ceiling_it_is_a_pure_delay(lookahead_ms: float) -> None:
    cfg = LimiterConfig(ceiling_db=-1.0, lookahead_ms=lookahead_ms)
    rng = np.random.default_rng(2)
    x = np.clip(rng.normal(0, 0.3, (10000, 2)), -0.89, 0.89).astype(np.float32)  # ceiling is 0.8913
    lim = PeakLimiter(cfg, RATE, 2, max_frames=512)
    y = run_blocks(lim, x, [256, 33])
    d = lim.latency_frames
    assert d == round(lookahead_ms * RATE / 1000)
    assert np.array_equal(y[d:], x[:len(x) - d]) and not y[:d].any()
    assert lim.clipped_samples_pre_limiter == 0 and lim.gain_reduction_db == 0.0


def test_after_the_release_it_is_transparent_again() -> None:
    cfg = LimiterConfig(release_db_per_s=40.0)
    lim = PeakLimiter(cfg, RATE, 1, max_frames=1024)
    burst = sine(4.0, 0.05, channels=1)  # +12 dB: ≈ 13 dB of reduction, released in ≈ 0.33 s
    quiet = sine(0.5, 1.0, channels=1)
    x = np.concatenate([burst, quiet])
    y = run_blocks(lim, x, [512])
    d = lim.latency_frames
    assert np.abs(y).max() <= cfg.ceiling + 1e-7
    tail = slice(len(burst) + int(0.5 * RATE), len(x))
    assert np.array_equal(y[tail], x[tail.start - d:tail.stop - d])
    # and the release is gradual: no step in the gain right after the burst
    gain = np.abs(y[len(burst) + d + 100:len(burst) + int(0.3 * RATE)]) / np.maximum(
        np.abs(x[len(burst) + 100:len(burst) + int(0.3 * RATE) - d]), 1e-9)
    crest = np.abs(x[len(burst) + 100:len(burst) + int(0.3 * RATE) - d]) > 0.45
    assert np.all(np.diff(gain[crest]) >= -1e-4)  # only rises while releasing


def test_process_allocates_nothing_per_call() -> None:
    lim = PeakLimiter(LimiterConfig(), RATE, 2, max_frames=1024)
    buf = np.random.default_rng(0).normal(0, 1.0, (256, 2)).astype(np.float32)
    for _ in range(3):
        lim.process(buf)
    tracemalloc.start()
    try:
        base, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        for _ in range(200):
            lim.process(buf)
        current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert current - base <= 512
    assert peak - base < buf.nbytes, f"the limiter allocated {peak - base} bytes at once"


@pytest.mark.parametrize("kwargs", [{"ceiling_db": 0.5}, {"ceiling_db": float("nan")}, {"lookahead_ms": -1.0},
                                    {"release_db_per_s": 0.0}])
def test_config_is_validated(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        LimiterConfig(**kwargs)
