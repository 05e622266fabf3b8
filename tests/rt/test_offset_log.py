"""OffsetLog: the capture/stream → output position map the output stage writes, against a per-frame model."""

from __future__ import annotations

import numpy as np
import pytest

from lmd_studio.rt.offset_log import OffsetLog


@pytest.mark.parametrize("seed", range(4))
def test_segments_and_lookups_match_a_per_frame_model(seed: int) -> None:
    rng = np.random.default_rng(seed)
    log = OffsetLog(slots=64)
    truth: dict[int, int] = {}
    position, output = 0, 0
    for _ in range(40):  # as the output stage: buffers, some partly read (underrun), some skipped (stopped)
        n = 256
        got = int(rng.choice([n, n, n, int(rng.integers(0, n))]))
        if rng.random() < 0.2:
            output += n  # stopped: output moves, the counter does not
            continue
        log.note(position, output, got)
        for k in range(got):
            truth[position + k] = output + k
        position += got
        output += n
    for p, o in truth.items():
        assert log.to_output(p) == o
    for _ in range(50):
        start = int(rng.integers(0, position))
        n = int(rng.integers(1, position - start + 1))
        pieces = log.segments(start, n)
        assert sum(k for _, k, _ in pieces) == n
        for s, k, mapped in pieces:
            assert all(truth[s + j] == mapped + j for j in range(k))


def test_only_changes_are_kept_and_old_ones_roll_off() -> None:
    log = OffsetLog(slots=4)
    for i in range(100):
        log.note(i * 10, i * 10 + 5, 10)  # one constant offset: one entry
    assert log.segments(0, 1000) == [(0, 1000, 5)]
    for i in range(10):
        log.note(1000 + i * 10, 2000 + i * 20, 10)  # a jump every buffer
    assert log.to_output(1095) == 2185
    assert log.to_output(0) is None  # its entry rolled off the 4 slots
    assert log.segments(1085, 10) == [(1085, 5, 2165), (1090, 5, 2180)]


def test_slots_must_be_a_power_of_two() -> None:
    with pytest.raises(ValueError):
        OffsetLog(slots=3)
