"""Which models and LoRA adapters the user can pick: the repo's `models/`, the user's models folder, and
adapters next to a model or in the user's adapters folder. A model folder is one with dit.safetensors.

Each model comes with the text the model list shows when the pointer rests on it (model_card.py): what it
is in one line, its size, whether it is jam-trained and tempo-aware, and where it lives."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from lmd_studio.app.model_card import read_model_card
from lmd_studio.app.values import ModelChoice

MODEL_MARKER = "dit.safetensors"
FAKE_LABEL = "Test tones (no model)"


FAKE_DETAIL = "A deterministic tone generator for trying the app: no model, nothing to load"


def describe_model(folder: Path) -> str:
    """Three lines: the card's one-line description, the facts (size, jam-trained, tempo-aware), the folder."""
    card = read_model_card(folder)
    return "\n".join((card.description or "No description (the folder has no model card)", card.facts(),
                      str(folder)))


def default_detail(default_dir: Path | None) -> str:
    if default_dir is None:
        return "The model that ships with LMD Studio"
    if not (default_dir / MODEL_MARKER).is_file():
        return f"Not installed ({default_dir / MODEL_MARKER} is missing): test tones play instead"
    return describe_model(default_dir)


def discover_models(folders: Iterable[Path], default_dir: Path | None = None) -> list[ModelChoice]:
    """The default entry first (described from `default_dir`), then every model folder found (sorted by
    name), then the test tones."""
    choices = [ModelChoice("Default model", "", default_detail(default_dir))]
    # the default's own folder is already the first entry: listing it again by name only confused people
    seen: set[Path] = {default_dir.resolve()} if default_dir is not None else set()
    for folder in folders:
        folder = Path(folder)
        if not folder.is_dir():
            continue
        for sub in sorted(p for p in folder.iterdir() if p.is_dir()):
            if (sub / MODEL_MARKER).is_file() and sub.resolve() not in seen:
                seen.add(sub.resolve())
                choices.append(ModelChoice(sub.name, str(sub), describe_model(sub)))
    choices.append(ModelChoice(FAKE_LABEL, "fake", FAKE_DETAIL))
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
    if spec:
        return Path(spec).name
    return "Default model" if generator_name in ("", "default") else f"Default model ({generator_name})"
