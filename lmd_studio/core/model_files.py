"""Reading a safetensors file's header without torch: the metadata our loaders check, and the tensor shapes.

The loaders (model/checkpoint.py) check a file's header before torch reads a byte of its weights; the app
describes a model folder in its model list and About box from the same header, without importing torch
(seconds) on the GUI thread. Both read it here, so the checks and the messages are the same.
"""

from __future__ import annotations

import json
from math import prod
from pathlib import Path
from typing import Any

MAX_HEADER_BYTES = 100_000_000  # a header past this is a foreign or damaged file, not one of ours


class CheckpointError(ValueError):
    """A model file that cannot be used, with a message fit for the user."""


def read_header(path: str | Path) -> dict[str, Any]:
    """The whole JSON header of a safetensors file (tensor entries and `__metadata__`), or CheckpointError
    naming the file and what is wrong with it."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: model file not found")
    size = path.stat().st_size
    try:
        with path.open("rb") as fh:
            head = fh.read(8)
            if len(head) < 8:
                raise CheckpointError(f"{path}: file is truncated ({size} bytes), not a safetensors model")
            # torch.save's zip or a bare pickle (a safetensors header is JSON: byte 8 is "{")
            if head.startswith((b"PK\x03\x04", b"\x80")) and fh.read(1) != b"{":
                raise CheckpointError(f"{path}: not a safetensors file but a pickle (e.g. from torch.save); "
                                      f"pickles can run code, so they are never loaded. Export the model "
                                      f"with lmd model export")
            header_len = int.from_bytes(head, "little")
            if header_len <= 0 or header_len > min(size - 8, MAX_HEADER_BYTES):
                raise CheckpointError(f"{path}: not a safetensors file (bad header length {header_len})")
            fh.seek(8)
            header = json.loads(fh.read(header_len).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{path}: not a safetensors file (unreadable header: {exc})") from None
    if not isinstance(header, dict):
        raise CheckpointError(f"{path}: not a safetensors file (header is not a JSON object)")
    return header


def read_metadata(path: str | Path) -> dict[str, str]:
    """The header metadata of a safetensors file, or CheckpointError."""
    meta = read_header(path).get("__metadata__") or {}
    return {str(k): str(v) for k, v in meta.items()}


def parameter_count(header: dict[str, Any]) -> int:
    """Values stored in the file's tensors (its parameter count, for a file of weights)."""
    total = 0
    for name, entry in header.items():
        if name != "__metadata__" and isinstance(entry, dict):
            shape = entry.get("shape")
            if isinstance(shape, list) and all(isinstance(n, int) and n >= 0 for n in shape):
                total += prod(shape)
    return total
