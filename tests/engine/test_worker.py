"""The generation engine stepped synchronously with the fake generator (no threads, no devices)."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from lmd_studio.core.fake import FakeBlockGenerator
from lmd_studio.core.generator import BlockControls
from lmd_studio.core.params import STANDARD_PARAMS, STEPS
from lmd_studio.engine import commands as cmd
from lmd_studio.engine.worker import EngineConfig, GenerationEngine
from lmd_studio.rt.mailbox import ParamMailbox

RATE = 8000  # small rates keep these tests fast; resampling is tested separately


class _SlowFake(FakeBlockGenerator):
    """The fake generator taking a real, known time per block, so the splice's regeneration budget is > 0."""

    def generate_block(self, state, controls):  # noqa: ANN001, ANN201 — BlockGenerator's signature
        import time

        time.sleep(0.02)
        return super().generate_block(state, controls)


def make_engine(low_latency: bool = True, gen_rate: int = RATE, slow: bool = False, **cfg) -> GenerationEngine:
    gen = (_SlowFake if slow else FakeBlockGenerator)(sample_rate=gen_rate, channels=1, block_seconds=0.25)
    mb = ParamMailbox(STANDARD_PARAMS)
    mb.set("density", 0.0)
    mb.set("master_gain_db", 0.0)
    config = EngineConfig(device_sample_rate_hz=RATE, device_channels=1, prime_blocks=2, ahead_s=1.0,
                          ring_s=4.0, low_latency=low_latency, crossfade_s=0.005, **cfg)
    return GenerationEngine(gen, mb, config, max_buffer_frames=1024)


def pull(engine: GenerationEngine, frames: int, buffer_frames: int = 64) -> np.ndarray:
    """Play `frames` like an audio device would, stepping the worker between buffers."""
    out = []
    buf = np.zeros((buffer_frames, 1), np.float32)
    for _ in range(frames // buffer_frames):
        engine.step()
        engine.output.render(buf)
        out.append(buf.copy())
    return np.concatenate(out)[:, 0]


def test_priming_then_playback() -> None:
    e = make_engine()
    e.send(cmd.Play())
    buf = np.zeros((64, 1), np.float32)
    e.output.render(buf)
    assert not buf.any() and e.output.underruns_while_playing == 0  # silent until primed, no underrun
    e.step()
    e.step()
    assert e.output.primed
    assert e.ring.readable_frames >= 2 * e.block_device_frames * 0.9
    audio = pull(e, 4000)
    assert np.abs(audio).max() > 0.05 and e.output.underruns_while_playing == 0


def test_back_pressure_bounds_the_queue() -> None:
    e = make_engine()
    e.send(cmd.Play())
    for _ in range(200):
        e.step()
    ahead = e.config.ahead_s * RATE
    assert ahead <= e.ring.readable_frames < ahead + e.block_device_frames
    generated = e.stats.blocks_generated
    for _ in range(50):
        e.step()
    assert e.stats.blocks_generated == generated, "must wait for space, not keep generating"


def test_parameter_change_heard_from_next_block_without_low_latency() -> None:
    e = make_engine(low_latency=False)
    e.mailbox.set("loudness", 0.1)
    e.send(cmd.Play())
    for _ in range(10):
        e.step()
    queued = e.ring.readable_frames
    e.mailbox.set("loudness", 1.0)
    audio = pull(e, queued + 2 * e.block_device_frames)
    before = np.sqrt(np.mean(audio[queued - 800:queued - 100] ** 2))
    after = np.sqrt(np.mean(audio[queued + 100:queued + 800] ** 2))
    assert after > 5 * before, "the block after the queued audio must use the new value"
    assert np.sqrt(np.mean(audio[: queued - 100] ** 2)) < 2 * before, "queued audio was kept"


def test_low_latency_splice_replaces_queued_audio_with_crossfade() -> None:
    e = make_engine(low_latency=True)
    e.mailbox.set("loudness", 0.1)
    e.send(cmd.Play())
    pull(e, 2048)  # plays a little: the worker now knows the device buffer size
    for _ in range(10):
        e.step()
    read0, write0 = e.ring.read_position, e.ring.write_position
    assert write0 - read0 > RATE // 2
    e.mailbox.set("loudness", 1.0)
    e.step()
    assert e.stats.splices == 1
    splice_at = e.stats.last_splice_position
    assert read0 < splice_at < write0
    # audio before the splice point is the old take; well after it, the new loudness
    old = e.ring.peek(read0, splice_at - read0)[:, 0]
    new = e.ring.peek(splice_at + 200, 1000)[:, 0]
    assert np.sqrt(np.mean(new**2)) > 5 * np.sqrt(np.mean(old[-1000:] ** 2))
    # the spliced block is exactly the generator's output for the new controls from the same state
    block = next(b for b in e.queued_blocks if b.dev_start <= splice_at < b.dev_end)
    ref, _ = e.generator.generate_block(block.state_before, e.block_controls())
    offset = splice_at - block.dev_start
    xf = int(e.config.crossfade_s * RATE)
    n = min(500, block.dev_end - splice_at - xf)
    got = e.ring.peek(splice_at + xf, n)[:, 0]
    np.testing.assert_allclose(got, ref[offset + xf: offset + xf + n, 0], atol=1e-6)
    # the crossfade has no step larger than the signal's own largest step
    seam = e.ring.peek(splice_at - 50, xf + 100)[:, 0]
    assert np.abs(np.diff(seam)).max() <= np.abs(np.diff(np.concatenate([old, new]))).max() * 1.5 + 1e-3
    # playing past the splice point records a control-latency measurement
    pull(e, splice_at - e.ring.read_position + 512)
    assert len(e.control_latencies_ms()) == 1


def test_splice_near_a_block_end_moves_to_the_next_block_and_keeps_headroom() -> None:
    """A cut a few ms before a block's end would drop every later block and leave the worker those few ms
    to generate the next one (an underrun in the 10-minute soak). The splice must keep at least its
    margin of audio queued. A generator taking a known 20 ms per block makes "too close" (< one
    generation time + fade ≈ 230 frames) certain for the last 100 frames, whatever the machine's speed."""
    e = make_engine(low_latency=True, slow=True)
    e.mailbox.set("loudness", 0.1)
    e.send(cmd.Play())
    pull(e, 2048)
    for _ in range(10):
        e.step()
    margin = e.splice_margin_frames
    # advance the playhead until `playhead + margin` lies in the last 100 frames of a queued block
    for _ in range(200):
        at = e.ring.read_position + margin
        block = next(b for b in e.queued_blocks if b.dev_start <= at < b.dev_end)
        if block.dev_end - 100 <= at:
            break
        pull(e, 64)
    else:
        pytest.fail("never reached a block end")
    quiet = np.sqrt(np.mean(e.ring.peek(block.dev_end, e.block_device_frames) ** 2))  # the old next block
    e.mailbox.set("loudness", 1.0)
    e.step()
    assert e.stats.splices == 1
    splice_at = e.stats.last_splice_position
    assert splice_at == block.dev_end, "the splice moved to the start of the next block"
    assert e.ring.write_position - e.ring.read_position >= margin + e.block_device_frames // 2
    audio = pull(e, 3 * e.block_device_frames)
    assert e.output.underruns_while_playing == 0
    assert np.sqrt(np.mean(audio[-e.block_device_frames:] ** 2)) > 3 * quiet, "the new loudness is heard"


def test_volume_moves_do_not_regenerate() -> None:
    e = make_engine(low_latency=True)
    e.send(cmd.Play())
    pull(e, 1024)
    e.mailbox.set("master_gain_db", -30.0)
    e.step()
    assert e.stats.splices == 0
    assert e.output.gain.target_gain == pytest.approx(10 ** (-30 / 20))


def test_reset_restarts_the_stream() -> None:
    e = make_engine()
    e.send(cmd.Play())
    pull(e, 4096)
    write_before = e.ring.write_position
    e.send(cmd.Reset(seed=0))
    e.step()
    assert e.ring.write_position < write_before, "queued audio must be dropped"
    assert e.ring.readable_frames <= e.ring.max_read_frames + 2 * e.block_device_frames
    start = e.ring.read_position + e.ring.max_read_frames  # the one buffer that may still play out
    fresh, _ = e.generator.generate_block(e.generator.init_state(0), e.block_controls())
    np.testing.assert_allclose(e.ring.peek(start, 1000)[:, 0], fresh[:1000, 0], atol=1e-6)
    audio = pull(e, 4096)
    assert np.abs(audio).max() > 0.05


def test_seek_goes_back_to_a_kept_state() -> None:
    e = make_engine(low_latency=False)
    e.send(cmd.Play())
    pull(e, 8192)
    e.send(cmd.Seek(block_index=1))
    e.step()
    g, controls = e.generator, e.block_controls()
    _, s1 = g.generate_block(g.init_state(0), controls)
    block1, _ = g.generate_block(s1, controls)
    start = e.ring.read_position + e.ring.max_read_frames
    np.testing.assert_allclose(e.ring.peek(start, 1000)[:, 0], block1[:1000, 0], atol=1e-6)
    e.send(cmd.Seek(block_index=10_000))
    e.step()
    assert "no longer in the history" in e.stats.last_error


def test_failing_generator_gives_silence_and_the_engine_goes_on() -> None:
    e = make_engine()
    original = e.generator.generate_block
    calls = {"n": 0}

    def flaky(state, controls: BlockControls):
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("boom")
        return original(state, controls)

    e.generator.generate_block = flaky  # type: ignore[method-assign]
    e.send(cmd.Play())
    audio = pull(e, 6000)
    assert "boom" in e.stats.last_error
    assert np.abs(audio).max() > 0.01 and calls["n"] > 4


def test_stop_silences_and_holds_position() -> None:
    e = make_engine()
    e.send(cmd.Play())
    pull(e, 1024)
    e.send(cmd.Stop())
    e.step()
    pos = e.ring.read_position
    silent = pull(e, 1024)
    assert not silent.any() and e.ring.read_position == pos


def test_output_stage_callback_allocates_no_buffers() -> None:
    e = make_engine()
    e.send(cmd.Play())
    for _ in range(10):
        e.step()
    buf = np.zeros((256, 1), np.float32)
    e.output.render(buf)
    tracemalloc.start()
    try:
        base, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        for _ in range(200):
            e.output.render(buf)
        current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert current - base <= 512
    assert peak - base < 4096, f"callback allocated {peak - base} bytes at once (a buffer is {buf.nbytes})"


def test_resampling_to_the_device_rate_keeps_timing() -> None:
    e = make_engine(gen_rate=6000)  # device runs at 8000
    e.mailbox.set("loudness", 1.0)
    e.send(cmd.Play())
    audio = pull(e, 8000)
    assert e.block_device_frames == 2000
    spectrum = np.abs(np.fft.rfft(audio[2000:6000]))
    peak_hz = np.argmax(spectrum) * RATE / 4000
    assert 120 < peak_hz < 1100  # the fake's C3 chord, not shifted by the 4:3 rate change
    assert e.output.underruns_while_playing == 0


def test_splice_stays_in_its_block_when_the_rest_covers_the_next_generation() -> None:
    """Only a remainder shorter than one generation time (+ fade) forces the splice to the next block:
    with 20-ms generations, a splice point 60 ms before a block's end is cut there, not 60 ms later
    (the old rule waited for the next block whenever the rest was shorter than the whole margin)."""
    gen = _SlowFake(sample_rate=RATE, channels=1, block_seconds=0.25)
    mb = ParamMailbox(STANDARD_PARAMS)
    mb.set("density", 0.0)
    mb.set("loudness", 0.1)
    config = EngineConfig(device_sample_rate_hz=RATE, device_channels=1, prime_blocks=2, ahead_s=1.0,
                          ring_s=4.0, crossfade_s=0.005, min_splice_margin_s=0.03)
    e = GenerationEngine(gen, mb, config, max_buffer_frames=1024)
    e.send(cmd.Play())
    pull(e, 2048)
    for _ in range(10):
        e.step()
    regen = e.regen_frames
    margin = e.splice_margin_frames
    xf = int(config.crossfade_s * RATE)
    assert 0 < regen < margin
    target_rest = regen + xf + 150  # more than a generation, less than the whole margin
    assert target_rest < margin + xf
    for _ in range(400):
        at = e.ring.read_position + margin
        block = next(b for b in e.queued_blocks if b.dev_start <= at < b.dev_end)
        if block.dev_end - at <= target_rest:
            break
        pull(e, 16, buffer_frames=16)
    else:
        pytest.fail("never reached the window before a block end")
    e.mailbox.set("loudness", 1.0)
    e.step()
    assert e.stats.splices == 1
    splice_at = e.stats.last_splice_position
    assert block.dev_start < splice_at < block.dev_end, "cut inside the block, not at the next one"
    # what is queued covers the next generation plus the safety margin
    assert e.ring.write_position - e.ring.read_position >= regen + e.safety_frames
    pull(e, 3 * e.block_device_frames)
    assert e.output.underruns_while_playing == 0


class _SteppedFake(FakeBlockGenerator):
    """Declares sampling steps, like the real model: the engine tallies the steps each block runs with."""

    @property
    def param_specs(self):  # noqa: ANN201 — BlockGenerator's signature
        return (*super().param_specs, STEPS)


def test_metrics_tally_the_steps_each_block_ran_with() -> None:
    gen = _SteppedFake(sample_rate=RATE, channels=1, block_seconds=0.25)
    mb = ParamMailbox(STANDARD_PARAMS)
    e = GenerationEngine(gen, mb, EngineConfig(device_sample_rate_hz=RATE, device_channels=1, prime_blocks=2,
                                               ahead_s=1.0, ring_s=4.0, safe_mode=False), max_buffer_frames=1024)
    e.send(cmd.Play())
    pull(e, 2 * e.block_device_frames)
    blocks = e.metrics.blocks_generated
    assert e.metrics.steps_blocks == ((4, blocks),)  # the knob's default
    mb.set("steps", 2)
    pull(e, 4 * e.block_device_frames)
    assert dict(e.metrics.steps_blocks)[4] >= blocks and dict(e.metrics.steps_blocks)[2] > 0
    assert sum(n for _, n in e.metrics.steps_blocks) == e.metrics.blocks_generated
    assert make_engine().metrics.steps_blocks == ()  # a model without steps claims none


def test_live_metrics_read_the_underruns_the_snapshot_has_not_seen_yet() -> None:
    e = make_engine()
    e.send(cmd.Play())
    pull(e, 1024)
    buf = np.zeros((64, 1), np.float32)
    for _ in range(200):  # the device plays on while the worker is busy elsewhere (no step: no publish)
        e.output.render(buf)
    live = e.live_metrics()
    assert e.metrics.underrun_frames == 0 and e.metrics.underruns == 0  # the snapshot is from before
    assert live.underruns > 0 and live.underrun_frames == e.ring.underrun_frames > 0
    assert live.underrun_frames <= 200 * 64 and live.blocks_generated == e.metrics.blocks_generated
