"""A run folder's training state as a portable safetensors pack, so training outlives the machine.

Why: a session's machine can be replaced between sessions (it was, between sessions 10 and 11: every run
folder beside the repository was gone, eight CPU-hours of Model v2 with them). What survives is what is
committed. `last.pt` is a private torch file (pickle framing) and twice the size it needs to be, so it is
not what we commit; a pack is two safetensors files (the optimizer's tensors in the second,
`optimizer_file`, so neither passes a git host's 100-MB limit):

- the training checkpoint's tensors, flattened to `"<path>/<to>/<leaf>"` keys (the model's weights at their
  own dtype, exactly; the optimizer's moments as bfloat16 by default — they are running averages, and
  rounding them to 8 bits of mantissa moves a resumed run less than one step of noise does; `exact=True`
  keeps them as they are);
- the non-tensor leaves (step, best, optimizer hyper-parameters…) as a JSON skeleton in the metadata;
- the run's small text files (`config.json`, `metrics.csv`, `summary.json`) so the resumed run's curves and
  config stay whole.

`unpack_run` writes `last.pt` (plus those files) back into a run folder; `lmd train <stage> --out FOLDER`
then resumes from it as from any checkpoint. `best.pt` is not packed (it would double the size): the
unpacked run forgets its best score, so the first evaluation after the resume becomes the new best.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import torch

from lmd_studio.model.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from lmd_studio.training.loop import load_training_checkpoint

PACK_FORMAT = "lmd-run-pack"
PACK_PART_FORMAT = "lmd-run-pack-optimizer"
PACK_VERSION = 1
TEXT_FILES = ("config.json", "metrics.csv", "summary.json")
# summary.json stays in the pack as a record but is not written back: it describes an export (model.safetensors)
# the pack does not hold, and the resumed stage writes it again when it finishes (at once if it had)
RESTORED_FILES = ("config.json", "metrics.csv")
_TENSOR = "__tensor__"  # a skeleton leaf that names a tensor key
_FLOAT = "__float__"  # a skeleton leaf for a non-finite float (JSON has no NaN)


def _flatten(node: Any, path: str, tensors: dict[str, torch.Tensor], moments_dtype: torch.dtype | None) -> Any:
    """The JSON skeleton of `node`; its tensors go to `tensors` under their path."""
    if isinstance(node, torch.Tensor):
        tensor = node.detach().cpu()
        if moments_dtype is not None and path.startswith("optimizer/state/") and tensor.is_floating_point() \
                and tensor.dim() > 0:
            tensor = tensor.to(moments_dtype)
        tensors[path] = tensor.contiguous()
        return {_TENSOR: path, "dtype": str(node.dtype).removeprefix("torch.")}
    if isinstance(node, dict):
        if not all(isinstance(k, (str, int)) for k in node):
            raise TypeError(f"{path or 'checkpoint'}: only str or int keys can be packed")
        # int keys (the optimizer's per-parameter state) are kept apart from str keys so they come back as ints
        return {"__dict__": [[k, isinstance(k, int), _flatten(v, f"{path}/{k}".lstrip("/"), tensors, moments_dtype)]
                             for k, v in node.items()]}
    if isinstance(node, (list, tuple)):
        return {"__list__": [_flatten(v, f"{path}/{i}".lstrip("/"), tensors, moments_dtype) for i, v in enumerate(node)],
                "tuple": isinstance(node, tuple)}
    if isinstance(node, float) and not math.isfinite(node):
        return {_FLOAT: repr(node)}
    if node is None or isinstance(node, (bool, int, float, str)):
        return node
    raise TypeError(f"{path}: cannot pack a {type(node).__name__}")


def _unflatten(node: Any, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(node, dict):
        if _TENSOR in node:
            return tensors[node[_TENSOR]].to(getattr(torch, node["dtype"]))
        if _FLOAT in node:
            return float(node[_FLOAT])
        if "__dict__" in node:
            return {(int(k) if is_int else k): _unflatten(v, tensors) for k, is_int, v in node["__dict__"]}
        if "__list__" in node:
            items = [_unflatten(v, tensors) for v in node["__list__"]]
            return tuple(items) if node.get("tuple") else items
    return node


def optimizer_file(pack_file: str | Path) -> Path:
    """The companion file that holds a pack's optimizer state (`v2-base.safetensors` →
    `v2-base.optimizer.safetensors`): two files of about half the size each, so neither passes the 100-MB
    limit a git host puts on one file (a 15-M-parameter run is 118 MB in all)."""
    pack_file = Path(pack_file)
    return pack_file.with_name(f"{pack_file.stem}.optimizer{pack_file.suffix}")


def pack_run(run_dir: str | Path, out_file: str | Path, exact: bool = False) -> Path:
    """Write `run_dir`'s last.pt (and its small text files) as a pack: `out_file` (the weights and the rest)
    and its optimizer_file (the optimizer's tensors)."""
    run_dir = Path(run_dir)
    last = run_dir / "last.pt"
    if not last.is_file():
        raise CheckpointError(f"{run_dir}: no last.pt to pack (is this a training run folder?)")
    checkpoint = load_training_checkpoint(last)
    tensors: dict[str, torch.Tensor] = {}
    skeleton = _flatten(checkpoint, "", tensors, None if exact else torch.bfloat16)
    files = {name: (run_dir / name).read_text(encoding="utf-8") for name in TEXT_FILES if (run_dir / name).is_file()}
    companion = optimizer_file(out_file)
    optimizer = {k: v for k, v in tensors.items() if k.startswith("optimizer/")}
    rest = {k: v for k, v in tensors.items() if not k.startswith("optimizer/")}
    step = str(checkpoint.get("step", "?"))
    save_checkpoint(companion, optimizer, fmt=PACK_PART_FORMAT, format_version=PACK_VERSION,
                    config={"pack": Path(out_file).name}, extra={"step": step})
    config = {"skeleton": skeleton, "files": files, "exact": exact, "source_run": str(run_dir),
              "optimizer_file": companion.name, "optimizer_tensors": len(optimizer)}
    return save_checkpoint(out_file, rest, fmt=PACK_FORMAT, format_version=PACK_VERSION, config=config,
                           extra={"step": step})


def read_pack(pack_file: str | Path) -> tuple[dict[str, Any], dict[str, str]]:
    """(the training checkpoint as `load_training_checkpoint` would return it, the packed text files)."""
    tensors, config, meta = load_checkpoint(pack_file, fmt=PACK_FORMAT, supported_versions=(PACK_VERSION,))
    companion = optimizer_file(pack_file)
    if config.get("optimizer_tensors"):
        if not companion.is_file():
            raise CheckpointError(f"{pack_file}: its optimizer state {companion.name} is missing beside it "
                                  f"(a pack is two files; copy both)")
        extra, part_config, part_meta = load_checkpoint(companion, fmt=PACK_PART_FORMAT,
                                                        supported_versions=(PACK_VERSION,))
        if part_config.get("pack") != Path(pack_file).name or part_meta.get("step") != meta.get("step"):
            raise CheckpointError(f"{companion}: belongs to another pack ({part_config.get('pack')}, step "
                                  f"{part_meta.get('step')}), not {Path(pack_file).name} at step {meta.get('step')}")
        tensors = {**tensors, **extra}
    try:
        checkpoint = _unflatten(config["skeleton"], tensors)
        files = dict(config.get("files", {}))
    except (KeyError, TypeError, AttributeError) as exc:
        raise CheckpointError(f"{pack_file}: the pack's skeleton does not match its tensors ({exc})") from None
    if not isinstance(checkpoint, dict) or "model" not in checkpoint or "step" not in checkpoint:
        raise CheckpointError(f"{pack_file}: not a training checkpoint (no model or step)")
    return checkpoint, files


def unpack_run(pack_file: str | Path, run_dir: str | Path, force: bool = False) -> dict[str, Any]:
    """Recreate a run folder from a pack: last.pt and the text files. Refuses to overwrite a run folder that
    already has a checkpoint unless `force` (it would throw that run's progress away)."""
    run_dir = Path(run_dir)
    last = run_dir / "last.pt"
    if last.exists() and not force:
        raise FileExistsError(f"{run_dir}: already holds a checkpoint (last.pt); pass --force to replace it")
    checkpoint, files = read_pack(pack_file)
    checkpoint["best"] = math.nan  # best.pt is not packed: the first evaluation after the resume sets it
    checkpoint["bad_evals"] = 0
    run_dir.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        if name in RESTORED_FILES:
            (run_dir / name).write_text(text, encoding="utf-8")
    (run_dir / "best.pt").unlink(missing_ok=True)
    tmp = last.with_suffix(".pt.tmp")
    torch.save(checkpoint, tmp)
    tmp.replace(last)
    return {"step": int(checkpoint["step"]), "run": str(run_dir), "files": sorted(set(files) & set(RESTORED_FILES))}


def describe(pack_file: str | Path) -> str:
    """One line: what the pack holds (for `lmd train unpack --dry-run` and the notes)."""
    checkpoint, files = read_pack(pack_file)
    size_mb = sum(p.stat().st_size for p in (Path(pack_file), optimizer_file(pack_file)) if p.is_file()) / 1e6
    wall = checkpoint.get("extra", {}).get("wall_s")
    wall_text = f", {wall / 3600:.2f} h trained" if isinstance(wall, (int, float)) else ""
    return f"{pack_file}: step {checkpoint['step']}{wall_text}, {size_mb:.1f} MB, files {', '.join(sorted(files))}"
