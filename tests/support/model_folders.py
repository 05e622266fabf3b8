"""Tiny model folders built in code (a few-thousand-parameter DiT + a tiny codec, ~100 KB), and every way
of breaking one that a user's disk can produce: truncated, random bytes, a pickle, a future format
version, a missing codec, NaN codec weights."""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path

import torch

from lmd_studio.model.codec import save_codec
from lmd_studio.model.codec_net import CodecConfig, CodecNet
from lmd_studio.model.dit import DiT
from lmd_studio.model.dit_config import DiTConfig
from lmd_studio.model.model_io import CODEC_FILE, DIT_FILE, save_dit

# text_dim 384: the studio's MiniLM encoder is accepted, so only the broken file can stop the load
TINY_DIT = DiTConfig.tiny(latent_channels=32, accomp_channels=33, text_dim=384)
BREAKAGES = ("truncated", "random", "pickled", "future_version", "missing_codec", "nan_codec")


def tiny_model_folder(folder: Path) -> Path:
    """A loadable model folder: tiny random DiT + tiny random codec (latent sizes agree)."""
    torch.manual_seed(0)
    save_dit(folder / DIT_FILE, DiT(TINY_DIT).eval())
    save_codec(folder / CODEC_FILE, CodecNet(CodecConfig(width=32, encoder_blocks=1, decoder_dilations=(1, 2),
                                                         gl_iters=2)))
    return folder


def broken_model_folder(folder: Path, breakage: str) -> tuple[Path, Path]:
    """A model folder broken in one way; returns (folder, the file a message must name)."""
    tiny_model_folder(folder)
    dit, codec = folder / DIT_FILE, folder / CODEC_FILE
    if breakage == "truncated":
        data = dit.read_bytes()
        dit.write_bytes(data[: len(data) // 3])
        return folder, dit
    if breakage == "random":
        dit.write_bytes(os.urandom(50_000))
        return folder, dit
    if breakage == "pickled":  # what `torch.save(state_dict)` would give, under the release file's name
        with dit.open("wb") as fh:
            pickle.dump({"weight": [0.0] * 16}, fh)
        return folder, dit
    if breakage == "future_version":
        _rewrite_metadata(codec, format_version="999")
        return folder, codec
    if breakage == "missing_codec":
        codec.unlink()
        return folder, codec
    if breakage == "nan_codec":
        net = CodecNet(CodecConfig(width=32, encoder_blocks=1, decoder_dilations=(1, 2), gl_iters=2))
        with torch.no_grad():
            next(iter(net.parameters()))[0] = float("nan")
        save_codec(codec, net)
        return folder, codec
    raise ValueError(f"unknown breakage {breakage!r}; one of {BREAKAGES}")


def _rewrite_metadata(path: Path, **changes: str) -> None:
    """Change header metadata in place (same tensors), as a newer app version would have written it."""
    data = path.read_bytes()
    n = int.from_bytes(data[:8], "little")
    header = json.loads(data[8:8 + n])
    header["__metadata__"].update(changes)
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    path.write_bytes(len(raw).to_bytes(8, "little") + raw + data[8 + n:])
