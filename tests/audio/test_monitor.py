"""MonitorMix: the input added into the device's output buffer — routing, fades, its gain (generative delay's
Dry), and no clipping; the level as the device process gets it."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from lmd_studio.audio.monitor import MonitorMix, routing
from lmd_studio.audio.shm_input import monitor_word

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


def test_a_monitor_gain_under_one_fades_to_it_and_holds_it() -> None:
    """Generative delay's Dry: the monitor settles at the gain asked for (not 1), and moves to a new one."""
    mix = MonitorMix((0,), 2, 48000, fade_s=0.01)
    indata = np.full((256, 1), 0.5, np.float32)
    for _ in range(3):  # past the 10 ms fade
        out = np.zeros((256, 2), np.float32)
        mix.process(out, indata, on=True, gain=0.4)
    assert mix.gain == pytest.approx(0.4)
    np.testing.assert_allclose(out, 0.5 * 0.4, rtol=1e-6)  # settled: every frame at the gain
    out = np.zeros((256, 2), np.float32)
    mix.process(out, indata, on=True, gain=0.1)  # down by 0.3: 144 frames of fade, within this buffer
    assert mix.gain == pytest.approx(0.1)
    assert out[0, 0] < 0.5 * 0.4 and out[-1, 0] == pytest.approx(0.5 * 0.1, rel=1e-5)
    out = np.zeros((256, 2), np.float32)
    mix.process(out, indata, on=False, gain=0.4)  # off whatever the gain
    assert mix.gain == 0.0


def test_the_monitor_allocates_nothing_per_buffer_at_a_partial_gain() -> None:
    mix = MonitorMix((0, 1), 2, 48000)
    out = np.zeros((1024, 2), np.float32)
    indata = np.random.default_rng(2).uniform(-0.5, 0.5, (1024, 2)).astype(np.float32)
    gains = (0.3, 0.7, 0.5)
    for g in gains:
        mix.process(out, indata, on=True, gain=g)
    tracemalloc.start()
    try:
        base, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        for i in range(300):  # fades (a new gain every 100 buffers) and settled stretches
            mix.process(out, indata, on=True, gain=gains[i // 100])
            out.fill(0.0)
        current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert current - base <= 512
    column_bytes = out.shape[0] * 4  # what a scaled copy of one input column would take
    assert peak - base < column_bytes, f"the monitor allocated {peak - base} bytes at once"


@pytest.mark.parametrize(("level", "word"), [(0.0, 0), (1.0, 1000), (0.7071, 707), (1.5, 1000), (-1.0, 0),
                                             (0.0004, 0)])
def test_the_device_process_gets_the_monitor_level_in_thousandths(level: float, word: int) -> None:
    assert monitor_word(level) == word
