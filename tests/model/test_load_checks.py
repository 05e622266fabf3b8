"""The loaders' own checks: a codec with NaN weights and a pickled file are refused naming the file, and
every breakage of a model folder is a CheckpointError (never a bare torch or OS error)."""

from __future__ import annotations

from pathlib import Path

import pytest

from lmd_studio.model.checkpoint import CheckpointError, read_metadata
from lmd_studio.model.codec import load_codec
from lmd_studio.model.model_io import load_model_folder
from tests.support.model_folders import BREAKAGES, broken_model_folder, tiny_model_folder


def test_a_codec_with_nan_weights_is_refused_naming_the_file(tmp_path: Path) -> None:
    _, codec = broken_model_folder(tmp_path / "m", "nan_codec")
    with pytest.raises(CheckpointError, match=r"codec\.safetensors: tensor .* contains NaN or inf"):
        load_codec(codec)


def test_a_pickle_is_named_as_one(tmp_path: Path) -> None:
    _, dit = broken_model_folder(tmp_path / "m", "pickled")
    with pytest.raises(CheckpointError, match=r"dit\.safetensors: not a safetensors file but a pickle"):
        read_metadata(dit)


def test_a_safetensors_header_that_starts_like_a_pickle_still_loads(tmp_path: Path) -> None:
    """Byte 0 of a safetensors file is the low byte of its header length, which can be 0x80."""
    folder = tiny_model_folder(tmp_path / "m")
    path = folder / "codec.safetensors"
    data = path.read_bytes()
    n = int.from_bytes(data[:8], "little")
    pad = (0x80 - n) % 256
    header = data[8:8 + n] + b" " * pad  # JSON allows trailing spaces; data offsets are relative
    path.write_bytes((n + pad).to_bytes(8, "little") + header + data[8 + n:])
    assert path.read_bytes()[0] == 0x80
    assert read_metadata(path)["format"] == "lmd-codec"
    load_codec(path)


@pytest.mark.parametrize("breakage", BREAKAGES)
def test_every_breakage_is_a_checkpoint_error(breakage: str, tmp_path: Path) -> None:
    folder, bad_file = broken_model_folder(tmp_path / breakage, breakage)
    with pytest.raises(CheckpointError) as info:
        load_model_folder(folder)
    assert str(bad_file) in str(info.value)
