"""Loading and saving settings.json: migrate old files, never crash on a broken one.

`SettingsStore.load()` always returns usable settings plus, when something was wrong, a message for the
user: an unreadable, invalid or too-new file is moved aside to `settings.json.broken-<time>` and
defaults are written in its place. An old file is migrated and saved in the new layout (the original is
kept as `settings.json.v<N>.bak` so a downgrade can still find it).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from lmd_studio.settings.jsonfile import UserFileError, backup_broken, read_json_object, write_json_atomic
from lmd_studio.settings.migrations import migrate
from lmd_studio.settings.schema import StudioSettings, settings_from_dict, settings_to_dict


@dataclass(frozen=True, slots=True)
class SettingsLoad:
    settings: StudioSettings
    first_run: bool = False  # no settings file existed
    message: str = ""  # for the user: what went wrong and what was done about it
    backup_path: Path | None = None
    migrated_from: int | None = None  # schema version the file had, when it was migrated


class SettingsStore:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def load(self) -> SettingsLoad:
        if not self.path.exists():
            return SettingsLoad(StudioSettings(), first_run=True)
        try:
            data = read_json_object(self.path)
            try:
                migrated, found = migrate(data)
            except ValueError as exc:
                raise UserFileError(f"{self.path}: {exc}") from exc
            settings = settings_from_dict(migrated, self.path)
        except UserFileError as exc:
            return self._replace_broken(str(exc))
        if found != settings.schema_version:
            keep = self.path.with_name(f"{self.path.name}.v{found}.bak")
            shutil.copy2(self.path, keep)
            self._save_quietly(settings)
            return SettingsLoad(settings, migrated_from=found, backup_path=keep,
                                message=f"Settings were updated from an older version ({found}); the old "
                                        f"file is kept as {keep.name}.")
        return SettingsLoad(settings)

    def save(self, settings: StudioSettings) -> None:
        """Write atomically; OSError (disk full, read-only) propagates for the caller to report."""
        write_json_atomic(self.path, settings_to_dict(settings))

    def _replace_broken(self, reason: str) -> SettingsLoad:
        defaults = StudioSettings()
        try:
            backup = backup_broken(self.path)
        except OSError as exc:
            return SettingsLoad(defaults, message=f"{reason}. Using defaults for this session; the file could "
                                                  f"not be moved aside ({exc.strerror or exc}).")
        saved = self._save_quietly(defaults)
        note = "" if saved else " (the new file could not be written; changes will not be kept)"
        return SettingsLoad(defaults, backup_path=backup,
                            message=f"Your settings could not be used: {reason}. They were saved as "
                                    f"{backup.name} and the defaults are in use{note}.")

    def _save_quietly(self, settings: StudioSettings) -> bool:
        try:
            self.save(settings)
        except OSError:
            return False
        return True
