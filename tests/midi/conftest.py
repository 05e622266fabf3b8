"""Fixtures for MIDI tests: the in-process loopback backend, mailboxes, a started service."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from lmd_studio.core.params import STANDARD_PARAMS
from lmd_studio.midi.service import MidiConfig, MidiService
from lmd_studio.midi.sink import MailboxSink
from lmd_studio.midi.targets import TargetCatalog
from lmd_studio.rt.actions import ActionMailbox
from lmd_studio.rt.mailbox import ParamMailbox
from tests.support import mido_loopback

LOOPBACK = mido_loopback.NAME


@pytest.fixture
def loopback() -> Iterator[object]:
    mido_loopback.reset()
    yield mido_loopback
    mido_loopback.reset()


@pytest.fixture
def catalog() -> TargetCatalog:
    return TargetCatalog.build(STANDARD_PARAMS, prompt_slots=8)


@pytest.fixture
def params() -> ParamMailbox:
    return ParamMailbox(STANDARD_PARAMS)


@pytest.fixture
def actions() -> ActionMailbox:
    return ActionMailbox(prompt_slots=8)


@pytest.fixture
def sink(params, actions, catalog) -> MailboxSink:
    return MailboxSink(params, actions, catalog)


@pytest.fixture
def make_service(loopback, sink, catalog, tmp_path):
    """Build started services on the loopback backend; all are closed after the test."""
    made: list[MidiService] = []

    def make(config: MidiConfig | None = None, maps_dir=None) -> MidiService:
        service = MidiService(sink, maps_dir or tmp_path / "maps", LOOPBACK,
                              config or MidiConfig(scan_interval_s=0.05, learn_settle_s=0.0), catalog)
        service.start()
        made.append(service)
        return service

    yield make
    for s in made:
        s.close()
