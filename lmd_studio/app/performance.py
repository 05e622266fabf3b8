"""The performance controls: the knobs and auto flags of the model playing (`session.performance`).

`PerformanceDesk` writes controls into the running engine's parameter mailbox and, for each change the
player will hear at a block boundary, starts a "heard in …" countdown and logs it for the timeline and the
take's sidecar (change_marks.py). A knob moved by hand stops a scene glide on that knob. It reaches the
engine only through the `EngineHost` (the engine is replaced on a model switch).
"""

from __future__ import annotations

import random
from typing import Any

from lmd_studio.app.change_marks import ChangeMarks
from lmd_studio.app.engine_host import EngineHost
from lmd_studio.app.engine_parts import output_specs
from lmd_studio.app.scenes import ParamMorph
from lmd_studio.app.values import ControlInfo
from lmd_studio.core.params import DELAY, JAM, MASTER_GAIN, SEED, STUDIO_PARAMS
from lmd_studio.settings.schema import StudioSettings


class PerformanceDesk:
    def __init__(self, engine: EngineHost, marks: ChangeMarks, morph: ParamMorph) -> None:
        self._engine = engine
        self._marks = marks
        self._morph = morph
        self.last_touched = ""  # the control moved last on screen (MIDI "learn_toggle" binds it)

    def controls(self) -> list[ControlInfo]:
        """Every performance control (volume excluded) with whether this model listens to it (the tempo and
        meter always count: the studio's clock, bar lines and quantised changes follow them; so does the
        output stage's Dry/Wet of a model with generative delay)."""
        generator = self._engine.runtime.generator
        heard = {s.name for s in generator.param_specs + output_specs(generator)} | STUDIO_PARAMS
        switches = (MASTER_GAIN.name, JAM.name, DELAY.name)  # (Jam and Delay are switches, in the input row)
        return [ControlInfo(spec, spec.name in heard) for spec in self._engine.mailbox.registry
                if spec.name not in switches]

    def value(self, name: str) -> float:
        return self._engine.mailbox.get(name)

    def is_auto(self, name: str) -> bool:
        return self._engine.mailbox.is_auto(name)

    def set_value(self, name: str, value: float, source: str = "gui") -> float:
        self._morph.cancel(name)
        if source == "gui":
            self.last_touched = name
        mailbox = self._engine.mailbox
        stored = mailbox.set(name, value)
        self._engine.runtime.wake()
        spec = mailbox.registry.spec(name)
        if spec.block_boundary:
            text = f"{int(stored)}" if spec.integer else f"{stored:.2f}"
            self._marks.note(name, f"{spec.label} {text}",
                             {"type": "param", "name": name, "value": stored, "source": source})
        return stored

    def set_auto(self, name: str, auto: bool) -> None:
        mailbox = self._engine.mailbox
        mailbox.set_auto(name, auto)
        self._engine.runtime.wake()
        spec = mailbox.registry.spec(name)
        self._marks.note(name, f"{spec.label} {'auto' if auto else 'manual'}",
                         {"type": "auto", "name": name, "auto": auto})

    def reroll(self) -> int:
        """A new variation: a different seed, never the same one again by chance."""
        current = int(self._engine.mailbox.get(SEED.name))
        seed = random.Random().randrange(int(SEED.minimum), int(SEED.maximum))
        if seed >= current:
            seed += 1
        return int(self.set_value(SEED.name, min(seed, int(SEED.maximum))))

    # --- across runs ----------------------------------------------------------------------------------
    def restore(self, settings: StudioSettings) -> None:
        """The knobs and auto flags as they were when the app closed."""
        mailbox = self._engine.mailbox
        registry = mailbox.registry
        for name, value in settings.params:
            if name in registry and name != MASTER_GAIN.name:
                mailbox.set(name, value)
        for name in settings.auto_params:
            if name in registry and registry.spec(name).can_auto:
                mailbox.set_auto(name, True)
        saved = {name for name, _ in settings.params}
        for name in STUDIO_PARAMS & saved:  # a tempo chosen last time (these start on auto)
            if registry.spec(name).can_auto and name not in settings.auto_params:
                mailbox.set_auto(name, False)

    def remembered(self, settings: StudioSettings) -> dict[str, Any]:
        """Settings fields that bring these knobs back next time (another model's knobs are kept too)."""
        snap = self._engine.mailbox.snapshot().controls
        kept = {k: v for k, v in settings.params if k not in snap.values}
        params = {**kept, **{k: v for k, v in snap.values.items() if k != MASTER_GAIN.name}}
        return {"params": tuple(sorted(params.items())), "auto_params": tuple(sorted(snap.auto))}
