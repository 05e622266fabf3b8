"""Message → value translation: CC, 14-bit pairs, buttons, program change, pitch bend, soft takeover."""

from __future__ import annotations

import mido
import pytest

from lmd_studio.core.params import GUIDANCE, MASTER_GAIN, STEPS
from lmd_studio.midi.bindings import Binding, MidiSource
from lmd_studio.midi.clock import ClockConfig, ClockFollower
from lmd_studio.midi.keyboard import Keyboard, KeyboardConfig
from lmd_studio.midi.learn import LearnCapture
from lmd_studio.midi.mapfile import MidiMap
from lmd_studio.midi.router import PortRouter, RouterContext, compile_table
from lmd_studio.midi.runtime import Glider


def cc(n, v, ch=0):
    return mido.Message("control_change", channel=ch, control=n, value=v)


def note(n, vel, ch=0):
    return mido.Message("note_on", channel=ch, note=n, velocity=vel)


@pytest.fixture
def route(sink, catalog):
    def make(*bindings: Binding, program_change_scenes=True) -> PortRouter:
        ctx = RouterContext(sink, Keyboard(KeyboardConfig(), sink, catalog),
                            ClockFollower(ClockConfig(), sink), LearnCapture(0.0), program_change_scenes)
        return PortRouter("test", compile_table(MidiMap("test", bindings), catalog, sink, Glider()), ctx)
    return make


def test_cc_jump_sets_the_parameter_in_its_units(route, params):
    r = route(Binding(MidiSource("cc", 0, 1), "guidance", takeover="jump"))
    r(cc(1, 127))
    assert params.get("guidance") == GUIDANCE.maximum
    r(cc(1, 0))
    assert params.get("guidance") == GUIDANCE.minimum
    r(cc(1, 64))
    assert params.get("guidance") == pytest.approx(GUIDANCE.from_normalized(64 / 127))
    r(cc(1, 127, ch=1))  # other channel: not this binding
    assert params.get("guidance") == pytest.approx(GUIDANCE.from_normalized(64 / 127))


def test_any_channel_binding_and_exact_channel_precedence(route, params):
    r = route(Binding(MidiSource("cc", None, 1), "guidance", takeover="jump"),
              Binding(MidiSource("cc", 5, 1), "temperature", takeover="jump"))
    r(cc(1, 127, ch=9))
    assert params.get("guidance") == GUIDANCE.maximum
    r(cc(1, 0, ch=5))
    assert params.get("guidance") == GUIDANCE.maximum  # ch 5 went to its exact binding
    assert params.get("temperature") == 0.5


def test_range_invert_curve_apply_on_the_way(route, params):
    r = route(Binding(MidiSource("cc", 0, 7), "master_gain_db", range_lo=0.5, range_hi=1.0, invert=True,
                      curve="exp", takeover="jump"))
    r(cc(7, 0))  # inverted: bottom of the knob → top of the range
    assert params.get("master_gain_db") == pytest.approx(MASTER_GAIN.maximum)
    r(cc(7, 127))
    assert params.get("master_gain_db") == pytest.approx(MASTER_GAIN.from_normalized(0.5))


def test_integer_targets_are_rounded(route, params):
    r = route(Binding(MidiSource("cc", 0, 2), "steps", takeover="jump"))
    r(cc(2, 50))
    assert params.get("steps") == round(STEPS.from_normalized(50 / 127))
    assert float(params.get("steps")).is_integer()


def test_14bit_pair_gives_fine_resolution(route, params):
    r = route(Binding(MidiSource("cc14", 0, 1), "guidance", takeover="jump"))
    r(cc(1, 64))  # MSB alone, before any LSB: acts as 7-bit
    assert params.get("guidance") == pytest.approx(GUIDANCE.from_normalized((64 << 7) / 16383))
    r(cc(33, 5))  # LSB completes the value
    assert params.get("guidance") == pytest.approx(GUIDANCE.from_normalized(((64 << 7) | 5) / 16383))
    r(cc(1, 63))  # once LSBs are known, an MSB waits for its LSB (no stutter)
    assert params.get("guidance") == pytest.approx(GUIDANCE.from_normalized(((64 << 7) | 5) / 16383))
    r(cc(33, 127))
    assert params.get("guidance") == pytest.approx(GUIDANCE.from_normalized(((63 << 7) | 127) / 16383))
    # 16384 distinct positions: neighbours differ
    r(cc(33, 126))
    assert params.get("guidance") < GUIDANCE.from_normalized(((63 << 7) | 127) / 16383)


def test_note_toggle_and_momentary_on_continuous_targets(route, params):
    r = route(Binding(MidiSource("note", 9, 36), "brightness", mode="toggle", range_lo=0.2, range_hi=0.9),
              Binding(MidiSource("note", 9, 37), "density", mode="momentary"))
    r(note(36, 100, ch=9))
    assert params.get("brightness") == pytest.approx(0.9)
    r(note(36, 0, ch=9))  # release: toggle keeps its state
    assert params.get("brightness") == pytest.approx(0.9)
    r(note(36, 90, ch=9))
    assert params.get("brightness") == pytest.approx(0.2)
    r(note(37, 100, ch=9))
    assert params.get("density") == 1.0
    r(mido.Message("note_off", channel=9, note=37))
    assert params.get("density") == 0.0
    assert params.snapshot().controls.held_notes == ()  # bound notes are buttons, not keyboard notes


def test_buttons_fire_actions(route, actions):
    r = route(Binding(MidiSource("note", 0, 60), "play_toggle", mode="toggle"),
              Binding(MidiSource("note", 0, 61), "record_toggle", mode="momentary"),
              Binding(MidiSource("cc", 0, 20), "capture_30s", mode="toggle"),
              Binding(MidiSource("cc", 0, 21), "reset", mode="momentary"))
    r(note(60, 100)), r(note(60, 0))
    r(note(61, 100)), r(note(61, 0))
    for v in (0, 127, 127, 0, 127):  # a CC button: fires on each rise (toggle)
        r(cc(20, v))
    for v in (127, 0):  # momentary: rise and fall
        r(cc(21, v))
    assert dict(actions.poll().actions) == {"play_toggle": 1, "record_toggle": 2, "capture_30s": 2, "reset": 2}


def test_program_change_recalls_scenes_unless_bound(route, actions):
    r = route(Binding(MidiSource("program", 0, 3), "capture_60s"))
    r(mido.Message("program_change", channel=0, program=2))
    r(mido.Message("program_change", channel=0, program=3))
    r(mido.Message("program_change", channel=0, program=40))  # beyond the 16 scenes: ignored
    assert dict(actions.poll().actions) == {"scene_2": 1, "capture_60s": 1}
    off = route(program_change_scenes=False)
    off(mido.Message("program_change", channel=0, program=2))
    assert actions.poll().empty


def test_pitch_bend_binding(route, params):
    r = route(Binding(MidiSource("pitchbend", 0), "brightness", takeover="jump"))
    r(mido.Message("pitchwheel", channel=0, pitch=8191))
    assert params.get("brightness") == pytest.approx(1.0)
    r(mido.Message("pitchwheel", channel=0, pitch=-8192))
    assert params.get("brightness") == pytest.approx(0.0)
    r(mido.Message("pitchwheel", channel=0, pitch=0))
    assert params.get("brightness") == pytest.approx(8192 / 16383)


def test_prompt_weights_go_to_the_action_mailbox(route, actions):
    r = route(Binding(MidiSource("cc", 0, 30), "prompt_weight_2", takeover="jump"))
    r(cc(30, 127)), r(cc(30, 32))
    assert actions.poll().prompt_weights == ((2, pytest.approx(32 / 127)),)


def test_soft_takeover_ignores_a_knob_until_it_passes_the_value(route, params):
    params.set("brightness", 0.5)
    r = route(Binding(MidiSource("cc", 0, 74), "brightness"))  # soft by default
    for v in (0, 10, 30, 50):  # knob far below 0.5: nothing moves
        r(cc(74, v))
        assert params.get("brightness") == 0.5
    r(cc(74, 70))  # 50/127 → 70/127 passes through 0.5: picked up
    assert params.get("brightness") == pytest.approx(70 / 127)
    r(cc(74, 20))  # now it follows freely
    assert params.get("brightness") == pytest.approx(20 / 127)


def test_soft_takeover_from_above_and_on_an_exact_match(route, params):
    params.set("density", 0.25)
    r = route(Binding(MidiSource("cc", 0, 75), "density"))
    r(cc(75, 120)), r(cc(75, 100))
    assert params.get("density") == 0.25
    r(cc(75, 20))  # 100 → 20 passes 0.25·127 ≈ 31.75 from above
    assert params.get("density") == pytest.approx(20 / 127)
    params.set("loudness", 32 / 127)
    r2 = route(Binding(MidiSource("cc", 0, 76), "loudness"))
    r2(cc(76, 32))  # the first message already matches: taken at once
    assert params.get("loudness") == pytest.approx(32 / 127)


def test_soft_takeover_lets_go_when_the_value_is_changed_elsewhere(route, params):
    params.set("brightness", 0.0)
    r = route(Binding(MidiSource("cc", 0, 74), "brightness"))
    r(cc(74, 0)), r(cc(74, 40))
    assert params.get("brightness") == pytest.approx(40 / 127)
    params.set("brightness", 0.9)  # the GUI (or a preset) moved it
    r(cc(74, 45))
    assert params.get("brightness") == 0.9  # no jump back to the knob
    r(cc(74, 127))  # 45 → 127 passes 0.9: caught again
    assert params.get("brightness") == 1.0


def test_a_cc_flood_collapses_to_the_latest_value(route, params):
    r = route(Binding(MidiSource("cc", 0, 1), "guidance", takeover="jump"))
    for i in range(20_000):
        r(cc(1, i % 128))
    assert params.get("guidance") == pytest.approx(GUIDANCE.from_normalized((19_999 % 128) / 127))
    assert r.messages == 20_000 and r.errors == 0


def test_errors_in_the_callback_are_counted_never_raised(sink, catalog):
    class Broken:
        def set_value(self, target, value):
            raise RuntimeError("sink exploded")

        def get_value(self, target):
            return 0.0

    bad = Broken()
    ctx = RouterContext(sink, Keyboard(KeyboardConfig(), sink, catalog), ClockFollower(ClockConfig(), sink),
                        LearnCapture(0.0))
    table = compile_table(MidiMap("x", (Binding(MidiSource("cc", 0, 1), "guidance", takeover="jump"),)),
                          catalog, bad, Glider())  # type: ignore[arg-type]
    r = PortRouter("x", table, ctx)
    r(cc(1, 3))
    assert r.errors == 1 and "sink exploded" in r.last_error


def test_unknown_targets_are_kept_inactive(catalog, sink):
    table = compile_table(MidiMap("x", (Binding(MidiSource("cc", 0, 1), "drumless"),)), catalog, sink, Glider())
    assert [b.target for b in table.inactive] == ["drumless"] and not table.cc


def test_smoothing_glides_toward_the_goal(sink, catalog, params):
    glider = Glider()
    table = compile_table(MidiMap("x", (Binding(MidiSource("cc", 0, 1), "brightness", smoothing_ms=100.0,
                                                takeover="jump"),)), catalog, sink, glider)
    ctx = RouterContext(sink, Keyboard(KeyboardConfig(), sink, catalog), ClockFollower(ClockConfig(), sink),
                        LearnCapture(0.0))
    params.set("brightness", 0.0)
    r = PortRouter("x", table, ctx)
    r(cc(1, 127))
    assert params.get("brightness") == 0.0 and glider.active  # nothing lands at once
    rt = table.runtimes[0]
    t0 = rt.glide_t_s
    glider.step(t0 + 0.1)  # one time constant: 63 %
    assert params.get("brightness") == pytest.approx(1.0 - 2.718281828 ** -1, abs=1e-3)
    glider.step(t0 + 2.0)
    assert params.get("brightness") == 1.0 and not glider.active
