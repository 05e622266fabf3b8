"""Curves, sources and bindings: pure value logic."""

from __future__ import annotations

import pytest

from lmd_studio.midi.bindings import Binding, MidiSource
from lmd_studio.midi.curves import CURVES, apply_curve, shape


@pytest.mark.parametrize("curve", CURVES)
def test_curves_fix_the_end_points_and_increase(curve):
    xs = [i / 200 for i in range(201)]
    ys = [apply_curve(curve, x) for x in xs]
    assert ys[0] == pytest.approx(0.0, abs=1e-12)
    assert ys[-1] == pytest.approx(1.0, abs=1e-12)
    assert all(b > a for a, b in zip(ys, ys[1:])), f"{curve} is not strictly increasing"


def test_curve_shapes_differ_where_they_should():
    assert apply_curve("exp", 0.5) < 0.2  # fine control at the bottom
    assert apply_curve("log", 0.5) > 0.8  # fine control at the top
    assert apply_curve("s-curve", 0.1) < 0.1 and apply_curve("s-curve", 0.9) > 0.9
    assert apply_curve("linear", 0.37) == pytest.approx(0.37)
    # log undoes exp
    for x in (0.1, 0.3, 0.7):
        assert apply_curve("log", apply_curve("exp", x)) == pytest.approx(x)


def test_curve_clamps_and_rejects_unknown():
    assert apply_curve("linear", -3.0) == 0.0 and apply_curve("linear", 7.0) == 1.0
    with pytest.raises(ValueError, match="unknown curve"):
        apply_curve("cubic", 0.5)  # type: ignore[arg-type]


def test_shape_inverts_then_scales_into_range():
    assert shape(0.0, lo=0.25, hi=0.75) == pytest.approx(0.25)
    assert shape(1.0, lo=0.25, hi=0.75) == pytest.approx(0.75)
    assert shape(0.0, invert=True, lo=0.25, hi=0.75) == pytest.approx(0.75)
    assert shape(0.2, curve="exp", invert=True) == pytest.approx(apply_curve("exp", 0.8))


@pytest.mark.parametrize("source", [
    MidiSource("cc", 0, 7), MidiSource("cc", None, 74), MidiSource("cc14", 3, 1), MidiSource("note", 9, 36),
    MidiSource("program", 15, 127), MidiSource("pitchbend", 2), MidiSource("pitchbend", None),
])
def test_source_ids_round_trip(source):
    assert MidiSource.parse_id(source.id) == source


@pytest.mark.parametrize("text", ["cc:16:7", "cc:0:128", "cc14:0:32", "knob:0:1", "cc:0", "note:x:1", "pitchbend:0:5"])
def test_bad_source_ids_are_rejected_with_the_text(text):
    with pytest.raises(ValueError, match="bad MIDI source id"):
        MidiSource.parse_id(text)


def test_binding_position_uses_source_resolution():
    b7 = Binding(MidiSource("cc", 0, 1), "guidance")
    b14 = Binding(MidiSource("cc14", 0, 1), "guidance")
    assert b7.position(127) == pytest.approx(1.0)
    assert b7.position(64) == pytest.approx(64 / 127)
    assert b14.position(16383) == pytest.approx(1.0)
    assert b14.position(8192) == pytest.approx(8192 / 16383)
    inv = Binding(MidiSource("cc", 0, 1), "guidance", range_lo=0.1, range_hi=0.5, invert=True)
    assert inv.position(0) == pytest.approx(0.5) and inv.position(127) == pytest.approx(0.1)
    assert inv.button_position(True) == 0.1 and inv.button_position(False) == 0.5


@pytest.mark.parametrize("kwargs, message", [
    (dict(range_lo=0.6, range_hi=0.5), "range"),
    (dict(range_lo=-0.1), "range"),
    (dict(curve="wobbly"), "curve"),
    (dict(smoothing_ms=-1.0), "smoothing_ms"),
    (dict(takeover="maybe"), "takeover"),
    (dict(mode="latch"), "mode"),
    (dict(target=""), "target"),
])
def test_binding_validation_names_the_problem(kwargs, message):
    kwargs.setdefault("target", "guidance")
    with pytest.raises(ValueError, match=message):
        Binding(MidiSource("cc", 0, 1), **kwargs)
