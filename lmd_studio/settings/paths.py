"""Where LMD Studio keeps the user's files (platformdirs), or everything under one folder.

`LMD_STUDIO_HOME=/some/dir` (or `StudioPaths.under(dir)`) puts settings, data and recordings under one
folder: tests, screenshots and portable installs use it so they never touch the real user folders.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

APP_NAME = "lmd-studio"
HOME_ENV = "LMD_STUDIO_HOME"


@dataclass(frozen=True, slots=True)
class StudioPaths:
    config_dir: Path  # settings.json
    data_dir: Path  # scenes, prompt history, MIDI maps, adapters, user models, logs
    recordings_dir: Path  # default folder for takes and captures (the settings may point elsewhere)

    def __post_init__(self) -> None:
        for name in ("config_dir", "data_dir", "recordings_dir"):
            value = getattr(self, name)
            if not isinstance(value, Path):
                object.__setattr__(self, name, Path(value))
            if not str(getattr(self, name)).strip():
                raise ValueError(f"StudioPaths.{name} must not be empty")

    @classmethod
    def default(cls) -> StudioPaths:
        """platformdirs locations, unless LMD_STUDIO_HOME points everything at one folder."""
        home = os.environ.get(HOME_ENV, "").strip()
        if home:
            return cls.under(Path(home))
        import platformdirs

        return cls(config_dir=Path(platformdirs.user_config_dir(APP_NAME, appauthor=False)),
                   data_dir=Path(platformdirs.user_data_dir(APP_NAME, appauthor=False)),
                   recordings_dir=Path(platformdirs.user_music_dir()) / "LMD Studio")

    @classmethod
    def under(cls, root: Path | str) -> StudioPaths:
        root = Path(root)
        return cls(config_dir=root / "config", data_dir=root / "data", recordings_dir=root / "recordings")

    @property
    def settings_file(self) -> Path:
        return self.config_dir / "settings.json"

    @property
    def scenes_file(self) -> Path:
        return self.data_dir / "scenes.json"

    @property
    def prompt_history_file(self) -> Path:
        return self.data_dir / "prompt_history.json"

    @property
    def midi_maps_dir(self) -> Path:
        return self.data_dir / "midi_maps"

    @property
    def adapters_dir(self) -> Path:
        return self.data_dir / "adapters"

    @property
    def models_dir(self) -> Path:
        return self.data_dir / "models"

    @property
    def logs_dir(self) -> Path:
        return self.data_dir / "logs"

    def ensure(self) -> None:
        """Create the folders the app writes to (recordings are created when the first take starts)."""
        for folder in (self.config_dir, self.data_dir, self.midi_maps_dir, self.adapters_dir, self.logs_dir):
            folder.mkdir(parents=True, exist_ok=True)
