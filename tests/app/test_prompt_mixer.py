from __future__ import annotations

import pytest

from lmd_studio.app.prompt_mixer import PromptMixer
from lmd_studio.core.generator import normalized_prompt_mix
from lmd_studio.settings.schema import PromptEntry


def _weights(mix) -> dict[str, float]:
    return {p.text: p.weight for p in mix}


def test_text_change_crossfades_old_out_and_new_in() -> None:
    m = PromptMixer(slots=2, morph_s=2.0, publish_interval_s=0.0)
    m.load((PromptEntry("piano", 1.0),), now_s=0.0, morph_s=0.0)
    assert _weights(m.tick(0.0)) == {"piano": 1.0}
    m.set_text(0, "organ", now_s=10.0)
    mid = _weights(m.mix(11.0))  # halfway: smoothstep(0.5) = 0.5
    assert mid["piano"] == pytest.approx(0.5) and mid["organ"] == pytest.approx(0.5)
    quarter = _weights(m.mix(10.5))  # smoothstep(0.25) = 0.15625
    assert quarter["organ"] == pytest.approx(0.15625) and quarter["piano"] == pytest.approx(0.84375)
    assert _weights(m.tick(12.0)) == {"organ": 1.0}  # settled: the old text is gone
    assert not m.morphing


def test_weight_moves_are_immediate_and_shares_are_normalised() -> None:
    m = PromptMixer(slots=3, morph_s=5.0, publish_interval_s=0.0)
    m.load((PromptEntry("a", 1.0), PromptEntry("b", 0.5), PromptEntry("c", 0.5, enabled=False)), 0.0, 0.0)
    m.tick(0.0)
    m.set_weight(1, 1.0, now_s=1.0)
    assert _weights(m.tick(1.0)) == {"a": 1.0, "b": 1.0}
    assert m.shares(1.0) == pytest.approx((0.5, 0.5, 0.0))
    assert dict(normalized_prompt_mix(m.mix(1.0))) == pytest.approx({"a": 0.5, "b": 0.5})


def test_switching_a_slot_off_fades_it_out_and_back_in() -> None:
    m = PromptMixer(slots=2, morph_s=1.0, publish_interval_s=0.0)
    m.load((PromptEntry("a", 1.0), PromptEntry("b", 1.0)), 0.0, 0.0)
    m.tick(0.0)
    m.set_enabled(1, False, now_s=0.0)
    assert 0.0 < _weights(m.mix(0.5))["b"] < 1.0
    assert _weights(m.tick(1.0)) == {"a": 1.0}
    m.set_enabled(1, True, now_s=2.0)
    assert _weights(m.tick(3.0)) == {"a": 1.0, "b": 1.0}


def test_publishing_is_rate_limited_while_morphing_but_always_lands() -> None:
    m = PromptMixer(slots=1, morph_s=1.0, publish_interval_s=0.25)
    m.load((PromptEntry("a", 1.0),), 0.0, 0.0)
    m.tick(0.0)
    m.set_text(0, "b", now_s=0.0)
    published = [t for t in [i * 0.05 for i in range(1, 30)] if m.tick(t) is not None]
    gaps = [b - a for a, b in zip(published, published[1:])]
    assert all(g >= 0.25 - 1e-9 for g in gaps[:-1])
    assert published[-1] == pytest.approx(1.0) or published[-1] > 1.0
    assert _weights(m.mix(2.0)) == {"b": 1.0} and m.tick(2.0) is None  # nothing new to publish


def test_bad_slot_and_clamped_weight() -> None:
    m = PromptMixer(slots=2)
    with pytest.raises(IndexError):
        m.set_text(2, "x", 0.0)
    m.set_weight(0, 7.0, 0.0)
    assert m.entries()[0].weight == 1.0
    with pytest.raises(ValueError):
        PromptMixer(slots=9)
