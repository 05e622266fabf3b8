"""Train / validation / test splits by *source* (piece, sample, drum kit), never by clip.

Every clip lists the source groups it is made of; all groups are assigned to a split before any job is
planned, and a clip is only ever built from groups of one split (a layered mix takes its piece and its kit
from the same split). So no piece, sample or kit is heard in two splits.

Assignment is a seeded hash order within each stratum (music21 folder, sample pool, kit kind): the first
`test_fraction` of a stratum goes to test, the next `val_fraction` to val, the rest to train; strata with at
least 3 groups get at least one of each. It does not depend on the build size, so a tiny, small and full
build agree on where a source belongs.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

SPLITS = ("train", "val", "test")


@dataclass(frozen=True, slots=True)
class SplitConfig:
    seed: int = 0
    val_fraction: float = 0.05
    test_fraction: float = 0.05

    def __post_init__(self) -> None:
        if not (0 <= self.val_fraction < 0.5 and 0 <= self.test_fraction < 0.5):
            raise ValueError("val_fraction and test_fraction must be in [0, 0.5)")


def stable_hash(*parts: object) -> int:
    """63-bit hash that is the same on every machine and Python run (unlike hash())."""
    digest = hashlib.sha256("\x1f".join(map(str, parts)).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") >> 1


def assign_stratum(groups: Iterable[str], cfg: SplitConfig) -> dict[str, str]:
    ordered = sorted(set(groups), key=lambda g: (stable_hash(cfg.seed, "split", g), g))
    n = len(ordered)
    minimum = 1 if n >= 3 else 0
    n_test = max(minimum, round(n * cfg.test_fraction))
    n_val = max(minimum, round(n * cfg.val_fraction))
    out = {}
    for i, g in enumerate(ordered):
        out[g] = "test" if i < n_test else ("val" if i < n_test + n_val else "train")
    return out


def assign_splits(strata: dict[str, list[str]], cfg: SplitConfig) -> dict[str, str]:
    """{stratum name: [group ids]} → {group id: split}."""
    out: dict[str, str] = {}
    for name in sorted(strata):
        for g, s in assign_stratum(strata[name], cfg).items():
            if g in out and out[g] != s:
                raise ValueError(f"group {g} appears in two strata with different splits")
            out[g] = s
    return out


def check_no_leakage(items: Iterable[tuple[str, str, Iterable[str]]]) -> list[str]:
    """Given (item id, split, groups) triples, return one message per group heard in more than one split."""
    seen: dict[str, tuple[str, str]] = {}
    problems = []
    for item_id, split, groups in items:
        for g in groups:
            if g in seen and seen[g][0] != split:
                problems.append(f"group {g} is in {seen[g][0]} ({seen[g][1]}) and {split} ({item_id})")
            seen.setdefault(g, (split, item_id))
    return problems
