"""How a benchmark prints: an aligned two-column table, then the JSON on one line (or the JSON alone)."""

from __future__ import annotations

import json
from typing import Any


def print_report(rows: list[tuple[str, str]], result: dict[str, Any], json_only: bool) -> None:
    if json_only:
        print(json.dumps(result, indent=2))
        return
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
    print(json.dumps(result))
