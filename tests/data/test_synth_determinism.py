"""A clip renders the same whatever was rendered before it (the pool hands out a fresh synth per clip), so a
corpus does not depend on which worker rendered what — the property the resumed/parallel build test needs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lmd_studio.data.synth import FluidRenderer, RendererPool

SF2 = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")
pytestmark = pytest.mark.skipif(not SF2.is_file(), reason="FluidR3_GM soundfont not installed (fluid-soundfont-gm)")


def _notes(seed: int) -> np.ndarray:
    r = np.random.default_rng(seed)
    on = np.sort(r.uniform(0, 3, 20))
    return np.stack([on, on + r.uniform(0.1, 0.8, 20), r.integers(48, 80, 20), r.integers(40, 110, 20),
                     r.integers(0, 2, 20)], axis=1)


def test_a_clip_renders_the_same_after_another_one() -> None:
    pool = RendererPool({"gm": SF2})
    first = pool.get("gm").render(_notes(1), [0, 33], 4.0)
    pool.get("gm").render(_notes(3), [0, 33], 2.7, reverb_send=80, chorus_send=30)
    again = pool.get("gm").render(_notes(1), [0, 33], 4.0)
    np.testing.assert_array_equal(first, again)


def test_one_synth_reused_does_carry_state() -> None:
    """Why the pool does not reuse a synth: the same notes after another clip come out different."""
    synth = FluidRenderer(SF2)
    first = synth.render(_notes(1), [0, 33], 4.0)
    synth.render(_notes(3), [0, 33], 2.7)
    again = synth.render(_notes(1), [0, 33], 4.0)
    assert np.abs(first - again).max() > 1e-3


def test_a_dropped_renderer_frees_its_synth(monkeypatch) -> None:
    """pyfluidsynth frees a synth only when asked: a renderer the pool replaced, once nobody holds it,
    deletes its synth (without this, re-rendering thousands of clips ran out of memory)."""
    import fluidsynth

    deleted = []
    original = fluidsynth.Synth.delete
    monkeypatch.setattr(fluidsynth.Synth, "delete", lambda self: (deleted.append(self), original(self)))
    pool = RendererPool({"gm": SF2})
    first = pool.get("gm")
    held = first._synth
    pool.get("gm")  # the pool lets go of the first one; this test still holds it
    assert deleted == []
    del first
    assert deleted == [held]  # freed as soon as nobody holds it (CPython reference counting)
    second = pool.get("gm")
    second.close()
    second.close()  # twice is harmless
    assert len(deleted) == 3
