"""Which models and LoRA adapters the user can pick: the repo's `models/`, the user's models folder, and
adapters next to a model or in the user's adapters folder. A model folder is one with dit.safetensors."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from lmd_studio.app.values import ModelChoice

MODEL_MARKER = "dit.safetensors"
FAKE_LABEL = "Test tones (no model)"


def discover_models(folders: Iterable[Path]) -> list[ModelChoice]:
    """The default entry first, then every model folder found (sorted by name), then the test tones."""
    choices = [ModelChoice("Default model", "", "models/default, or test tones until it is trained")]
    seen: set[Path] = set()
    for folder in folders:
        folder = Path(folder)
        if not folder.is_dir():
            continue
        for sub in sorted(p for p in folder.iterdir() if p.is_dir()):
            if (sub / MODEL_MARKER).is_file() and sub.resolve() not in seen:
                seen.add(sub.resolve())
                choices.append(ModelChoice(sub.name, str(sub), str(sub)))
    choices.append(ModelChoice(FAKE_LABEL, "fake", "a deterministic tone generator for trying the app"))
    return choices


def discover_adapters(folders: Iterable[Path]) -> list[Path]:
    """LoRA adapter files (*.safetensors) in the given folders, sorted by name."""
    found: dict[Path, Path] = {}
    for folder in folders:
        folder = Path(folder)
        if folder.is_dir():
            for f in folder.glob("*.safetensors"):
                found.setdefault(f.resolve(), f)
    return sorted(found.values(), key=lambda p: p.name.lower())


def model_label(spec: str, generator_name: str) -> str:
    if spec == "fake":
        return FAKE_LABEL
    return Path(spec).name if spec else f"Default model ({generator_name})"
