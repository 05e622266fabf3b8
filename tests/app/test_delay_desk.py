"""Generative delay at the input desk: the Delay switch lands through set_control like the Jam switch, the
jam state reports it (and a model never taught it), the Dry/Wet control joins the mailbox and the knobs,
and the input's monitor gain follows Dry/Wet while Jam and Delay are both on."""

from __future__ import annotations

import math
from types import SimpleNamespace
from typing import Any

import pytest

from lmd_studio.app.engine_parts import make_mailbox, output_specs
from lmd_studio.app.input_desk import InputDesk
from lmd_studio.audio.input_path import InputConfig, InputPath
from lmd_studio.core.fake import FakeBlockGenerator
from lmd_studio.core.generator import HearsInput, StreamInput, WrappedGenerator
from lmd_studio.core.params import DELAY, DELAY_TIME, DRY_WET, FOLLOW, JAM, ParamSpec
from lmd_studio.rt.input_tap import InputTap


class _JamFake(WrappedGenerator):
    """The test tones with the studio jam generator's controls (model/jam.JamGenerator, switchable)."""

    def __init__(self, delay_trained: bool) -> None:
        super().__init__(FakeBlockGenerator())
        self._delay_trained = delay_trained

    @property
    def param_specs(self) -> tuple[ParamSpec, ...]:
        return self.inner.param_specs + (FOLLOW, JAM, DELAY, DELAY_TIME)

    @property
    def jam_trained(self) -> bool:
        return True

    @property
    def delay_trained(self) -> bool:
        return self._delay_trained

    def attach_input(self, stream_input: StreamInput | None, device_rate_hz: int) -> None:
        pass


def make_desk(delay_trained: bool = True, input_on: bool = True) -> tuple[InputDesk, Any, list]:
    generator = _JamFake(delay_trained)
    assert isinstance(generator, HearsInput)
    mailbox = make_mailbox(generator, prompt=None)
    path = InputPath(InputConfig(channels=(1,), monitoring=True), InputTap(1 << 15, 1), 48000) if input_on else None
    engine = SimpleNamespace(mailbox=mailbox, runtime=SimpleNamespace(generator=generator,
                                                                      parts=SimpleNamespace(input=path)))
    calls: list[tuple[str, float, str]] = []
    notices: list[tuple[str, str]] = []

    def set_control(name: str, value: float, source: str) -> float:
        calls.append((name, value, source))
        return mailbox.set(name, value)

    desk = InputDesk(engine, SimpleNamespace(), SimpleNamespace(), lambda level, text, *a: notices.append(
        (level, text)), set_control)  # type: ignore[arg-type]
    return desk, engine, [calls, notices]


def test_a_jam_generator_gets_dry_wet_in_its_mailbox_and_the_test_tones_do_not() -> None:
    assert output_specs(_JamFake(True)) == (DRY_WET,)
    assert make_mailbox(_JamFake(True)).registry.spec(DRY_WET.name) is DRY_WET
    assert output_specs(FakeBlockGenerator()) == ()
    assert DRY_WET.name not in make_mailbox(FakeBlockGenerator()).registry


def test_the_delay_switch_lands_through_set_control_and_the_jam_state_reports_it() -> None:
    desk, engine, (calls, notices) = make_desk()
    state = desk.jam()
    assert state is not None and not state.delay_on and state.delay_trained
    assert (state.delay_s, state.dry_wet) == (DELAY_TIME.default, 1.0)
    desk.set_delay(True)
    assert calls == [(DELAY.name, 1.0, "gui")]
    assert notices and "once Jam is on" in notices[-1][1]  # delay without jam: nothing to play back yet
    engine.mailbox.set(DELAY_TIME.name, 2.5)
    engine.mailbox.set(DRY_WET.name, 0.3)
    state = desk.jam()
    assert state is not None and state.delay_on and not state.on and not state.delay_engaged
    assert (state.delay_s, state.dry_wet) == (2.5, pytest.approx(0.3))
    desk.set_jam(True, source="midi")
    state = desk.jam()
    assert state is not None and state.delay_engaged and state.note == ""
    desk.set_delay(False, source="midi")
    assert calls[-1] == (DELAY.name, 0.0, "midi") and desk.jam().delay_on is False  # type: ignore[union-attr]


def test_a_model_never_taught_generative_delay_says_so() -> None:
    desk, _, (_, notices) = make_desk(delay_trained=False)
    desk.set_jam(True)
    assert desk.jam().note == ""  # type: ignore[union-attr]  # jam-trained: accompanying is fine
    desk.set_delay(True)
    state = desk.jam()
    assert state is not None and not state.delay_trained and "never taught generative delay" in state.note
    assert notices[-1] == ("info", state.note)


def test_the_monitor_gain_follows_dry_wet_only_while_jam_and_delay_are_on() -> None:
    desk, engine, _ = make_desk()
    path = engine.runtime.parts.input
    mailbox = engine.mailbox
    mailbox.set(DRY_WET.name, 0.5)  # as MIDI or a scene would: straight into the mailbox
    desk.follow_controls()
    assert path.monitor_gain == 1.0 and path.monitor_level == 1.0  # no delay: monitoring as the player set it
    desk.set_jam(True)
    desk.set_delay(True)
    assert path.monitor_gain == pytest.approx(math.cos(0.25 * math.pi))
    mailbox.set(DRY_WET.name, 1.0)
    desk.follow_controls()
    assert path.monitor_gain == 0.0  # all wet: none of the player's own input
    mailbox.set(DRY_WET.name, 0.0)
    desk.follow_controls()
    assert path.monitor_gain == 1.0
    path.monitoring = False
    assert path.monitor_level == 0.0  # the dry signal needs monitoring switched on
    mailbox.set(DRY_WET.name, 0.5)
    desk.set_jam(False)
    assert path.monitor_gain == 1.0


def test_a_take_records_the_level_the_input_was_heard_at() -> None:
    desk, engine, _ = make_desk()
    mailbox = engine.mailbox
    desk.set_jam(True)
    desk.set_delay(True)
    mailbox.set(DRY_WET.name, 0.5)
    desk.follow_controls()
    fmt = desk.track_format()
    assert fmt is not None and fmt.alignment["monitoring"] is True
    assert fmt.alignment["monitor_level"] == pytest.approx(math.cos(0.25 * math.pi), abs=1e-4)


def test_without_input_following_the_controls_does_nothing() -> None:
    desk, _, _ = make_desk(input_on=False)
    desk.follow_controls()
    state = desk.jam()
    assert state is not None and not state.input_on and "Settings › Audio" in state.note
