"""The generator states kept for splices and for rewinding: by where each block starts in the stream.

Every block's starting state is kept (states are immutable), keyed by the ring position the block starts
at, so a splice can regenerate a queued block and the player can go back to any kept moment of the past —
also on a branch left by an earlier rewind (its blocks start at other positions than the branch that
replaced it). The store is bounded by memory, not by a block count: a real model's state is 0.9 MB (the
shipped model) to ~3 MB (Model v2), and states share most of it, so the store counts shared storage once
(core/state_size.py) and drops the oldest blocks beyond `budget_bytes` — never the newest `min_blocks`,
which queued blocks may need for a splice.
"""

from __future__ import annotations

from collections import Counter, OrderedDict
from dataclasses import dataclass
from typing import Any

from lmd_studio.core.state_size import StorageKey, storages


@dataclass(frozen=True, slots=True)
class KeptBlock:
    block_index: int
    start: int  # ring position of the block's first frame
    end: int  # ring position just past it
    state: Any  # the generator state the block was generated from


class StateHistory:
    def __init__(self, budget_bytes: int, min_blocks: int = 8) -> None:
        if budget_bytes <= 0 or min_blocks < 1:
            raise ValueError(f"need budget_bytes > 0 and min_blocks >= 1, got {budget_bytes}, {min_blocks}")
        self.budget_bytes = int(budget_bytes)
        self.min_blocks = int(min_blocks)
        self._blocks: OrderedDict[int, KeptBlock] = OrderedDict()  # by start position, oldest kept first
        self._storage: dict[int, dict[StorageKey, int]] = {}
        self._refs: Counter[StorageKey] = Counter()
        self._sizes: dict[StorageKey, int] = {}
        self.bytes = 0  # memory the kept states hold, shared storage counted once

    def __len__(self) -> int:
        return len(self._blocks)

    def clear(self) -> None:
        self._blocks.clear()
        self._storage.clear()
        self._refs.clear()
        self._sizes.clear()
        self.bytes = 0

    def set_budget(self, budget_bytes: int) -> None:
        if budget_bytes <= 0:
            raise ValueError(f"budget_bytes must be > 0, got {budget_bytes}")
        self.budget_bytes = int(budget_bytes)
        self._trim()

    def remember(self, block_index: int, start: int, end: int, state: Any) -> None:
        """Block `block_index`, generated from `state`, plays at ring positions [start, end)."""
        self._forget(start)
        self._blocks[start] = KeptBlock(block_index, start, end, state)
        held = storages(state)
        self._storage[start] = held
        for key, size in held.items():
            if self._refs[key] == 0:
                self._sizes[key] = size
                self.bytes += size
            self._refs[key] += 1
        self._trim()

    def _trim(self) -> None:
        while self.bytes > self.budget_bytes and len(self._blocks) > self.min_blocks:
            self._forget(next(iter(self._blocks)))

    def at(self, position: int) -> KeptBlock | None:
        """The kept block playing at ring `position` (the newest one, should blocks overlap)."""
        found = None
        for block in self._blocks.values():
            if block.start <= position < block.end:
                found = block
        return found

    def by_index(self, block_index: int) -> KeptBlock | None:
        """The newest kept block with this index."""
        found = None
        for block in self._blocks.values():
            if block.block_index == block_index:
                found = block
        return found

    @property
    def oldest_start(self) -> int | None:
        return next(iter(self._blocks.values())).start if self._blocks else None

    def _forget(self, start: int) -> None:
        if self._blocks.pop(start, None) is None:
            return
        for key in self._storage.pop(start):
            self._refs[key] -= 1
            if self._refs[key] == 0:
                del self._refs[key]
                self.bytes -= self._sizes.pop(key)
