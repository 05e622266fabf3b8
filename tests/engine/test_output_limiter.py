"""The limiter in the engine's output path: after the volume, before the device, the capture ring
(recordings, retro-capture) and the offline render; its counts in EngineMetrics and RenderResult."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import soundfile as sf

from lmd_studio.core.fake import FakeBlockGenerator
from lmd_studio.core.params import STANDARD_PARAMS
from lmd_studio.dsp.limiter import LimiterConfig
from lmd_studio.engine import commands as cmd
from lmd_studio.engine.render import render_to_file
from lmd_studio.engine.worker import EngineConfig, GenerationEngine
from lmd_studio.rt.mailbox import ParamMailbox

RATE = 8000
CEILING = LimiterConfig().ceiling


def loud_engine(gain_db: float, limited: bool = True) -> GenerationEngine:
    gen = FakeBlockGenerator(sample_rate=RATE, channels=2, block_seconds=0.25)
    mb = ParamMailbox(STANDARD_PARAMS)
    mb.set("loudness", 1.0)
    mb.set("master_gain_db", gain_db)
    config = EngineConfig(device_sample_rate_hz=RATE, device_channels=2, prime_blocks=2, ahead_s=1.0, ring_s=4.0,
                          limiter=LimiterConfig() if limited else None)
    return GenerationEngine(gen, mb, config, max_buffer_frames=1024)


def play(e: GenerationEngine, buffers: int = 200) -> tuple[np.ndarray, np.ndarray]:
    """(what the device got, what the capture ring got) over `buffers` device buffers of 128 frames."""
    e.send(cmd.Play())
    buf = np.zeros((128, 2), np.float32)
    capture = np.zeros((4096, 2), np.float32)
    played, captured = [], []
    for _ in range(buffers):
        e.step()
        e.output.render(buf)
        played.append(buf.copy())
        assert e.capture_ring is not None
        n = e.capture_ring.read_into(capture[:e.capture_ring.readable_frames])
        captured.append(capture[:n].copy())
    time.sleep(0.03)  # the worker republishes its metrics at least every 20 ms
    e.step()
    return np.concatenate(played), np.concatenate(captured)


def test_loud_output_never_reaches_full_scale_and_is_counted() -> None:
    e = loud_engine(gain_db=6.0)
    out, rec = play(e)
    assert np.abs(out).max() <= CEILING + 1e-7 and np.abs(rec).max() <= CEILING + 1e-7
    unlimited, _ = play(loud_engine(gain_db=6.0, limited=False))  # the same deterministic audio, unlimited
    m = e.metrics
    assert m.clipped_samples_pre_limiter == int((np.abs(unlimited) > 1.0).sum()) > 0
    assert m.over_full_scale_samples == 0


def test_offline_render_is_limited_aligned_and_reports_counts(tmp_path: Path) -> None:
    gen = FakeBlockGenerator(sample_rate=RATE, channels=2, block_seconds=0.25)
    mb = ParamMailbox(STANDARD_PARAMS)
    mb.set("loudness", 1.0)
    mb.set("master_gain_db", 6.0)
    loud = render_to_file(gen, mb, 2.0, tmp_path / "loud.wav")
    audio, _ = sf.read(loud.path, dtype="float32")
    assert loud.clipped_samples_pre_limiter > 0 and loud.over_full_scale_samples == 0
    assert loud.peak_pre_limiter > 1.0 and loud.peak <= CEILING + 1e-6
    assert np.abs(audio).max() <= CEILING + 1e-6 and audio.shape == (2 * RATE, 2)


def test_quiet_render_is_the_generator_output_unshifted(tmp_path: Path) -> None:
    """Below the ceiling the limiter is a delay; the renderer skips it, so the file is the generator's
    audio times the volume, sample for sample (up to 24-bit rounding)."""
    gen = FakeBlockGenerator(sample_rate=RATE, channels=2, block_seconds=0.25)
    mb = ParamMailbox(STANDARD_PARAMS)
    mb.set("master_gain_db", -20.0)
    result = render_to_file(gen, mb, 1.0, tmp_path / "quiet.wav")
    audio, _ = sf.read(result.path, dtype="float64")
    controls = mb.snapshot().controls
    state, blocks = gen.init_state(0), []
    for _ in range(4):
        block, state = gen.generate_block(state, controls)
        blocks.append(block)
    expected = np.concatenate(blocks).astype(np.float64) * np.float32(10 ** (-20 / 20))
    assert result.clipped_samples_pre_limiter == 0
    np.testing.assert_allclose(audio, expected[:RATE], atol=2 / 2**23)


def test_the_limiter_can_be_left_out() -> None:
    gen = FakeBlockGenerator(sample_rate=RATE, channels=1, block_seconds=0.25)
    config = EngineConfig(device_sample_rate_hz=RATE, device_channels=1, limiter=None)
    e = GenerationEngine(gen, ParamMailbox(STANDARD_PARAMS), config, max_buffer_frames=256)
    assert e.output.limiter is None and e.output.limiter_latency_frames == 0
    e.step()
    assert e.metrics.clipped_samples_pre_limiter == 0
