"""How much memory a generator state holds, counting storage that states share once.

Generator states are immutable and share what did not change (a state's KV cache tensors live on in the
next one), so summing each state's size would count the same memory many times. `storages(state)` walks a
state (dataclasses, slotted objects, tuples, lists, dicts) and names each piece of memory it reaches — a
torch tensor by its storage's address, a numpy array by its base array — with its size; a store of states
keeps a reference count per name and adds a size only the first time a name appears. No torch import: a
tensor is recognised by its `untyped_storage` method.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

StorageKey = tuple[str, int]


def storages(obj: Any) -> dict[StorageKey, int]:
    """Every piece of array memory `obj` reaches: {name: bytes}."""
    found: dict[StorageKey, int] = {}
    _walk(obj, found, set())
    return found


def _walk(obj: Any, found: dict[StorageKey, int], visited: set[int]) -> None:
    if obj is None or isinstance(obj, (bool, int, float, str, bytes)):
        return
    if id(obj) in visited:
        return
    visited.add(id(obj))
    storage = getattr(obj, "untyped_storage", None)
    if callable(storage):  # a torch tensor
        s = storage()
        found[("torch", int(s.data_ptr()))] = int(s.nbytes())
        return
    if isinstance(obj, np.ndarray):
        base = obj
        while isinstance(base.base, np.ndarray):
            base = base.base
        found[("numpy", id(base))] = int(base.nbytes)
        return
    if isinstance(obj, (tuple, list, set, frozenset)):
        for item in obj:
            _walk(item, found, visited)
    elif isinstance(obj, dict):
        for item in obj.values():
            _walk(item, found, visited)
    elif dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        for f in dataclasses.fields(obj):
            _walk(getattr(obj, f.name), found, visited)
    else:
        for name in getattr(type(obj), "__slots__", ()):
            _walk(getattr(obj, name, None), found, visited)
        for item in getattr(obj, "__dict__", {}).values():
            _walk(item, found, visited)
