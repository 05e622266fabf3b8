"""The rhythm meters on signals whose tempo and grid we built ourselves."""

from __future__ import annotations

import numpy as np
import pytest

from lmd_studio.dsp.rhythm import (
    best_grid_phase_s,
    estimate_tempo_bpm,
    grid_offsets_ms,
    onset_envelope,
    onset_times_s,
    tempo_after_change_s,
    tempo_error_ratio,
)

SR = 44100


def groove(bpm: float, seconds: float = 20.0, shift_s: float = 0.0, seed: int = 0) -> np.ndarray:
    """Kick on every beat (accent on beats 1 and 3), a high-passed hi-hat on every 8th note."""
    rng = np.random.default_rng(seed)
    n = int(seconds * SR)
    x = np.zeros(n)
    t = np.arange(int(0.08 * SR)) / SR
    taper = np.minimum(1.0, (t[-1] - t) / 0.02)  # no click where the sound is cut
    kick = np.sin(2 * np.pi * 60 * t) * np.exp(-t * 30) * taper
    hat = np.diff(np.diff(rng.standard_normal(t.size + 2))) * np.exp(-t * 200) * 0.1
    for k in range(10_000):
        i = int((shift_s + k * 30.0 / bpm) * SR)
        if i + t.size > n:
            break
        if k % 2 == 0:
            x[i:i + t.size] += kick * (1.0 if k % 4 == 0 else 0.7)
        x[i:i + t.size] += hat
    return x


@pytest.mark.parametrize("bpm", [70.0, 84.0, 97.0, 112.0, 124.0, 138.0, 151.0, 160.0])
def test_tempo_of_a_groove_is_found_within_half_a_percent_without_octave_errors(bpm: float) -> None:
    detected, confidence = estimate_tempo_bpm(onset_envelope(groove(bpm), SR))
    assert tempo_error_ratio(detected, bpm) < 0.005, f"{bpm} bpm detected as {detected}"
    assert confidence > 0.3


def test_noise_and_silence_have_no_confident_tempo() -> None:
    bpm, conf = estimate_tempo_bpm(onset_envelope(np.zeros(SR * 10), SR))
    assert np.isnan(bpm) and conf == 0.0
    noise = np.random.default_rng(1).standard_normal(SR * 10) * 0.1
    _, conf_noise = estimate_tempo_bpm(onset_envelope(noise, SR))
    _, conf_groove = estimate_tempo_bpm(onset_envelope(groove(120.0, 10.0), SR))
    assert conf_noise < 0.5 * conf_groove


def test_onsets_on_the_grid_sit_within_a_few_ms_and_a_shift_is_measured() -> None:
    on_grid = onset_times_s(onset_envelope(groove(120.0), SR))
    assert 70 <= on_grid.size <= 82  # 8th notes for 20 s at 120 bpm = 80
    assert np.median(grid_offsets_ms(on_grid, 120.0)) < 6.0
    # 40 ms late against a 125-ms 16th grid: the offsets say 40 ms, and the best phase finds the shift
    late = onset_times_s(onset_envelope(groove(120.0, shift_s=0.040), SR))
    assert 34.0 < np.median(grid_offsets_ms(late, 120.0)) < 46.0
    phase = best_grid_phase_s(late, 120.0)
    assert np.median(grid_offsets_ms(late, 120.0, phase)) < 6.0


def test_grid_offsets_by_hand() -> None:
    # 120 bpm, 16ths every 125 ms, phase 10 ms: onsets 10, 135, 300, 1010 ms → 0, 0, 40, 0 ms off
    off = grid_offsets_ms(np.array([0.010, 0.135, 0.300, 1.010]), 120.0, phase_s=0.010)
    np.testing.assert_allclose(off, [0.0, 0.0, 40.0, 0.0], atol=1e-9)
    assert tempo_error_ratio(60.0, 120.0) == pytest.approx(0.5)  # half tempo is an error
    assert tempo_error_ratio(float("nan"), 120.0) == float("inf")
    with pytest.raises(ValueError):
        grid_offsets_ms(np.zeros(1), 0.0)


def test_time_to_lock_after_a_tempo_change() -> None:
    """A groove that changes from 120 to 96 bpm exactly at 8 s locks at once (0 s after the change); one
    that only changes at 12 s is measured as locking ≈ 4 s late; one that never changes never locks."""
    a = groove(120.0, seconds=8.0)
    b = groove(96.0, seconds=12.0)
    late = np.concatenate([a, groove(120.0, seconds=4.0), groove(96.0, seconds=8.0)])
    assert tempo_after_change_s(np.concatenate([a, b]), SR, 8.0, 96.0, hop_s=0.5) == pytest.approx(0.0, abs=0.5)
    assert tempo_after_change_s(late, SR, 8.0, 96.0, hop_s=0.5) == pytest.approx(4.0, abs=0.6)
    assert tempo_after_change_s(groove(120.0, seconds=20.0), SR, 8.0, 96.0, hop_s=0.5) == float("inf")
