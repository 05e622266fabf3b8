"""Resume equality, bit for bit: a run stopped halfway and resumed ends in the same training state as one that
never stopped. A real training run may be stopped and resumed with newer code, so the checkpoint's format
(its keys) is pinned here too."""

from __future__ import annotations

from pathlib import Path

import torch

from lmd_studio.training.loop import load_training_checkpoint

CHECKPOINT_KEYS = {"model", "optimizer", "step", "best", "bad_evals", "rng", "extra"}


def assert_identical(a: object, b: object, where: str) -> None:
    """Nested dicts/lists of tensors and numbers: the same keys, shapes, dtypes and bits."""
    if isinstance(a, dict):
        assert isinstance(b, dict) and a.keys() == b.keys(), f"{where}: keys {set(a) ^ set(b)}"
        for key in a:
            assert_identical(a[key], b[key], f"{where}.{key}")
    elif isinstance(a, list | tuple):
        assert isinstance(b, list | tuple) and len(a) == len(b), f"{where}: lengths differ"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_identical(x, y, f"{where}[{i}]")
    elif isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor) and a.dtype == b.dtype and a.shape == b.shape, f"{where}: tensor kind"
        assert torch.equal(a, b), f"{where}: values differ (max {float((a.double() - b.double()).abs().max())})"
    else:
        assert a == b or (a != a and b != b), f"{where}: {a!r} != {b!r}"  # NaN (no best yet) equals NaN


def assert_same_training_state(straight: Path, resumed: Path, steps: int, same_evals: bool = True) -> None:
    """`last.pt` of both run folders: the pinned format, `steps` done, then parameters, optimizer state (moments,
    step counts, learning rates) and the RNG state identical bit for bit; also the early-stopping state (best
    value, evaluations without improvement) when both runs evaluated at the same steps (`same_evals`: a run
    stopped early also evaluates at its last step)."""
    a = load_training_checkpoint(Path(straight) / "last.pt")
    b = load_training_checkpoint(Path(resumed) / "last.pt")
    assert set(a) == set(b) == CHECKPOINT_KEYS
    assert a["step"] == b["step"] == steps
    assert set(a["rng"]) == {"torch"}
    for key in ("model", "optimizer", "rng", *(("best", "bad_evals") if same_evals else ())):
        assert_identical(a[key], b[key], key)
