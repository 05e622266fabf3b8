"""Codec2: protocol, shapes, streaming == offline, state immutability, exact overlap-add, file format."""

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from lmd_studio.dsp.istft_stream import StreamingIstft
from lmd_studio.dsp.stft import StftConfig, stft_torch
from lmd_studio.model.checkpoint import CheckpointError, save_checkpoint
from lmd_studio.model.codec import CODEC_FORMAT, SpectralCodec, load_codec, save_codec
from lmd_studio.model.codec2 import CODEC2_FORMAT, Codec2, load_codec2, save_codec2
from lmd_studio.model.codec2_net import Codec2Config, Codec2Net, flops_per_latent_frame
from lmd_studio.model.codec_api import LatentCodec
from lmd_studio.model.codec_net import CodecConfig, CodecNet

TINY = dict(encoder_width=32, encoder_blocks=1, decoder_width=32, decoder_blocks=2, frame_width=16)


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)


def _codec(channels=1, seed=0):
    torch.manual_seed(seed)
    net = Codec2Net(Codec2Config(audio_channels=channels, **TINY))
    with torch.no_grad():  # random weights, made non-trivial: layer scales on, latent statistics set
        for blk in net.dec_blocks:
            blk.scale.fill_(1.0)
        net.head.weight.mul_(4.0)  # spread phases; log-magnitudes around -1: peaks ~ 0.5
        net.head.bias.view(2, -1)[0] += 3.0  # from the initial -4
        net.latent_mean.normal_()
        net.latent_std.uniform_(0.5, 2.0)
    return Codec2(net)


def _music(seconds=1.0, channels=1, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(int(44100 * seconds)) / 44100
    x = 0.2 * np.sin(2 * np.pi * 330 * t) + 0.02 * rng.standard_normal(t.size)
    return torch.tensor(np.stack([x] * channels), dtype=torch.float32)[None]


def test_implements_the_protocol_with_the_v1_latent_shape():
    codec = _codec()
    assert isinstance(codec, LatentCodec)
    assert (codec.sample_rate, codec.audio_channels, codec.latent_channels, codec.hop_frames) == (44100, 1, 32, 2048)
    assert codec.latent_rate_hz == pytest.approx(21.533, abs=1e-3)


@pytest.mark.parametrize("channels", [1, 2])
def test_shapes_dtypes_and_bad_input(channels):
    codec = _codec(channels)
    z = codec.encode(_music(1.0, channels).repeat(2, 1, 1))
    assert z.shape == (2, 44100 // 2048, 32) and z.dtype == torch.float32
    y = codec.decode(z)
    assert y.shape == (2, channels, z.shape[1] * 2048) and y.dtype == torch.float32 and torch.isfinite(y).all()
    assert y.abs().max() > 1e-3  # the random decoder makes sound
    with pytest.raises(ValueError, match="latents"):
        codec.decode(z[..., :16])
    with pytest.raises(ValueError, match="batch"):
        codec.decode_block(z, codec.init_decode_state(1))


@pytest.mark.parametrize("blocks", [[1] * 12, [3, 9], [4, 1, 7], [12], [16 - 4, 0, 0]])
def test_streaming_equals_offline(blocks):
    codec = _codec()
    z = torch.randn(2, 12, 32)
    offline = codec.decode(z)
    state, parts, pos = codec.init_decode_state(2), [], 0
    for b in blocks:
        y, state = codec.decode_block(z[:, pos:pos + b], state)
        parts.append(y)
        pos += b
    streamed = torch.cat(parts, dim=-1)
    # stated tolerance: 1e-5 absolute, float32 throughout (only matmul shapes differ between the two paths)
    assert (streamed - offline).abs().max().item() <= 1e-5
    assert state.latent_frames_done == 12


def test_decode_block_does_not_mutate_state_and_rewinds():
    codec = _codec()
    z = torch.randn(1, 12, 32)
    _, s1 = codec.decode_block(z[:, :6], codec.init_decode_state())
    past = [t.clone() for t in s1.conv_past]
    tail = s1.ola_tail.clone()
    a, s2 = codec.decode_block(z[:, 6:], s1)
    b, _ = codec.decode_block(z[:, 6:], s1)  # the engine rewinds to s1 and decodes again
    assert torch.equal(a, b)
    assert all(torch.equal(p, q) for p, q in zip(past, s1.conv_past)) and torch.equal(tail, s1.ola_tail)
    assert s1.latent_frames_done == 6 and s2.latent_frames_done == 12


def test_batch_rows_are_independent():
    codec = _codec()
    z = torch.randn(2, 5, 32)
    assert torch.allclose(codec.decode(z)[1:], codec.decode(z[1:]), atol=1e-5)


def test_overlap_add_inverts_the_analysis_in_pieces():
    """The synthesis is exact: true STFT frames give the signal back, streamed in uneven pieces too."""
    istft = StreamingIstft(StftConfig())
    x = torch.randn(1, 2048 * 6, dtype=torch.float64)
    whole = istft.roundtrip(x, 2048)
    assert (whole[:, 1536:] - x[:, 1536:]).abs().max() < 1e-12  # after the stream-start fade-in
    spec = stft_torch(torch.nn.functional.pad(x, (0, 1536)), istft.cfg)  # [1, 24, K]
    tail, parts, at = istft.init_tail(1, torch.float64), [], 0
    for n in (4, 8, 12):
        y, tail = istft.frames_to_audio(spec[:, at:at + n], tail, at_start=at == 0)
        parts.append(y)
        at += n
    assert (torch.cat(parts, 1) - whole).abs().max() < 1e-12
    with pytest.raises(ValueError, match="first call"):
        istft.frames_to_audio(spec[:, :2], istft.init_tail(1, torch.float64), at_start=True)


def test_flop_count_is_consistent_with_the_config():
    big = flops_per_latent_frame(Codec2Config())
    small = flops_per_latent_frame(Codec2Config(decoder_blocks=2))
    assert big["decoder"] > small["decoder"] > big["decoder_head"] > 0 and big["encoder"] > 0


def test_file_round_trip_and_dispatch(tmp_path):
    codec = _codec(seed=3)
    path = save_codec2(tmp_path / "codec2.safetensors", codec, extra={"trained_steps": "5"})
    again = load_codec(path)  # the shared loader dispatches on the format
    assert isinstance(again, Codec2) and again.cfg == codec.cfg
    audio = _music(0.5)
    assert torch.equal(codec.encode(audio), again.encode(audio))
    z = torch.randn(1, 4, 32)
    assert torch.equal(codec.decode(z), again.decode(z))
    v1 = save_codec(tmp_path / "v1.safetensors", CodecNet(CodecConfig(width=32, encoder_blocks=1)))
    assert isinstance(load_codec(v1), SpectralCodec)


def test_rejects_corrupt_foreign_and_non_finite_files(tmp_path):
    good = save_codec2(tmp_path / "good.safetensors", _codec())
    tensors = {k: v.float() for k, v in _codec().net.state_dict().items()}
    cfg = _codec().cfg.to_dict()
    cases = {"format": save_checkpoint(tmp_path / "dit.safetensors", tensors, fmt="lmd-dit", format_version=1,
                                       config=cfg),
             "version": save_checkpoint(tmp_path / "v9.safetensors", tensors, fmt=CODEC2_FORMAT, format_version=9,
                                        config=cfg),
             "config": save_checkpoint(tmp_path / "sr.safetensors", tensors, fmt=CODEC2_FORMAT, format_version=1,
                                       config={**cfg, "decoder_kernel": 1}),
             "v1 config": save_checkpoint(tmp_path / "v1cfg.safetensors", tensors, fmt=CODEC_FORMAT, format_version=1,
                                          config=cfg)}
    partial = dict(tensors)
    partial.pop("head.weight")
    cases["tensors"] = save_checkpoint(tmp_path / "miss.safetensors", partial, fmt=CODEC2_FORMAT, format_version=1,
                                       config=cfg)
    poisoned = dict(tensors, **{"head.bias": torch.full_like(tensors["head.bias"], float("nan"))})
    cases["nan"] = save_checkpoint(tmp_path / "nan.safetensors", poisoned, fmt=CODEC2_FORMAT, format_version=1,
                                   config=cfg)
    truncated = tmp_path / "trunc.safetensors"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    cases["truncated"] = truncated
    foreign = tmp_path / "pickle.pt"
    torch.save({"a": torch.zeros(2)}, foreign)
    cases["foreign"] = foreign
    plain = tmp_path / "plain.safetensors"
    save_file({"x": torch.zeros(2)}, str(plain))
    cases["no metadata"] = plain
    cases["missing"] = tmp_path / "absent.safetensors"
    expected = {"format": "expected a 'lmd-codec' or 'lmd-codec2'", "version": "format_version 9",
                "config": "invalid codec2 config", "v1 config": "invalid codec config", "tensors": "do not match",
                "nan": "NaN or inf", "truncated": "corrupt|truncated", "foreign": "not (a )?safetensors",
                "no metadata": "found format None", "missing": "not found"}
    for name, path in cases.items():
        with pytest.raises(CheckpointError, match=expected[name]) as err:
            load_codec(path)
        assert str(path) in str(err.value), name
    with pytest.raises(CheckpointError, match="expected a 'lmd-codec2'"):
        load_codec2(cases["v1 config"])


def test_the_generator_runs_on_codec2_and_rewinds():
    from lmd_studio.core.generator import BlockControls, PromptSlot
    from lmd_studio.model.generator import TorchBlockGenerator
    from lmd_studio.model.text_encoder import FakeTextEncoder
    from tests.model.lmdm_support import tiny_dit

    dit = tiny_dit(latent_channels=32, accomp_channels=33, block_frames=4, context_frames=16)
    gen = TorchBlockGenerator(dit, _codec(), FakeTextEncoder(dit.cfg.text_dim))
    controls = BlockControls(values={"steps": 2}, prompts=(PromptSlot("rainy jazz piano", 1.0),))
    _, state = gen.generate_block(gen.init_state(0), controls)
    a, _ = gen.generate_block(state, controls)
    b, _ = gen.generate_block(state, controls)  # the codec's decode state is rewound as well
    assert a.shape == (4 * 2048, 1) and a.dtype == np.float32 and np.isfinite(a).all()
    assert np.array_equal(a, b)
