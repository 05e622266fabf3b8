"""Rewind and branch (`session.branches`): play again from a past moment, and switch between the takes
that forked there (A/B).

"Play from here again" sends the engine back to the kept generator state of the block heard at that
moment (engine/state_history.py); the music carries on from there with the current prompts and controls —
the same Variation (seed) plays the same music again, bit for bit, a new one branches. Everything before
the moment stays as it was. Each fork is remembered as branches: the take that was playing ("A") and the
new one ("B", "C", …), each with the Variation it plays; switching to a branch sets its Variation and plays
again from its fork. How far back the engine keeps states is a memory budget (Settings › General ›
Rewind memory); the moments before that are told, not silently ignored.
"""

from __future__ import annotations

import string
from collections.abc import Callable

from lmd_studio.app.engine_host import EngineHost
from lmd_studio.app.values import Branch
from lmd_studio.core.params import SEED

MAX_BRANCHES = len(string.ascii_uppercase)


class BranchDesk:
    """`set_control(name, value, source)` sets a control as the player would; `reroll()` picks a new
    Variation and returns it."""

    def __init__(self, engine: EngineHost, set_control: Callable[[str, float, str], float],
                 reroll: Callable[[], int], notify: Callable[..., None]) -> None:
        self._engine = engine
        self._set_control = set_control
        self._reroll = reroll
        self._notify = notify
        self.branches: tuple[Branch, ...] = ()
        self.current: str | None = None  # the branch playing (None: no rewind yet)

    def reach_s(self) -> float:
        """How far back before the playhead a rewind can go now."""
        return self._engine.runtime.metrics.history_s

    def play_from(self, at_s: float, new_variation: bool = False) -> Branch | None:
        """Play again from stream second `at_s` (already heard), with a new Variation or the same one."""
        runtime = self._engine.runtime
        play_s = runtime.stream_play_position / runtime.sample_rate_hz
        if at_s >= play_s:
            self._notify("warning", "Play from here again: pick a moment that has already played")
            return None
        reach = self.reach_s()
        if at_s < play_s - reach:
            self._notify("warning", f"That moment is no longer kept: a rewind reaches {reach:.0f} s back "
                                    f"(more memory in Settings › General › Rewind memory)")
            return None
        if len(self.branches) + 2 > MAX_BRANCHES:
            self.branches = self.branches[-(MAX_BRANCHES - 2):]
        left = self._left_branch(at_s)
        seed = self._reroll() if new_variation else int(self._engine.mailbox.get(SEED.name))
        if not runtime.rewind_to(int(at_s * runtime.sample_rate_hz)):
            self._notify("warning", "That moment was played by the engine before the last audio or model change")
            return None
        branch = Branch(self._next_label(also_taken=left.label if left is not None else ""), at_s, seed,
                        new_variation)
        self.branches = (*self.branches, *((left,) if left is not None else ()), branch)
        self.current = branch.label
        self._mark(f"⟲ {branch.label} from {_clock(at_s)}")
        self._notify("info", f"Playing again from {_clock(at_s)} as {branch.label}"
                             f"{' (a new variation)' if new_variation else ''}")
        return branch

    def switch(self, label: str) -> bool:
        """Play branch `label` again from its fork, with its Variation."""
        branch = next((b for b in self.branches if b.label == label), None)
        if branch is None:
            self._notify("warning", f"No branch {label!r}")
            return False
        runtime = self._engine.runtime
        play_s = runtime.stream_play_position / runtime.sample_rate_hz
        if branch.fork_s < play_s - self.reach_s():
            self._notify("warning", f"Branch {label} starts further back than is kept now "
                                    f"(more memory in Settings › General › Rewind memory)")
            return False
        self._set_control(SEED.name, float(branch.seed), "branch")
        if not runtime.rewind_to(int(branch.fork_s * runtime.sample_rate_hz)):
            return False
        self.current = branch.label
        self._mark(f"⟲ {label} from {_clock(branch.fork_s)}")
        self._notify("info", f"Branch {label}: playing again from {_clock(branch.fork_s)}")
        return True

    def _mark(self, label: str) -> None:
        """A marker on the timeline where the new take is heard from (at the playhead)."""
        self._engine.timeline.add_marker(self._engine.runtime.stream_play_position, label, "reset")

    def _left_branch(self, at_s: float) -> Branch | None:
        """The take being left, as a branch forking at `at_s` — unless the branch playing already is one
        forking there (switching back then is switching to it)."""
        current = next((b for b in self.branches if b.label == self.current), None)
        if current is not None and abs(current.fork_s - at_s) < 1e-6:
            return None
        return Branch(self._next_label(), at_s, int(self._engine.mailbox.get(SEED.name)), False)

    def _next_label(self, also_taken: str = "") -> str:
        used = {b.label for b in self.branches} | {also_taken}
        return next(c for c in string.ascii_uppercase if c not in used)


def _clock(seconds: float) -> str:
    m, s = divmod(max(0.0, seconds), 60.0)
    return f"{int(m)}:{s:04.1f}"
