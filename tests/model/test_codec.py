"""SpectralCodec: protocol, shapes, streaming == offline, state immutability, checkpoint I/O, shipped file."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from lmd_studio.model.checkpoint import CheckpointError, save_checkpoint
from lmd_studio.model.codec import CODEC_FORMAT, SpectralCodec, load_codec, save_codec
from lmd_studio.model.codec_api import LatentCodec
from lmd_studio.model.codec_net import CodecConfig, CodecNet

SR = 44100
SHIPPED = Path(__file__).resolve().parents[2] / "models" / "default" / "codec.safetensors"


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)


def _codec(channels=1, seed=0, width=32):
    torch.manual_seed(seed)
    net = CodecNet(CodecConfig(width=width, audio_channels=channels, encoder_blocks=1))
    with torch.no_grad():  # random weights, made non-trivial
        net.latent_mean.normal_()
        net.latent_std.uniform_(0.5, 2.0)
    return SpectralCodec(net)


def _music(seconds=1.5, channels=1, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(int(SR * seconds)) / SR
    x = 0.2 * np.sin(2 * np.pi * 330 * t) + 0.1 * np.sin(2 * np.pi * 495 * t) + 0.02 * rng.standard_normal(t.size)
    return torch.tensor(np.stack([x] * channels), dtype=torch.float32)[None]


def test_implements_the_protocol_with_the_fixed_numbers():
    codec = _codec()
    assert isinstance(codec, LatentCodec)
    assert (codec.sample_rate, codec.audio_channels, codec.latent_channels, codec.hop_frames) == (44100, 1, 32, 2048)
    assert codec.latent_rate_hz == pytest.approx(21.533, abs=1e-3)


@pytest.mark.parametrize("channels", [1, 2])
def test_shapes_and_dtypes(channels):
    codec = _codec(channels)
    audio = _music(1.0, channels).repeat(2, 1, 1)
    z = codec.encode(audio)
    assert z.shape == (2, audio.shape[-1] // 2048, 32) and z.dtype == torch.float32
    y = codec.decode(z)
    assert y.shape == (2, channels, z.shape[1] * 2048) and y.dtype == torch.float32
    assert torch.isfinite(y).all()
    with pytest.raises(ValueError, match="latents"):
        codec.decode(z[..., :16])


@pytest.mark.parametrize("blocks", [[1] * 10, [3, 7], [4, 1, 5], [10]])
def test_streaming_equals_offline(blocks):
    codec = _codec()
    z = torch.randn(1, 10, 32)
    offline = codec.decode(z)
    state, parts, pos = codec.init_decode_state(), [], 0
    for b in blocks:
        y, state = codec.decode_block(z[:, pos:pos + b], state)
        parts.append(y)
        pos += b
    streamed = torch.cat(parts, dim=-1)
    # stated tolerance: 1e-5 absolute (float64 decoder, float32 phase recursion on fixed-size chunks)
    assert (streamed - offline).abs().max().item() <= 1e-5
    assert state.latent_frames_done == 10


def test_decode_block_does_not_mutate_state_and_rewinds():
    codec = _codec()
    z = torch.randn(1, 12, 32)
    _, s1 = codec.decode_block(z[:, :6], codec.init_decode_state())
    past = [t.clone() for t in s1.conv_past]
    tail = s1.phase[0][0].ola_tail.copy()
    a, _ = codec.decode_block(z[:, 6:], s1)
    b, _ = codec.decode_block(z[:, 6:], s1)  # the engine rewinds to s1 and decodes again
    assert torch.equal(a, b)
    assert all(torch.equal(p, q) for p, q in zip(past, s1.conv_past))
    np.testing.assert_array_equal(tail, s1.phase[0][0].ola_tail)


def test_batch_rows_are_independent():
    codec = _codec()
    z = torch.randn(2, 5, 32)
    both = codec.decode(z)
    assert torch.allclose(both[1:], codec.decode(z[1:]), atol=1e-5)


def test_oracle_path_reconstructs_a_tone():
    codec = _codec()
    x = _music(2.0)
    y = codec.oracle_decode(x)[0, 0].numpy()
    ref = x[0, 0, : y.size].numpy()
    from lmd_studio.dsp.metrics import lsd_db
    assert lsd_db(ref[4096:], y[4096:]) < 3.0


def test_checkpoint_round_trip(tmp_path):
    codec = _codec(seed=3)
    path = save_codec(tmp_path / "codec.safetensors", codec)
    again = load_codec(path)
    audio = _music(0.5)
    assert torch.equal(codec.encode(audio), again.encode(audio))
    z = torch.randn(1, 4, 32)
    assert torch.equal(codec.decode(z), again.decode(z))
    assert again.cfg == codec.cfg


def test_rejects_corrupt_and_foreign_files(tmp_path):
    good = save_codec(tmp_path / "good.safetensors", _codec())
    tensors = {k: v.float() for k, v in _codec().net.state_dict().items()}
    cfg = _codec().cfg.to_dict()
    cases = {}
    cases["format"] = save_checkpoint(tmp_path / "dit.safetensors", tensors, fmt="lmd-dit", format_version=1, config=cfg)
    cases["version"] = save_checkpoint(tmp_path / "v9.safetensors", tensors, fmt=CODEC_FORMAT, format_version=9,
                                       config=cfg)
    cases["config"] = save_checkpoint(tmp_path / "sr.safetensors", tensors, fmt=CODEC_FORMAT, format_version=1,
                                      config={**cfg, "sample_rate_hz": 16000})
    partial = dict(tensors)
    partial.pop("dec_out.weight")
    cases["tensors"] = save_checkpoint(tmp_path / "miss.safetensors", partial, fmt=CODEC_FORMAT, format_version=1,
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
    expected = {"format": "expected a 'lmd-codec'", "version": "format_version 9", "config": "invalid codec config",
                "tensors": "do not match", "truncated": "corrupt|truncated", "foreign": "not a safetensors", "no metadata": "expected a 'lmd-codec'"}
    for name, path in cases.items():
        with pytest.raises(CheckpointError, match=expected[name]) as err:
            load_codec(path)
        assert str(path) in str(err.value), name


def test_shipped_codec_loads_with_the_fixed_numbers():
    codec = load_codec(SHIPPED)
    assert (codec.sample_rate, codec.hop_frames, codec.latent_channels, codec.audio_channels) == (44100, 2048, 32, 1)
    from safetensors import safe_open
    with safe_open(str(SHIPPED), "pt") as fh:
        meta = fh.metadata()
    assert int(meta["trained_steps"]) > 0 and json.loads(meta["licences"])
    # trained latents are standardised: roughly zero mean and unit spread on real audio
    z = codec.encode(_music(3.0))
    assert z.abs().mean().item() < 5.0
