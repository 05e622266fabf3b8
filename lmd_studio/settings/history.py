"""Prompt history: the prompts a user typed, most recent first, kept across sessions (JSON list)."""

from __future__ import annotations

from pathlib import Path

from lmd_studio.settings.jsonfile import UserFileError, backup_broken, read_json_object, write_json_atomic

HISTORY_FORMAT = "lmd-prompt-history"


class PromptHistory:
    def __init__(self, path: Path | None, max_items: int = 100) -> None:
        if max_items < 1:
            raise ValueError(f"PromptHistory.max_items must be >= 1, got {max_items}")
        self.path = Path(path) if path is not None else None
        self.max_items = max_items
        self._items: list[str] = []
        self.message = ""  # set when the file was broken and moved aside

    @property
    def items(self) -> tuple[str, ...]:
        return tuple(self._items)

    def load(self) -> PromptHistory:
        if self.path is None or not self.path.exists():
            return self
        try:
            data = read_json_object(self.path)
            items = data.get("prompts")
            if data.get("format") != HISTORY_FORMAT or not isinstance(items, list):
                raise UserFileError(f"{self.path}: not an LMD prompt history file")
            self._items = [s for s in items if isinstance(s, str) and s.strip()][: self.max_items]
        except UserFileError as exc:
            try:
                backup = backup_broken(self.path)
                self.message = f"Prompt history could not be read ({exc}); saved as {backup.name}."
            except OSError:
                self.message = f"Prompt history could not be read ({exc})."
        return self

    def add(self, text: str) -> bool:
        """Put `text` first (moving it if present); True when the history changed."""
        text = " ".join(text.split())
        if not text:
            return False
        if self._items and self._items[0].lower() == text.lower():
            return False
        self._items = [text] + [s for s in self._items if s.lower() != text.lower()]
        del self._items[self.max_items:]
        return True

    def save(self) -> None:
        if self.path is not None:
            write_json_atomic(self.path, {"format": HISTORY_FORMAT, "prompts": self._items})
