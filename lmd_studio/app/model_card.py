"""What a model folder says about itself, for the model list and the About box: a one-line description, its
size, whether it was jam-trained and whether it hears tempo, and the licences of its training data.

Read from the files `lmd model export` writes: `dit.safetensors`'s header (its DiT config, tensor shapes),
`training.json` (the stages as run) and `MODEL_CARD.md`. Only headers and text are read, never weights, so
describing a folder costs milliseconds and no torch. A field the folder does not say is None / "" (shown
as "unknown"); a damaged or foreign folder gives an all-unknown card, never an exception.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lmd_studio.core.model_files import CheckpointError, parameter_count, read_header

DIT_FILE = "dit.safetensors"
CARD_FILES = ("MODEL_CARD.md", "README.md")  # ours, then a Hugging Face folder's (the text encoder)
TRAINING_FILE = "training.json"
DIT_SECTION = "## Diffusion model"  # the heading of the section `lmd model export` writes
DESCRIPTION_MAX_CHARS = 160
UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class ModelCardInfo:
    folder: Path
    description: str = ""  # one line; "" = the folder does not say
    size_bytes: int | None = None  # the model's weight files (*.safetensors at the top of the folder)
    parameters: int | None = None  # the DiT's
    jam_trained: bool | None = None  # trained to play along with a partner's audio
    delay_trained: bool | None = None  # trained for generative delay (plays your input back re-voiced)
    tempo_aware: bool | None = None  # hears tempo, beat and bar (the musical clock)
    data_licences: tuple[str, ...] = ()  # of its training data, as the card lists them
    card_file: Path | None = None

    def facts(self) -> str:
        """"57.5 MB · 7.05 M parameters · jam-trained: no · tempo-aware: no", unknowns said as such, and
        "generative delay: yes" for a model trained for it (the others never were: nothing to say)."""
        size = f"{self.size_bytes / 1e6:.1f} MB" if self.size_bytes is not None else f"size {UNKNOWN}"
        parts = [size]
        if self.parameters:
            parts.append(f"{self.parameters / 1e6:.2f} M parameters")
        parts += [f"jam-trained: {yes_no(self.jam_trained)}", f"tempo-aware: {yes_no(self.tempo_aware)}"]
        if self.delay_trained:
            parts.append("generative delay: yes")
        return " · ".join(parts)

    def licences_text(self) -> str:
        return ", ".join(self.data_licences) if self.data_licences else f"{UNKNOWN} (see the model card)"


def yes_no(flag: bool | None) -> str:
    return UNKNOWN if flag is None else ("yes" if flag else "no")


def read_model_card(folder: Path) -> ModelCardInfo:
    """Everything the folder says about its model; what it does not say stays unknown."""
    folder = Path(folder)
    dit_config, parameters = _dit_header(folder / DIT_FILE)
    stages = _training_stages(folder / TRAINING_FILE)
    card_file = next((folder / name for name in CARD_FILES if (folder / name).is_file()), None)
    card = _read_text(card_file) if card_file is not None else ""
    return ModelCardInfo(
        folder=folder, description=card_description(card), size_bytes=_weights_size(folder),
        parameters=parameters, jam_trained=_jam_trained(dit_config, stages),
        delay_trained=_trained_for(dit_config, stages, "delay_trained", "p_delay"),
        tempo_aware=None if dit_config is None else int(dit_config.get("clock_channels", 0) or 0) > 0,
        data_licences=card_licences(card), card_file=card_file if card else None)


# --- the card's text ---------------------------------------------------------------------------------------
def card_description(text: str) -> str:
    """The first sentence of the DiT section's first paragraph (what the model is), else of the card's
    first paragraph; markdown emphasis and code marks removed, cut at DESCRIPTION_MAX_CHARS."""
    if not text:
        return ""
    body = _strip_front_matter(text)
    start = body.find(DIT_SECTION)
    paragraph = _first_paragraph(body[start:] if start >= 0 else body)
    if not paragraph:
        return ""
    plain = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", " ".join(paragraph.split()))  # [text](link) → text
    plain = re.sub(r"[`*_]", "", plain)
    match = re.match(r"(.+?[.!?])(\s|$)", plain)
    sentence = match.group(1) if match else plain
    if len(sentence) > DESCRIPTION_MAX_CHARS:
        sentence = sentence[: DESCRIPTION_MAX_CHARS - 1].rstrip() + "…"
    return sentence


def card_licences(text: str) -> tuple[str, ...]:
    """Licence names from the card: the export's "hours by licence: MIT 15.2, CC0-1.0 1.49, …" line, or a
    Hugging Face card's `license:` front matter."""
    for line in text.splitlines():
        body = line.strip().lstrip("-* ").strip()
        if body.lower().startswith("hours by licence:"):
            names = [re.sub(r"\s+[\d.]+\s*(h)?$", "", item.strip()) for item in body.split(":", 1)[1].split(",")]
            return tuple(sorted({n for n in names if n}))
    front = _front_matter(text)
    match = re.search(r"^licen[cs]e:\s*(\S.*)$", front, re.MULTILINE)
    return (match.group(1).strip().strip("'\""),) if match else ()


def _first_paragraph(text: str) -> str:
    lines: list[str] = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith(("#", "<!--", "|", "-", "*", "```")) and not lines:
            continue  # headings, comments, tables and lists before the paragraph
        if not stripped:
            if lines:
                break
            continue
        lines.append(stripped)
    return " ".join(lines)


def _front_matter(text: str) -> str:
    if text.startswith("---"):
        end = text.find("\n---", 3)
        if end > 0:
            return text[3:end]
    return ""


def _strip_front_matter(text: str) -> str:
    front = _front_matter(text)
    return text[len(front) + 7:] if front else text


# --- the files -----------------------------------------------------------------------------------------------
def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def _dit_header(path: Path) -> tuple[dict[str, Any] | None, int | None]:
    """(the DiT config, its parameter count); (None, None) for a missing or unreadable file."""
    try:
        header = read_header(path)
    except (CheckpointError, OSError):
        return None, None
    try:
        config = json.loads(str((header.get("__metadata__") or {}).get("config", "{}")))
    except json.JSONDecodeError:
        config = None
    dit = config.get("dit") if isinstance(config, dict) else None
    return (dit if isinstance(dit, dict) else None), (parameter_count(header) or None)


def _training_stages(path: Path) -> list[dict[str, Any]] | None:
    try:
        stages = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(stages, list):
        return None
    return [s for s in stages if isinstance(s, dict)]


def _jam_trained(dit_config: dict[str, Any] | None, stages: list[dict[str, Any]] | None) -> bool | None:
    return _trained_for(dit_config, stages, "jam_trained", "p_partner")


def _trained_for(dit_config: dict[str, Any] | None, stages: list[dict[str, Any]] | None, flag: str, share: str
                 ) -> bool | None:
    """Jam (`jam_trained`, `p_partner`) or generative delay (`delay_trained`, `p_delay`): no accompaniment
    input → no. Else the training record: a stage's flag (or its config's share of such windows) says; a
    record of stage configs that predates that training (neither key anywhere) means no; no record means
    unknown."""
    if dit_config is not None and int(dit_config.get("accomp_channels", 1) or 0) == 0:
        return False
    if not stages:
        return None
    said = [bool(s[flag]) for s in stages if flag in s]
    shares = [float(c[share]) for s in stages if isinstance(c := s.get("config"), dict) and share in c]
    if said or shares:
        return any(said) or any(p > 0 for p in shares)
    return False if any(isinstance(s.get("config"), dict) for s in stages) else None


def _weights_size(folder: Path) -> int | None:
    try:
        sizes = [f.stat().st_size for f in folder.glob("*.safetensors") if f.is_file()]
    except OSError:
        return None
    return sum(sizes) if sizes else None
