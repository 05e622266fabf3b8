from __future__ import annotations

import time

import pytest

from lmd_studio.app.change_log import ChangeLog
from lmd_studio.app.countdown import CountdownTracker
from lmd_studio.app.jobs import BackgroundJob
from lmd_studio.app.meters import PeakMeter
from lmd_studio.app.scenes import ParamMorph, capture_scene
from lmd_studio.app.tap_tempo import TapTempo
from lmd_studio.app.vocabulary import STARTER_PROMPTS, prompt_suggestions
from lmd_studio.core.params import STANDARD_PARAMS
from lmd_studio.settings.schema import PromptEntry


def test_countdown_runs_down_then_shows_heard_then_clears() -> None:
    c = CountdownTracker(show_heard_s=1.0)
    c.note_change("guidance", now_s=10.0, pending_s=0.4, playing=True)
    assert c.current(10.1)["guidance"].remaining_s == pytest.approx(0.3)
    assert c.current(10.5)["guidance"].heard
    assert "guidance" not in c.current(11.6)
    c.note_change("steps", now_s=0.0, pending_s=0.4, playing=False)  # stopped: nothing to count down to
    assert c.current(0.1) == {}


def test_change_log_coalesces_a_knob_drag() -> None:
    log = ChangeLog(interval_s=0.4)
    for i in range(20):
        log.note("guidance", f"Guidance {i}", {"type": "param", "name": "guidance", "value": i}, now_s=i * 0.01)
    assert log.flush(0.2) is None
    log.note("prompt0", "“rain”", {"type": "prompt", "slot": 0}, now_s=0.3)
    batch = log.flush(0.5)
    assert batch.label == "Guidance 19 +1" and batch.kind == "prompt"
    assert [e.get("value") for e in batch.events if e["type"] == "param"] == [19]
    assert log.flush(10.0) is None


def test_tap_tempo() -> None:
    times = iter([0.0, 0.5, 1.0, 1.625, 10.0, 10.25])
    t = TapTempo(clock=lambda: next(times))
    assert t.tap() is None
    assert t.tap() == 120.0
    assert t.tap() == 120.0
    assert t.tap() == 120.0  # median of 0.5, 0.5, 0.625: one sloppy tap is ignored
    assert t.tap() is None  # a pause starts over
    assert t.tap() == 240.0


def test_param_morph_glides_and_switches_integers_halfway() -> None:
    m = ParamMorph()
    m.start(STANDARD_PARAMS, {"guidance": 1.0, "steps": 4.0, "loudness": 0.6},
            {"guidance": 3.0, "steps": 8.0, "unknown": 5.0}, now_s=0.0, duration_s=2.0)
    assert m.tick(0.5) == {"guidance": pytest.approx(1.0 + 2.0 * 0.15625), "steps": 4.0}
    assert m.tick(1.0)["steps"] == 8.0
    m.cancel("guidance")
    assert m.tick(2.0) == {"steps": 8.0} and not m.active


def test_capture_scene_leaves_out_volume_and_empty_slots() -> None:
    scene = capture_scene("x", (PromptEntry("a", 0.5), PromptEntry("", 1.0)), {"guidance": 2.0, "master_gain_db": -3.0},
                          {"density"}, 3.0, skip=lambda n: n == "master_gain_db")
    assert scene.params == (("guidance", 2.0),) and scene.prompts == (PromptEntry("a", 0.5),)
    assert scene.auto == ("density",) and scene.morph_s == 3.0


def test_peak_meter_ballistics() -> None:
    m = PeakMeter(fall_db_per_s=20.0, hold_s=1.0)
    assert m.update(0.5, 0.0) == pytest.approx(-6.02, abs=0.01)
    assert m.update(0.0, 0.5) == pytest.approx(-16.02, abs=0.01)  # falls 20 dB/s
    assert m.hold_db == pytest.approx(-6.02, abs=0.01)
    m.update(1.0, 0.6)
    assert m.clipped


def test_background_job_reports_progress_result_and_errors() -> None:
    def work(job):
        job.progress(0.5, "halfway")
        time.sleep(0.05)
        return 42

    ok = BackgroundJob("ok", work).start()
    assert ok.wait(5) and ok.result == 42 and ok.view().fraction == 1.0 and ok.view().done

    def fails(job):
        raise ValueError("no model here")

    bad = BackgroundJob("bad", fails).start()
    bad.wait(5)
    assert bad.error == "no model here" and bad.view().stage == "failed"

    def slow(job):
        for _ in range(200):
            time.sleep(0.01)
            job.progress(0.1)

    cancelled = BackgroundJob("slow", slow).start()
    cancelled.cancel()
    cancelled.wait(5)
    assert cancelled.error == "cancelled"


def test_suggestions_prefer_history_then_the_models_vocabulary() -> None:
    class WithVocab:
        prompt_vocabulary = ("bach chorale", "Dusty drums")

    assert prompt_suggestions(WithVocab(), ["dusty drums", "my own"]) == ["dusty drums", "my own", "bach chorale"]
    assert prompt_suggestions(object(), [])[: len(STARTER_PROMPTS)] == list(STARTER_PROMPTS)
