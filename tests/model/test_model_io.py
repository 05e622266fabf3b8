"""Checkpoint round trip; truncated, foreign or mismatched files are rejected naming the file and reason."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from lmd_studio.core.generator import BlockControls
from lmd_studio.model.checkpoint import CheckpointError, save_checkpoint
from lmd_studio.model.generator import TorchBlockGenerator
from lmd_studio.model.model_io import GeneratorConfig, load_dit, load_model_folder, save_dit
from lmd_studio.model.text_encoder import FakeTextEncoder
from tests.model.lmdm_support import LinearTestCodec, text_for, tiny_dit

torch.set_num_threads(1)


def test_round_trip_keeps_weights_config_and_outputs(tmp_path: Path) -> None:
    dit = tiny_dit(seed=2)
    path = save_dit(tmp_path / "dit.safetensors", dit, GeneratorConfig(mode="encdec", sampler="euler"))
    loaded, gen_cfg = load_dit(path)
    assert loaded.cfg == dit.cfg and gen_cfg == GeneratorConfig(mode="encdec", sampler="euler")
    for name, p in dit.state_dict().items():
        assert torch.equal(loaded.state_dict()[name], p), name
    x = torch.randn(1, dit.cfg.window_frames, dit.cfg.latent_channels)
    with torch.inference_mode():
        assert torch.equal(dit(x, 0.5, text_for(dit)), loaded(x, 0.5, text_for(loaded)))


def test_truncated_file_is_rejected(tmp_path: Path) -> None:
    path = save_dit(tmp_path / "dit.safetensors", tiny_dit())
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match=r"dit\.safetensors.*(truncated|corrupt)"):
        load_dit(path)
    path.write_bytes(data[:5])
    with pytest.raises(CheckpointError, match=r"dit\.safetensors.*truncated"):
        load_dit(path)


def test_foreign_files_are_rejected(tmp_path: Path) -> None:
    codec_like = save_checkpoint(tmp_path / "codec.safetensors", {"w": torch.zeros(2)}, fmt="lmd-codec",
                                 format_version=1, config={})
    with pytest.raises(CheckpointError, match=r"codec\.safetensors: expected a 'lmd-dit' model file"):
        load_dit(codec_like)
    junk = tmp_path / "notes.txt"
    junk.write_text("these are not model weights, just a text file with enough bytes to read a header")
    with pytest.raises(CheckpointError, match=r"notes\.txt: not a safetensors file"):
        load_dit(junk)
    with pytest.raises(CheckpointError, match="not found"):
        load_dit(tmp_path / "missing.safetensors")


def test_wrong_version_and_mismatched_weights_are_rejected(tmp_path: Path) -> None:
    dit = tiny_dit()
    state = dict(dit.state_dict())
    config = {"dit": dit.cfg.to_dict(), "generator": {}}
    future = save_checkpoint(tmp_path / "future.safetensors", state, fmt="lmd-dit", format_version=99, config=config)
    with pytest.raises(CheckpointError, match=r"future\.safetensors: format_version 99 is not supported"):
        load_dit(future)
    config_wide = {"dit": dit.cfg.replace(d_model=64).to_dict(), "generator": {}}
    wide = save_checkpoint(tmp_path / "wide.safetensors", state, fmt="lmd-dit", format_version=1, config=config_wide)
    with pytest.raises(CheckpointError, match=r"wide\.safetensors: weight .* has shape"):
        load_dit(wide)
    state.pop("out.weight")
    short = save_checkpoint(tmp_path / "short.safetensors", state, fmt="lmd-dit", format_version=1, config=config)
    with pytest.raises(CheckpointError, match=r"short\.safetensors: weights do not match.*out\.weight"):
        load_dit(short)
    bad_cfg = save_checkpoint(tmp_path / "badcfg.safetensors", dict(dit.state_dict()), fmt="lmd-dit",
                              format_version=1, config={"dit": {"d_model": -3}})
    with pytest.raises(CheckpointError, match=r"badcfg\.safetensors: bad model config"):
        load_dit(bad_cfg)


def test_model_folder_with_injected_codec_loader(tmp_path: Path) -> None:
    folder = tmp_path / "mymodel"
    dit = tiny_dit()
    save_dit(folder / "dit.safetensors", dit)
    with pytest.raises(CheckpointError, match=r"codec\.safetensors: codec file missing"):
        load_model_folder(folder, codec_loader=lambda p: LinearTestCodec())
    (folder / "codec.safetensors").write_bytes(b"stand-in; the injected loader does not read it")
    loaded, gen_cfg, codec = load_model_folder(folder, codec_loader=lambda p: LinearTestCodec())
    assert loaded.cfg == dit.cfg and codec.latent_channels == dit.cfg.latent_channels
    with pytest.raises(CheckpointError, match="latent channels"):
        load_model_folder(folder, codec_loader=lambda p: LinearTestCodec(latent_channels=4))
    gen = TorchBlockGenerator.from_folder(folder, threads=None, codec_loader=lambda p: LinearTestCodec(),
                                          text_encoder=FakeTextEncoder(dit.cfg.text_dim))
    assert gen.name == "mymodel"
    audio, _ = gen.generate_block(gen.init_state(0), BlockControls())
    assert audio.shape == (gen.block_frames, gen.channels)
