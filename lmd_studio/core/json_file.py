"""Reading a JSON file a user or a model folder provides: one clear error that names the file.

`UserFileError` is a ValueError, so callers that already catch ValueError for bad input keep working.
(settings/jsonfile.py, which also writes user files atomically, re-exports both names.)
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


class UserFileError(ValueError):
    """A user file cannot be used; the message names the file and the reason."""


def read_json_object(path: Path) -> dict[str, Any]:
    """The JSON object in `path`; UserFileError (naming the file) when it is unreadable or not an object."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UserFileError(f"{path}: cannot be read ({exc})") from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UserFileError(f"{path}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") from exc
    if not isinstance(data, dict):
        raise UserFileError(f"{path}: expected a JSON object at the top level, found {type(data).__name__}")
    return data
