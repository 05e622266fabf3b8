"""Model files stored as float16 (the app bundle ships the default model so): the loaders read them into
float32 modules, weights rounded to float16 precision and nothing else changed; a value beyond float16's
range stops the copy, and an inf in a float16 file is refused naming the file."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from lmd_studio.core.model_files import read_header
from lmd_studio.model.checkpoint import CheckpointError, read_metadata, write_float16_copy
from lmd_studio.model.codec import load_codec
from lmd_studio.model.model_io import CODEC_FILE, DIT_FILE, load_dit, load_model_folder
from tests.support.model_folders import tiny_model_folder


def _half_folder(src: Path, dst: Path) -> Path:
    for name in (DIT_FILE, CODEC_FILE):
        write_float16_copy(src / name, dst / name)
    return dst


def _dtypes(path: Path) -> set[str]:
    return {e["dtype"] for k, e in read_header(path).items() if k != "__metadata__"}


def test_the_copy_is_float16_with_the_same_metadata_at_about_half_the_size(tmp_path: Path) -> None:
    src = tiny_model_folder(tmp_path / "m32")
    half = _half_folder(src, tmp_path / "m16")
    for name in (DIT_FILE, CODEC_FILE):
        assert _dtypes(src / name) == {"F32"} and _dtypes(half / name) == {"F16"}
        assert read_metadata(half / name) == read_metadata(src / name)
        assert (half / name).stat().st_size < 0.55 * (src / name).stat().st_size


def test_a_float16_folder_computes_in_float32_with_the_weights_rounded_and_nothing_else(tmp_path: Path) -> None:
    src = tiny_model_folder(tmp_path / "m32")
    half = _half_folder(src, tmp_path / "m16")
    dit32, gen32, codec32 = load_model_folder(src)
    dit16, gen16, codec16 = load_model_folder(half)
    assert gen16 == gen32
    exact = dit32.state_dict()
    for name, value in dit16.state_dict().items():
        assert value.dtype == exact[name].dtype  # float32 modules either way
        assert torch.equal(value, exact[name].half().float()), name
    for name, value in load_codec(half / CODEC_FILE).net.state_dict().items():  # type: ignore[union-attr]
        reference = load_codec(src / CODEC_FILE).net.state_dict()[name]  # type: ignore[union-attr]
        assert value.dtype == reference.dtype
        assert torch.equal(value, reference.half().float() if reference.is_floating_point() else reference), name
    # the checkout's float32 file is not rounded
    stored = load_file(str(src / DIT_FILE))
    assert all(torch.equal(exact[k], v) for k, v in stored.items())
    assert any(not torch.equal(v, v.half().float()) for v in stored.values())


def test_a_value_beyond_float16_stops_the_copy_naming_file_and_tensor(tmp_path: Path) -> None:
    src = tiny_model_folder(tmp_path / "m32")
    tensors = load_file(str(src / DIT_FILE))
    name = sorted(tensors)[0]
    tensors[name] = tensors[name].clone()
    tensors[name].view(-1)[0] = 1e6
    save_file(tensors, str(src / DIT_FILE), metadata=read_metadata(src / DIT_FILE))
    with pytest.raises(CheckpointError, match=rf"dit\.safetensors: tensor {name} does not fit float16"):
        write_float16_copy(src / DIT_FILE, tmp_path / "out" / DIT_FILE)
    assert not (tmp_path / "out" / DIT_FILE).exists()


def test_an_inf_in_a_float16_file_is_refused_naming_the_file(tmp_path: Path) -> None:
    src = tiny_model_folder(tmp_path / "m32")
    half = _half_folder(src, tmp_path / "m16")
    for name, load in ((DIT_FILE, load_dit), (CODEC_FILE, load_codec)):
        tensors = load_file(str(half / name))
        key = sorted(k for k, v in tensors.items() if v.is_floating_point())[0]
        tensors[key] = tensors[key].clone()
        tensors[key].view(-1)[0] = float("inf")
        save_file(tensors, str(half / name), metadata=read_metadata(half / name))
        with pytest.raises(CheckpointError, match=rf"{name.replace('.', '[.]')}: .* contains NaN or inf "
                                                  r"\(it is stored as float16"):
            load(half / name)
