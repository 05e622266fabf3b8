"""Release-model I/O: safetensors files whose metadata carries the JSON config and a format version.

Every model file we ship or load goes through here, so the checks live in one place:
- only safetensors (never pickle);
- metadata `format` must name what the caller expects (e.g. "lmd-codec", "lmd-dit", "lmd-lora");
- `format_version` must be one this code can read;
- truncated, corrupt or foreign files raise `CheckpointError` naming the file and the reason.
"""

from __future__ import annotations

import json
import os
import stat
import threading
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file


class CheckpointError(ValueError):
    """A model file that cannot be used, with a message fit for the user."""


def save_checkpoint(path: str | Path, tensors: dict[str, torch.Tensor], *, fmt: str, format_version: int,
                    config: dict[str, Any], extra: dict[str, str] | None = None) -> Path:
    """Write tensors + metadata atomically (temp file, then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    metadata = {"format": fmt, "format_version": str(format_version), "config": json.dumps(config)}
    if extra:
        metadata.update(extra)
    tmp = path.with_suffix(path.suffix + ".tmp")
    save_file({k: v.detach().contiguous().cpu() for k, v in tensors.items()}, str(tmp), metadata=metadata)
    os.chmod(tmp, _new_file_mode(path.parent))  # safetensors creates 0600 files; models are shared like any file
    tmp.replace(path)
    return path


def _new_file_mode(folder: Path) -> int:
    """The permission bits a file newly created in `folder` gets (0666 less the umask; default ACLs too),
    found by creating one: reading the umask would mean setting it, which races with other threads."""
    probe = folder / f".mode-probe-{os.getpid()}-{threading.get_ident()}"
    fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        return stat.S_IMODE(os.fstat(fd).st_mode)
    finally:
        os.close(fd)
        probe.unlink()


def read_metadata(path: str | Path) -> dict[str, str]:
    """The header metadata of a safetensors file, or CheckpointError."""
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
            if header_len <= 0 or header_len > min(size - 8, 100_000_000):
                raise CheckpointError(f"{path}: not a safetensors file (bad header length {header_len})")
            fh.seek(8)
            header = json.loads(fh.read(header_len).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{path}: not a safetensors file (unreadable header: {exc})") from None
    if not isinstance(header, dict):
        raise CheckpointError(f"{path}: not a safetensors file (header is not a JSON object)")
    meta = header.get("__metadata__") or {}
    return {str(k): str(v) for k, v in meta.items()}


def load_checkpoint(path: str | Path, *, fmt: str, supported_versions: tuple[int, ...],
                    device: str | torch.device = "cpu") -> tuple[dict[str, torch.Tensor], dict[str, Any], dict[str, str]]:
    """Load (tensors, config, metadata), checking format and version first."""
    path = Path(path)
    meta = read_metadata(path)
    found = meta.get("format")
    if found != fmt:
        raise CheckpointError(f"{path}: expected a '{fmt}' model file, found format {found!r}")
    try:
        version = int(meta.get("format_version", ""))
    except ValueError:
        raise CheckpointError(f"{path}: missing or malformed format_version {meta.get('format_version')!r}") from None
    if version not in supported_versions:
        raise CheckpointError(
            f"{path}: format_version {version} is not supported by this LMD Studio "
            f"(reads {', '.join(map(str, supported_versions))}); update the app or re-export the model")
    try:
        config = json.loads(meta.get("config", "{}"))
    except json.JSONDecodeError as exc:
        raise CheckpointError(f"{path}: config metadata is not valid JSON ({exc})") from None
    try:
        tensors = load_file(str(path), device=str(device))
    except (SafetensorError, OSError, RuntimeError) as exc:
        raise CheckpointError(f"{path}: file is corrupt or truncated ({exc})") from None
    return tensors, config, meta
