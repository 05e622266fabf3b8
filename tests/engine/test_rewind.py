"""Rewinding: play again from a past moment. The generator goes back to the kept state of the block that
played there and that block starts again just past the playhead, crossfaded out of the queued audio (no
gap): with the same seed and controls the music comes back bit for bit after the fade, with a new seed it
branches. The kept states are bounded by a memory budget."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lmd_studio.core.fake import FakeBlockGenerator
from lmd_studio.core.generator import BlockGenerator
from lmd_studio.core.params import STANDARD_PARAMS
from lmd_studio.core.state_size import storages
from lmd_studio.engine import commands as cmd
from lmd_studio.engine.state_history import StateHistory
from lmd_studio.engine.worker import EngineConfig, GenerationEngine
from lmd_studio.model.generator import TorchBlockGenerator
from lmd_studio.model.model_io import GeneratorConfig
from lmd_studio.model.text_encoder import FakeTextEncoder
from lmd_studio.rt.mailbox import ParamMailbox
from tests.model.lmdm_support import LinearTestCodec, tiny_dit

torch.set_num_threads(1)


def make_engine(gen: BlockGenerator, budget_bytes: int = 128 * 2**20) -> tuple[GenerationEngine, dict]:
    """An engine at the generator's own rate (no resampling: block audio reaches the ring unchanged), and
    every block it queued: {ring position: (block index, frames)}."""
    mb = ParamMailbox(STANDARD_PARAMS.merged(gen.param_specs))
    mb.set("master_gain_db", 0.0)
    # safe mode off: it lowers the steps of blocks made while the machine is busy, and a block replayed with
    # other steps is other music (under load a replay then differed from the block first heard)
    config = EngineConfig(device_sample_rate_hz=gen.sample_rate, device_channels=gen.channels, ahead_s=1.0,
                          ring_s=6.0, limiter=None, history_budget_bytes=budget_bytes, safe_mode=False)
    engine = GenerationEngine(gen, mb, config, max_buffer_frames=1024)
    blocks: dict[int, tuple[int, np.ndarray]] = {}
    engine.add_block_listener(lambda pos, frames, i, spliced: blocks.update({pos: (i, np.array(frames))}))
    return engine, blocks


def play(engine: GenerationEngine, seconds: float, buffer_frames: int = 256) -> None:
    buf = np.zeros((buffer_frames, engine.config.device_channels), np.float32)
    for _ in range(int(seconds * engine.config.device_sample_rate_hz) // buffer_frames):
        for _ in range(4):  # (the tiny model's blocks are shorter than a buffer)
            engine.step()
        engine.output.render(buf)


def tiny_model() -> TorchBlockGenerator:
    dit = tiny_dit(seed=3, pattern="blockcausal")
    return TorchBlockGenerator(dit, LinearTestCodec(), FakeTextEncoder(dit.cfg.text_dim),
                               config=GeneratorConfig(mode="blockcausal", sampler="pingpong", default_steps=2))


@pytest.mark.parametrize("which", ["fake", "tiny model"])
def test_rewind_with_the_same_seed_plays_the_same_music_again(which: str) -> None:
    gen = FakeBlockGenerator(sample_rate=8000, channels=1, block_seconds=0.25) if which == "fake" else tiny_model()
    engine, blocks = make_engine(gen)
    engine.send(cmd.Play())
    play(engine, 3.0)
    before = dict(blocks)
    starts = sorted(before)
    k_start = starts[3]
    k_index, k_audio = before[k_start]
    assert k_start + len(k_audio) <= engine.ring.read_position  # a moment already heard
    blocks.clear()
    read = engine.ring.read_position
    engine.send(cmd.Rewind(k_start + 10))  # anywhere inside block k
    play(engine, 1.5)
    again = sorted(blocks)
    assert again and again[0] > read  # heard from just past the playhead, crossfaded out of the queued audio
    index, tail = blocks[again[0]]
    offset = again[0] - engine.history.at(again[0]).start  # (0 unless the playhead moved on meanwhile)
    xf = engine.crossfade_frames
    assert index == k_index and np.array_equal(tail[xf:], k_audio[offset + xf:])  # bit for bit after the fade
    index, audio = blocks[again[1]]
    assert index == k_index + 1 and np.array_equal(audio, before[starts[4]][1])
    assert engine.stats.last_error == "" and engine.metrics.underruns == 0  # a rewind is not a dropout
    # a new seed branches from the same state
    blocks.clear()
    engine.mailbox.set("seed", 77.0)
    engine.send(cmd.Rewind(k_start))
    play(engine, 1.0)
    first = min(blocks)
    index, tail = blocks[first]
    offset = first - engine.history.at(first).start
    new, old = tail[xf:], k_audio[offset + xf:offset + len(tail)]  # like for like: after the fade, same samples
    assert index == k_index and new.shape == old.shape and not np.array_equal(new, old)


def test_the_branch_left_behind_can_be_played_again() -> None:
    engine, blocks = make_engine(tiny_model())
    engine.send(cmd.Play())
    play(engine, 3.0)
    a = dict(blocks)
    a_starts = sorted(a)
    fork = a_starts[2]
    engine.mailbox.set("seed", 5.0)
    engine.send(cmd.Rewind(fork))  # branch B from block 2
    play(engine, 2.0)
    # A's blocks after the fork are still kept (at their own positions): go back into A's block 4
    blocks.clear()
    engine.mailbox.set("seed", 0.0)
    engine.send(cmd.Rewind(a_starts[4] + 1))
    play(engine, 1.0)
    first = min(blocks)
    index, tail = blocks[first]
    offset, xf = first - engine.history.at(first).start, engine.crossfade_frames
    assert index == a[a_starts[4]][0] and np.array_equal(tail[xf:], a[a_starts[4]][1][offset + xf:])


def test_the_kept_states_stay_within_the_memory_budget() -> None:
    gen = tiny_model()
    state = gen.init_state(0)
    for _ in range(4):
        _, state = gen.generate_block(state, make_engine(gen)[0].block_controls())
    one = sum(storages(state).values())  # one state's memory, once the context and cache are full
    assert one > 1000
    engine, blocks = make_engine(gen, budget_bytes=150 * one)  # ~2 s of 16-ms blocks: 1 s queued, some past
    engine.send(cmd.Play())
    play(engine, 8.0)
    history = engine.history
    assert len(history) >= history.min_blocks
    assert history.bytes <= history.budget_bytes or len(history) == history.min_blocks
    assert engine.metrics.history_bytes == history.bytes and engine.metrics.history_s > 0
    oldest = history.oldest_start
    assert oldest is not None and oldest > min(blocks)  # the first blocks were let go
    engine.send(cmd.Rewind(min(blocks)))
    engine.step()
    assert "no longer in the history" in engine.stats.last_error


def test_storage_shared_between_states_is_counted_once() -> None:
    shared = torch.zeros(1000)  # 4,000 bytes
    a = (shared, np.zeros(10, np.float32))
    b = (shared[:500], np.zeros(10, np.float32))  # a view of the same storage
    history = StateHistory(budget_bytes=10**6, min_blocks=1)
    history.remember(0, 0, 100, a)
    history.remember(1, 100, 200, b)
    assert history.bytes == 4000 + 40 + 40
    history.remember(1, 100, 200, a)  # block 1 again (a splice): its old state's storage goes
    assert history.bytes == 4000 + 40
    assert history.at(150) is not None and history.at(150).block_index == 1 and history.at(250) is None
    history.clear()
    assert history.bytes == 0 and len(history) == 0
