"""The studio's input as a jam partner: lined up with the blocks by stream position, switched by the Jam
control, scaled by Follow, and never heard by an offline render."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lmd_studio.core.generator import BlockControls, HearsInput, PromptSlot
from lmd_studio.model.generator import TorchBlockGenerator
from lmd_studio.model.jam import JamGenerator, studio_jam
from lmd_studio.model.jam_input import StreamInputSource
from lmd_studio.model.model_io import GeneratorConfig
from lmd_studio.model.partner_track import PartnerEncoder, stale_chunks
from lmd_studio.model.text_encoder import FakeTextEncoder
from tests.model.lmdm_support import LinearTestCodec, tiny_dit

torch.set_num_threads(1)


class StreamAudio:
    """A StreamInput double: the player's input on the stream timeline (one array), arrived up to `arrived`."""

    def __init__(self, audio: np.ndarray) -> None:
        self.audio = audio
        self.arrived: int | None = 0

    @property
    def channels(self) -> int:
        return int(self.audio.shape[1])

    @property
    def arrived_stream_position(self) -> int | None:
        return self.arrived

    def for_stream(self, end_stream_position: int, frames: int) -> np.ndarray:
        out = np.zeros((frames, self.channels), np.float32)
        lo = end_stream_position - frames
        a, b = max(lo, 0), min(end_stream_position, len(self.audio))
        if b > a:
            out[a - lo:b - lo] = self.audio[a:b]
        return out


def make_generator() -> TorchBlockGenerator:
    dit = tiny_dit(seed=5, pattern="blockcausal")
    return TorchBlockGenerator(dit, LinearTestCodec(), FakeTextEncoder(dit.cfg.text_dim),
                               config=GeneratorConfig(mode="blockcausal", sampler="pingpong", jam_trained=True))


def controls(jam: float = 1.0, follow: float = 1.0, position: int | None = 0) -> BlockControls:
    return BlockControls(values={"steps": 2.0, "jam": jam, "follow": follow}, stream_position=position,
                         prompts=(PromptSlot("bass and drums", 1.0),))


def test_the_input_is_lined_up_with_the_blocks_by_stream_position() -> None:
    codec = LinearTestCodec()
    hop, block = codec.hop_frames, codec.hop_frames * 4
    rng = np.random.default_rng(0)
    stream = StreamAudio(rng.standard_normal((block * 40, 1)).astype(np.float32))
    source = StreamInputSource(lambda: PartnerEncoder(codec, margin_frames=1, window_frames=8), block,
                               lookback_blocks=2)
    source.attach(stream, codec.sample_rate)  # the stream at the codec's rate: no resampling, exact
    p0 = 3 * block + 17  # the engine started this epoch's block 5 at stream position p0 + 5·block
    for k in range(5, 20):
        stream.arrived = p0 + (k - 3) * block  # the playhead (and the input) run ~3 blocks behind generation
        source.refresh(k, p0 + k * block)
    assert source.restarts == 1 and source.first_frame == (5 - 2) * 4
    # frame f of the partner is what was played at stream position p0 + f·hop
    first, end = source.first_frame, source.available_frames()
    assert end == (stream.arrived - p0) // hop - 1  # the newest frame waits for the audio after it
    lined_up = stream.audio[p0 + first * hop:p0 + end * hop]
    offline = codec.encode(torch.from_numpy(lined_up.T)[None])[0]
    torch.testing.assert_close(source.latents(first, end), offline, atol=1e-4, rtol=1e-4)


def test_a_device_at_another_rate_is_resampled_to_the_codecs() -> None:
    codec = LinearTestCodec()
    hop, block = codec.hop_frames, codec.hop_frames * 4
    t = np.arange(block * 30 * 2) / (2 * codec.sample_rate)  # the device runs at twice the codec's rate
    tone = lambda t: (0.5 * np.sin(2 * np.pi * 220 * t) + 0.3 * np.sin(2 * np.pi * 530 * t))[:, None]  # noqa: E731
    stream = StreamAudio(tone(t).astype(np.float32))
    source = StreamInputSource(lambda: PartnerEncoder(codec, margin_frames=1, window_frames=8), block,
                               lookback_blocks=0)
    source.attach(stream, 2 * codec.sample_rate)
    for k in range(0, 24):
        stream.arrived = 2 * (k - 2) * block if k > 2 else 0
        source.refresh(k, 2 * k * block)
    first, end = source.first_frame, source.available_frames()
    assert first == 0 and end > 60
    direct = tone(np.arange(end * hop) / codec.sample_rate).astype(np.float32)  # the same tone at the codec rate
    offline = codec.encode(torch.from_numpy(direct.T)[None])[0]
    got = source.latents(0, end)
    # the resampler's start-up transient aside, the same latents as the tone made at the codec's rate
    err = (got[4:] - offline[4:]).norm() / offline[4:].norm()
    assert err < 0.05, f"relative error {err:.3f}"


def test_a_jump_or_a_long_gap_starts_over() -> None:
    codec = LinearTestCodec()
    block = codec.hop_frames * 4
    stream = StreamAudio(np.ones((block * 400, 1), np.float32))
    source = StreamInputSource(lambda: PartnerEncoder(codec, margin_frames=1, window_frames=8), block,
                               lookback_blocks=1, max_gap_s=2.0)
    source.attach(stream, codec.sample_rate)
    stream.arrived = 0
    for k in range(4):
        source.refresh(k, k * block)
    assert source.restarts == 1
    source.refresh(4, 4 * block + 500)  # stop and play: block 4 now plays elsewhere
    assert source.restarts == 2 and source.first_frame == 3 * 4
    stream.arrived = 4 * block + 500
    source.refresh(5, 5 * block + 500)
    assert source.restarts == 2 and source.available_frames() > source.first_frame
    # Jam off for a while (no refreshes), then on at block 100: the input since is skipped, not encoded in one
    # go; the partner starts again a block before block 100, and the playhead has not reached it yet
    stream.arrived = 97 * block + 500
    source.refresh(100, 100 * block + 500)
    assert source.restarts == 3 and source.first_frame == 99 * 4 and source.available_frames() == 99 * 4
    source.attach(None, codec.sample_rate)
    source.refresh(101, 101 * block + 500)  # input off: nothing arrives, nothing breaks
    assert source.available_frames() == source.first_frame


def test_the_jam_switch_follow_and_an_offline_render() -> None:
    gen = make_generator()
    jam = studio_jam(gen)
    assert isinstance(jam, HearsInput) and jam.name == gen.name
    assert {s.name for s in jam.param_specs} >= {"jam", "follow"}
    o = gen.dit.cfg.block_frames
    block = gen.block_frames
    stream = StreamAudio(np.random.default_rng(2).standard_normal((block * 30, 1)).astype(np.float32))
    jam.attach_input(stream, gen.codec.sample_rate)
    state = jam.init_state(1)
    for k in range(3):  # jam off: nothing heard, nothing pulled
        assert jam.placed(state, controls(jam=0.0, position=k * block)).partner is None
        _, state = jam.generate_block(state, controls(jam=0.0, position=k * block))
    for k in range(3, 8):  # on: the input heard up to the playhead, two blocks behind
        stream.arrived = (k - 2) * block
        _, state = jam.generate_block(state, controls(jam=1.0, follow=0.5, position=k * block))
        final = (k - 2) * o - 4  # what arrived, less the encoder's margin (frames wait for the audio after them)
        if final <= 0:
            assert state.partner is None
            continue
        assert state.partner is not None and state.partner.end_frame == final
    heard = state.partner
    assert heard is not None and int(heard.latents.shape[0]) >= 4
    # Follow is a fader on what the model hears: the latents came in at half their level
    source = jam.source
    assert isinstance(source, StreamInputSource)
    lo = max(heard.start_frame, source.first_frame)
    torch.testing.assert_close(heard.latents[lo - heard.start_frame:].float(),
                               0.5 * source.latents(lo, heard.end_frame).float())
    # switched off: the partner is gone from the context exactly as if it had never played
    deaf = jam.placed(state, controls(jam=0.0, position=8 * block))
    assert deaf.partner is not None and deaf.partner.end_frame == 0
    context, _, cut_off = gen._partner_context(deaf)
    a0 = gen.dit.cfg.control_channels
    assert context is not None and cut_off == 0
    assert float(context[0, :, a0:a0 + gen.dit.cfg.accomp_channels].abs().sum()) == 0.0
    # and a cached chunk that heard some of it is encoded again (a chunk at frames 8..12 cached under cut-off 10)
    assert stale_chunks(deaf.partner, (10,), 8, 4, 0) == 1
    # an offline render of the same generator (no stream position) never touches the live input
    available = jam.source.available_frames()
    stream.arrived = 20 * block
    offline = jam.placed(state, controls(jam=1.0, position=None))
    assert offline.partner is not None and offline.partner.end_frame == 0
    assert jam.source.available_frames() == available  # nothing new was pulled


def test_a_recording_partner_ignores_the_switch() -> None:
    gen = make_generator()
    o = gen.dit.cfg.block_frames
    jam = JamGenerator(gen, torch.randn(64, gen.dit.cfg.latent_channels), lookahead_s=0.0)  # `lmd jam`
    assert "jam" not in {s.name for s in jam.param_specs} and jam.name.endswith("(jam)")
    state = jam.init_state(0)
    for _ in range(3):
        _, state = jam.generate_block(state, controls(jam=0.0, position=None))
    assert state.partner is not None and state.partner.end_frame == 2 * o  # heard before block 2, Jam or not
    with pytest.raises(ValueError, match="no accompaniment channels"):
        deaf_model = tiny_dit(seed=1, accomp_channels=0)
        JamGenerator(TorchBlockGenerator(deaf_model, LinearTestCodec(), FakeTextEncoder(deaf_model.cfg.text_dim)),
                     torch.zeros(4, 8), 0.0)


