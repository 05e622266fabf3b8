"""MonitorMix: the input added into the device's output buffer — routing, fades, and no clipping."""

from __future__ import annotations

import numpy as np
import pytest

from lmd_studio.audio.monitor import MonitorMix, routing

CEILING = 10 ** (-1 / 20)


def test_routing_mono_to_all_stereo_to_left_right() -> None:
    assert routing((0,), 2) == ((0, 0, 1.0), (0, 1, 1.0))
    assert routing((2, 3), 2) == ((2, 0, 1.0), (3, 1, 1.0))
    assert routing((0, 1), 1) == ((0, 0, 0.5), (1, 0, 0.5))


def test_off_leaves_the_output_untouched() -> None:
    mix = MonitorMix((0,), 2, 48000)
    out = np.full((256, 2), 0.3, np.float32)
    mix.process(out, np.ones((256, 1), np.float32), on=False)
    assert np.all(out == np.float32(0.3))


def test_on_fades_in_over_ten_ms_rounded_up_to_whole_buffers_then_adds_the_chosen_channel_to_both_outputs() -> None:
    mix = MonitorMix((1,), 2, 48000, fade_s=0.01)  # device channel 2 (column 1)
    indata = np.zeros((256, 2), np.float32)
    indata[:, 1] = 0.25
    gains = []
    for _ in range(3):  # 768 frames > 480 of fade
        out = np.zeros((256, 2), np.float32)
        mix.process(out, indata, on=True)
        np.testing.assert_array_equal(out[:, 0], out[:, 1])
        gains.append(out[:, 0] / 0.25)
    ramp = np.concatenate(gains)
    assert np.all(np.diff(ramp) >= -1e-6) and ramp[0] < 0.01
    assert ramp[255] == pytest.approx(256 / 480, abs=1e-4)  # one fade step per frame in the first buffer
    assert np.all(ramp[511:] == 1.0)  # the second buffer completes it
    assert mix.gain == 1.0


def test_a_full_scale_input_on_a_loud_output_never_clips() -> None:
    mix = MonitorMix((0, 1), 2, 48000)
    rng = np.random.default_rng(1)
    for _ in range(100):
        out = rng.uniform(-CEILING, CEILING, (256, 2)).astype(np.float32)  # what the limiter lets through
        indata = rng.choice([-1.0, 1.0], (256, 2)).astype(np.float32)
        mix.process(out, indata, on=True)
        assert np.abs(out).max() <= CEILING
