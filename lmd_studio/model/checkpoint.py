"""Release-model I/O: safetensors files whose metadata carries the JSON config and a format version.

Every model file we ship or load goes through here, so the checks live in one place:
- only safetensors (never pickle);
- metadata `format` must name what the caller expects (e.g. "lmd-codec", "lmd-dit", "lmd-lora");
- `format_version` must be one this code can read;
- truncated, corrupt or foreign files raise `CheckpointError` naming the file and the reason.

Weights may be stored as float32 or float16: the loaders copy them into float32 modules, so a float16 file
computes in float32 with its weights rounded to float16 precision. `write_float16_copy` writes such a file
(the app bundle ships the default model that way, at half the size).
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

# the header checks are torch-free, so the app can describe a model folder without torch; re-exported here
from lmd_studio.core.model_files import CheckpointError, read_metadata

__all__ = ["CheckpointError", "float16_hint", "load_checkpoint", "read_metadata", "save_checkpoint",
           "write_float16_copy"]


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


def float16_hint(tensor: torch.Tensor) -> str:
    """What to add to a NaN/inf error for a tensor stored as float16 (else nothing)."""
    return " (it is stored as float16: a value beyond 65504 becomes inf)" if tensor.dtype == torch.float16 else ""


def write_float16_copy(src: str | Path, dst: str | Path) -> Path:
    """Copy a model file with its float32 tensors stored as float16 (half the size), metadata unchanged.

    The loaders read either (they copy into float32 modules). A tensor that is not finite, or whose values
    lie beyond float16's range (they would become inf), raises CheckpointError naming the file and tensor.
    """
    src, dst = Path(src), Path(dst)
    if dst.resolve() == src.resolve():
        raise ValueError(f"{dst}: the float16 copy must go to another file than its source")
    meta = read_metadata(src)
    try:
        tensors = load_file(str(src))
    except (SafetensorError, OSError, RuntimeError) as exc:
        raise CheckpointError(f"{src}: file is corrupt or truncated ({exc})") from None
    half: dict[str, torch.Tensor] = {}
    for name, tensor in tensors.items():
        if tensor.is_floating_point() and not torch.isfinite(tensor).all():
            raise CheckpointError(f"{src}: tensor {name} contains NaN or inf")
        if tensor.dtype == torch.float32:
            rounded = tensor.half()
            if not torch.isfinite(rounded).all():
                raise CheckpointError(f"{src}: tensor {name} does not fit float16 (largest magnitude "
                                      f"{tensor.abs().max().item():.6g}, float16 stops at 65504)")
            tensor = rounded
        half[name] = tensor.contiguous()
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_suffix(dst.suffix + ".tmp")
    save_file(half, str(tmp), metadata=meta)
    os.chmod(tmp, _new_file_mode(dst.parent))
    tmp.replace(dst)
    return dst
