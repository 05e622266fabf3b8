"""What the composition root hands the Session: stores, paths, the clock and the factories for engine parts."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from lmd_studio.app.engine_parts import EngineParts
from lmd_studio.core.generator import BlockGenerator
from lmd_studio.rt.mailbox import ParamMailbox
from lmd_studio.settings.paths import StudioPaths
from lmd_studio.settings.schema import AudioSettings
from lmd_studio.settings.store import SettingsStore


@dataclass(frozen=True, slots=True)
class SessionDeps:
    paths: StudioPaths
    settings_store: SettingsStore
    make_generator: Callable[[str, int], BlockGenerator]  # (model spec, torch threads)
    make_parts: Callable[[BlockGenerator, ParamMailbox, AudioSettings], EngineParts]
    model_folders: tuple[Path, ...] = ()
    default_model_dir: Path | None = None  # the folder "Default model" loads (None: the test tones)
    retro_s: float = 300.0
    clock: Callable[[], float] = time.perf_counter
