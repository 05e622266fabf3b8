"""The action mailbox (rt/actions.py) and the default ControlSink."""

from __future__ import annotations

import threading

import pytest

from lmd_studio.core.params import STANDARD_PARAMS
from lmd_studio.midi.sink import ControlSink, MailboxSink
from lmd_studio.midi.targets import TargetCatalog
from lmd_studio.rt.actions import ActionMailbox


def test_actions_count_and_weights_keep_only_the_newest():
    box = ActionMailbox(prompt_slots=3)
    for _ in range(5):
        box.trigger("play_toggle")
    box.trigger("scene_2")
    for w in (0.1, 0.2, 0.7):
        box.set_prompt_weight(1, w)
    polled = box.poll()
    assert polled.actions == (("play_toggle", 5), ("scene_2", 1))
    assert polled.prompt_weights == ((1, 0.7),)
    assert box.poll().empty


def test_sync_prompt_weight_is_not_reported():
    box = ActionMailbox(prompt_slots=2)
    box.sync_prompt_weight(0, 0.3)
    assert box.prompt_weight(0) == 0.3 and box.poll().empty
    with pytest.raises(IndexError, match="prompt slot 2"):
        box.set_prompt_weight(2, 1.0)


def test_distinct_actions_are_bounded():
    box = ActionMailbox(prompt_slots=1, max_actions=3)
    for i in range(10):
        box.trigger(f"a{i}")
    assert len(box.poll().actions) == 3 and box.dropped_actions == 7


def test_concurrent_writers_lose_no_triggers():
    box = ActionMailbox()

    def fire():
        for _ in range(2000):
            box.trigger("stop")

    threads = [threading.Thread(target=fire) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert box.poll().actions == (("stop", 8000),)


def test_mailbox_sink_routes_by_target_kind(params, actions, catalog):
    sink = MailboxSink(params, actions, catalog)
    assert isinstance(sink, ControlSink)
    sink.set_value("guidance", 3.0)
    sink.set_value("prompt_weight_4", 0.25)
    sink.trigger("capture_30s")
    sink.set_held_notes(((64, 10), (60, 100)))
    sink.set_bpm(123.4)
    snap = params.snapshot()
    assert snap.controls.values["guidance"] == 3.0 and sink.get_value("guidance") == 3.0
    assert snap.controls.held_notes == ((60, 100), (64, 10)) and snap.controls.bpm == 123.4
    assert sink.get_value("prompt_weight_4") == 0.25
    assert actions.poll().prompt_weights == ((4, 0.25),)
    with pytest.raises(KeyError):
        sink.get_value("play_toggle")


def test_sink_needs_enough_prompt_slots(params):
    with pytest.raises(ValueError, match="needs prompt slot 4"):
        MailboxSink(params, ActionMailbox(prompt_slots=4), TargetCatalog.build(STANDARD_PARAMS, prompt_slots=8))


def test_catalog_lists_params_prompt_weights_and_actions(catalog):
    names = {t.name for t in catalog}
    assert set(STANDARD_PARAMS.names) <= names
    assert {f"prompt_weight_{i}" for i in range(8)} <= names
    assert {"play_toggle", "stop", "record_toggle", "capture_30s", "capture_60s", "reset", "panic",
            "learn_toggle", "scene_0", "scene_15"} <= {t.name for t in catalog.actions}
    assert all(t.spec is not None for t in catalog.continuous)
