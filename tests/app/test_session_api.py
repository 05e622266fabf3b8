"""The GUI's Protocols (app/session_api.py, app/midi_seam.py) against the objects the real composition root
builds: each sub-API passes isinstance, and every member a Protocol declares exists on the class behind it
with the same parameters, defaults and types, return types included — so a Protocol that drifts from the
code (say `None` declared where the code returns `bool`) fails here, not in the GUI."""

from __future__ import annotations

import inspect
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

import pytest

from lmd_studio.app.bootstrap import build_studio
from lmd_studio.app.midi_link import MidiLink
from lmd_studio.app.midi_seam import MidiLinkApi, NullMidiLink
from lmd_studio.app.session import Session
from lmd_studio.app.session_api import MidiApi, StudioApi
from lmd_studio.settings.paths import StudioPaths


@pytest.fixture(params=[False, True], ids=["no-midi", "midi"])
def session(request, tmp_path: Path) -> Iterator[Session]:
    s = build_studio(StudioPaths.under(tmp_path), model="fake", audio="null", midi=request.param, retro_s=5.0)
    yield s
    s.engine.runtime.shutdown()  # never started; the engine's parts are let go


def declared_members(protocol: type) -> dict[str, Any]:
    """What `protocol` and the Protocols it extends declare: methods, properties and annotated attributes."""
    members: dict[str, Any] = {}
    for base in reversed(protocol.__mro__):
        if base in (object, Protocol, typing.Generic):
            continue
        for name in base.__dict__.get("__annotations__", {}):
            members[name] = "attribute"
        for name, value in vars(base).items():
            if not name.startswith("_") and (inspect.isfunction(value) or isinstance(value, property)):
                members[name] = value
    return members


def _function(member: Any) -> Any:
    return member.fget if isinstance(member, property) else member


def _shape(function: Any) -> tuple[list[tuple[str, Any, Any]], dict[str, Any]]:
    """Parameters (name, kind, default; `self` left out) and the resolved type hints, return type included."""
    params = [(p.name, p.kind, p.default) for p in inspect.signature(function).parameters.values()][1:]
    return params, typing.get_type_hints(function)


def drift(protocol: type, concrete: type, skip: typing.Collection[str] = ()) -> list[str]:
    """Every way `concrete` differs from what `protocol` declares (empty when it satisfies it exactly);
    members in `skip`, and annotated attributes, are instance attributes checked on an object instead."""
    problems = []
    for name, member in declared_members(protocol).items():
        if member == "attribute" or name in skip:
            continue
        impl = inspect.getattr_static(concrete, name, None)
        if impl is None:
            problems.append(f"{concrete.__name__}.{name} is missing")
            continue
        if isinstance(member, property) != isinstance(impl, property):
            problems.append(f"{concrete.__name__}.{name}: property in one, method in the other")
            continue
        want_params, want_hints = _shape(_function(member))
        have_params, have_hints = _shape(_function(impl))
        if want_params != have_params:
            problems.append(f"{concrete.__name__}.{name}{inspect.signature(_function(impl))} differs from "
                            f"the Protocol's {inspect.signature(_function(member))}")
        elif want_hints != have_hints:
            problems.append(f"{concrete.__name__}.{name}: types {have_hints} differ from the Protocol's {want_hints}")
    return problems


def sub_apis() -> dict[str, type]:
    """The sub-APIs the facade declares (its properties), with the Protocol each returns."""
    return {name: typing.get_type_hints(member.fget)["return"]
            for name, member in declared_members(StudioApi).items() if isinstance(member, property)
            and name != "settings"}


def test_the_facade_declares_its_sub_apis() -> None:
    assert set(sub_apis()) == {"transport", "performance", "prompts", "scenes", "recording", "timeline",
                               "branches", "model", "midi", "about", "input"}


def test_the_session_satisfies_the_facade(session: Session) -> None:
    assert isinstance(session, StudioApi)
    assert drift(StudioApi, Session, skip=sub_apis()) == []  # the sub-APIs are attributes: next test
    hints = typing.get_type_hints(StudioApi)
    for name in ("paths", "first_run"):
        assert isinstance(getattr(session, name), hints[name])


@pytest.mark.parametrize("name", sorted(sub_apis()))
def test_each_sub_api_satisfies_its_protocol(session: Session, name: str) -> None:
    protocol = sub_apis()[name]
    api = getattr(session, name)
    assert isinstance(api, protocol), f"session.{name} ({type(api).__name__}) is not a {protocol.__name__}"
    assert drift(protocol, type(api)) == []


def test_both_midi_links_satisfy_the_sessions_midi_seam(session: Session) -> None:
    assert isinstance(session.midi, (MidiLink, NullMidiLink))
    for link in (MidiLink, NullMidiLink):
        assert drift(MidiLinkApi, link) == []
    assert isinstance(session.midi, MidiLinkApi)
    assert set(declared_members(MidiApi)) < set(declared_members(MidiLinkApi))


def test_the_check_catches_a_drifted_declaration() -> None:
    """The check itself: a return type, a parameter or a member that differs is reported."""

    class Api(Protocol):
        def export_map(self, controller: str, path: Path) -> None: ...
        def learn(self, target: str) -> None: ...
        @property
        def available(self) -> bool: ...

    class Drifted:
        def export_map(self, controller: str, path: Path) -> bool:
            return True

        def learn(self, target: str, again: bool = False) -> None: ...

    class Exact:
        def export_map(self, controller: str, path: Path) -> None: ...
        def learn(self, target: str) -> None: ...
        @property
        def available(self) -> bool:
            return False

    assert drift(Api, Exact) == []
    problems = drift(Api, Drifted)
    assert len(problems) == 3
    assert "export_map" in problems[0] and "'return': <class 'bool'>" in problems[0]
    assert "learn" in problems[1] and "available is missing" in problems[2]
