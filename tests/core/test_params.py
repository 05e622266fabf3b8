from __future__ import annotations

import math

import pytest

from lmd_studio.core.generator import BlockControls, PromptSlot, normalized_prompt_mix
from lmd_studio.core.params import STANDARD_PARAMS, ParamRegistry, ParamSpec
from lmd_studio.core.units import db_to_gain, gain_to_db, next_power_of_two, seconds_to_frames


def test_spec_validation_messages() -> None:
    with pytest.raises(ValueError, match="minimum"):
        ParamSpec("x", "X", 1.0, 0.0, 0.5)
    with pytest.raises(ValueError, match="default"):
        ParamSpec("x", "X", 0.0, 1.0, 2.0)
    with pytest.raises(ValueError, match="log scale"):
        ParamSpec("x", "X", 0.0, 1.0, 0.5, scale="log")
    with pytest.raises(ValueError, match="identifier"):
        ParamSpec("not a name", "X", 0.0, 1.0, 0.5)


@pytest.mark.parametrize("spec", list(STANDARD_PARAMS))
def test_normalized_round_trip(spec: ParamSpec) -> None:
    for x in (0.0, 0.25, 0.5, 1.0):
        v = spec.from_normalized(x)
        assert spec.minimum <= v <= spec.maximum
        if not spec.integer:
            assert math.isclose(spec.to_normalized(v), x, abs_tol=1e-9)
    assert spec.clamp(float("nan")) == spec.default
    assert spec.clamp(spec.maximum + 100) == spec.maximum


def test_log_scale_midpoint_is_geometric() -> None:
    s = ParamSpec("f", "F", 20.0, 20000.0, 1000.0, scale="log")
    assert math.isclose(s.from_normalized(0.5), math.sqrt(20.0 * 20000.0), rel_tol=1e-9)


def test_registry_indices_and_duplicates() -> None:
    assert STANDARD_PARAMS.index("guidance") == 0
    with pytest.raises(KeyError, match="unknown parameter"):
        STANDARD_PARAMS.index("nope")
    with pytest.raises(ValueError, match="duplicate"):
        ParamRegistry([STANDARD_PARAMS.spec("seed"), STANDARD_PARAMS.spec("seed")])
    merged = STANDARD_PARAMS.merged([ParamSpec("extra", "E", 0, 1, 0)])
    assert merged.names[-1] == "extra" and len(merged) == len(STANDARD_PARAMS) + 1


def test_prompt_mix_normalises_and_skips_inactive() -> None:
    mix = normalized_prompt_mix((PromptSlot("a", 3.0), PromptSlot("b", 1.0), PromptSlot("c", 5.0, enabled=False),
                                 PromptSlot("  ", 2.0)))
    assert mix == (("a", 0.75), ("b", 0.25))
    assert normalized_prompt_mix((PromptSlot("a", 0.0),)) == ()


def test_controls_validate_notes_and_freeze_values() -> None:
    c = BlockControls(values={"guidance": 2.0})
    with pytest.raises(TypeError):
        c.values["guidance"] = 3.0  # type: ignore[index]
    with pytest.raises(ValueError, match="MIDI range"):
        BlockControls(held_notes=((200, 10),))


def test_units() -> None:
    assert math.isclose(db_to_gain(-6.0206), 0.5, rel_tol=1e-4)
    assert gain_to_db(0.0) == -120.0 and math.isclose(gain_to_db(1.0), 0.0)
    assert seconds_to_frames(0.5, 48000) == 24000
    assert next_power_of_two(1000) == 1024 and next_power_of_two(1024) == 1024
