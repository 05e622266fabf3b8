"""What a take's sidecar promises: the writer's own dropouts and clipping, the app's figures given at stop
(even when the disk failed first), and a lock that keeps start-up recovery off a take still being written."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import soundfile as sf

from lmd_studio.engine.recorder import Recorder
from lmd_studio.engine.recovery import find_unfinished_takes
from lmd_studio.engine.take_files import read_sidecar, sidecar_path_for
from tests.support.mounts import tiny_filesystem
from tests.support.record_child import CHANNELS, SAMPLE_RATE_HZ, signal_at

STATS = {"dropouts": {"underruns": 3, "underrun_frames": 4800},
         "clipping": {"clipped_samples_pre_limiter": 17},
         "steps": {"requested": 4, "run_min": 1, "run_max": 2, "blocks_by_steps": {"1": 5, "2": 1}}}


def test_a_take_being_written_is_not_taken_for_a_crashed_one(tmp_path: Path) -> None:
    rec = Recorder()
    path = rec.start(tmp_path / "live.wav", SAMPLE_RATE_HZ, CHANNELS)
    rec.consume(signal_at(0, 960), 0)
    assert read_sidecar(sidecar_path_for(path))["status"] == "recording"  # what a crash would leave, too
    assert find_unfinished_takes(tmp_path) == []  # its writer holds the lock: alive, not crashed
    assert rec.stop().ok
    assert read_sidecar(sidecar_path_for(path))["status"] == "complete"


def test_dropouts_and_clipping_combine_the_writer_and_the_engine(tmp_path: Path) -> None:
    rec = Recorder()
    path = rec.start(tmp_path / "take.wav", SAMPLE_RATE_HZ, CHANNELS)
    loud = signal_at(0, 960) * 4.0  # the sine peaks at 2.0, the ramp at 2.0: many samples beyond full scale
    rec.consume(loud, 0)
    rec.consume(signal_at(960 + 480, 960), 960 + 480)  # a 480-frame gap in the stream: written as silence
    result = rec.stop(STATS)
    side = read_sidecar(result.sidecar_path)
    drop = side["dropouts"]
    assert drop["silence_filled_frames"] == 480 and drop["underrun_frames"] == 4800 and drop["underruns"] == 3
    assert drop["total_frames"] == 480 + 4800 and drop["total_s"] == (480 + 4800) / SAMPLE_RATE_HZ
    assert drop["underrun_s"] == 0.1 and drop["silence_filled_s"] == 0.01 and drop["dropped_frames"] == 0
    assert side["clipping"] == {"clipped_samples_in_file": int(np.count_nonzero(np.abs(loud) > 1.0)),
                                "clipped_samples_pre_limiter": 17}
    assert side["clipping"]["clipped_samples_in_file"] > 0
    assert side["steps"] == STATS["steps"]
    got, _ = sf.read(str(path), dtype="float32")
    assert np.abs(got).max() <= 1.0


def test_without_engine_figures_the_sidecar_says_unknown_not_zero(tmp_path: Path) -> None:
    rec = Recorder()
    rec.start(tmp_path / "take.wav", SAMPLE_RATE_HZ, CHANNELS)
    rec.consume(signal_at(0, 960), 0)
    side = read_sidecar(rec.stop().sidecar_path)
    assert side["dropouts"]["underrun_frames"] is None and side["dropouts"]["underrun_s"] is None
    assert side["dropouts"]["total_frames"] == 0 and side["clipping"] == {"clipped_samples_in_file": 0}


def test_a_take_the_disk_failed_still_gets_the_figures_given_at_stop(tmp_path: Path) -> None:
    with tiny_filesystem(tmp_path, size_kib=256) as disk:
        rec = Recorder()
        path = rec.start(disk / "full.wav", SAMPLE_RATE_HZ, CHANNELS)
        pos = 0
        deadline = time.monotonic() + 10
        while rec.error is None and time.monotonic() < deadline:
            rec.consume(signal_at(pos, 960), pos)
            pos += 960
            time.sleep(0.001)
        assert rec.error is not None and "disk full" in rec.error
        time.sleep(0.2)  # the writer has written its "failed" sidecar by now, without the app's figures
        result = rec.stop(STATS)
        side = read_sidecar(sidecar_path_for(path))
        assert side["status"] == "failed" and "disk full" in side["error"]
        assert side["dropouts"]["underrun_frames"] == 4800 and side["steps"] == STATS["steps"]
        assert side["frames_written"] == result.frames_written == sf.info(str(path)).frames > 0
