"""models/training-state/resume.sh walks Model v2's chain in order, skips what is done, unpacks packs whose
run folders are missing, and stops at its deadline — run for real with a stand-in `lmd` that records its
arguments and answers like the real one (a stage writes summary.json, a build report.json)."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "models" / "training-state" / "resume.sh"

FAKE_LMD = r"""#!/usr/bin/env bash
echo "$*" >> "$FAKE_LOG"
out=""; prev=""
for a in "$@"; do [ "$prev" = "--out" ] && out=$a; prev=$a; done
case "$1 $2" in
  "data build") mkdir -p "$out"; echo '{}' > "$out/report.json" ;;
  "train unpack") mkdir -p "$out"; touch "$out/last.pt" ;;
  "train latents") ;;
  "train "*)
    mkdir -p "$out"; status=done
    [ "$(basename "$out")" = "${FAKE_STOP_STAGE:-}" ] && status=stopped
    echo "{\"status\": \"$status\"}" > "$out/summary.json" ;;
esac
"""


@pytest.fixture()
def chain(tmp_path: Path):
    """A repository-shaped folder holding the real script, a runs folder beside it and a recording lmd."""
    repo = tmp_path / "repo"
    (repo / "models" / "training-state").mkdir(parents=True)
    shutil.copy(SCRIPT, repo / "models" / "training-state" / "resume.sh")
    fake = tmp_path / "lmd"
    fake.write_text(FAKE_LMD)
    fake.chmod(0o755)
    runs = tmp_path / "runs"
    log = tmp_path / "calls.log"

    def run(**env: str) -> tuple[subprocess.CompletedProcess, list[str]]:
        full_env = {**{k: v for k, v in os.environ.items() if k != "STOP_AT"}, "LMD": str(fake), "RUNS": str(runs), "FAKE_LOG": str(log), **env}
        proc = subprocess.run(["bash", str(repo / "models" / "training-state" / "resume.sh")], env=full_env,
                              capture_output=True, text=True, timeout=60)
        calls = log.read_text().splitlines() if log.exists() else []
        log.unlink(missing_ok=True)
        return proc, [c.replace(str(runs), "RUNS") for c in calls]

    return repo, runs, run


def _mark_done(runs: Path, *stages: str) -> None:
    for stage in stages:
        (runs / stage).mkdir(parents=True, exist_ok=True)
        (runs / stage / "summary.json").write_text('{"status": "done"}')


def test_a_fresh_machine_builds_each_stage_data_before_the_stage_that_needs_it(chain) -> None:
    _, _, run = chain
    proc, calls = run(MINUTES="60")
    assert proc.returncode == 0, proc.stderr
    steps = [" ".join(c.split()[:2]) for c in calls]
    assert steps == [
        "data build", "train latents", "train base",
        "data build", "train latents", "train lmdm",
        "data build", "train latents", "train lmdm",
        "train arc", "train codec2",
    ]
    builds = [c for c in calls if c.startswith("data build")]
    assert "--no-stems --no-revoice" in builds[0]           # base: neither
    assert "--no-revoice" in builds[1] and "--no-stems" not in builds[1]  # LMDM: partner stems
    assert "--no-stems" not in builds[2] and "--no-revoice" not in builds[2]  # delay: re-voiced renders too
    lmdm, delay = [c for c in calls if c.startswith("train lmdm")]
    assert "lmdm_v2.json" in lmdm and "--init RUNS/v2-base" in lmdm and "--out RUNS/v2-lmdm" in lmdm
    assert "lmdm_delay_v2.json" in delay and "--init RUNS/v2-lmdm" in delay and "--out RUNS/v2-delay" in delay
    arc, codec = calls[-2:]
    assert "codec2_v1space.json" in codec and "--out RUNS/codec2-v1space" in codec and "--corpus" in codec
    assert "arc_v2.json" in arc and "--init RUNS/v2-delay" in arc and "--out RUNS/v2-arc" in arc
    minutes = int(calls[2].split("--max-minutes ")[1])
    assert 55 <= minutes <= 60
    assert "the chain is done" in proc.stdout


def test_a_pack_without_its_run_folder_is_unpacked_and_its_stage_resumes(chain) -> None:
    repo, runs, run = chain
    (repo / "models" / "training-state" / "v2-base.safetensors").write_bytes(b"pack")
    (runs / "corpus-full2").mkdir(parents=True)
    (runs / "corpus-full2" / "report.json").write_text("{}")
    proc, calls = run(MINUTES="30", FAKE_STOP_STAGE="v2-base")
    assert proc.returncode == 0, proc.stderr
    assert calls[0].startswith("train unpack") and calls[0].endswith("--out RUNS/v2-base")
    assert [c.split(" --")[0] for c in calls[1:]] == ["train latents", "train base"]  # corpus kept, no rebuild
    assert "stopped before its last step" in proc.stdout


def test_an_unpacked_run_is_not_unpacked_again(chain) -> None:
    repo, runs, run = chain
    (repo / "models" / "training-state" / "v2-base.safetensors").write_bytes(b"pack")
    (runs / "v2-base").mkdir(parents=True)
    (runs / "v2-base" / "last.pt").write_bytes(b"ckpt")
    _, calls = run(MINUTES="30", FAKE_STOP_STAGE="v2-base")
    assert not any(c.startswith("train unpack") for c in calls)


def test_done_stages_are_skipped_and_a_stopped_stage_ends_the_session(chain) -> None:
    _, runs, run = chain
    _mark_done(runs, "v2-base")
    proc, calls = run(MINUTES="30", FAKE_STOP_STAGE="v2-lmdm")
    assert proc.returncode == 0, proc.stderr
    assert [c.split(" --")[0] for c in calls] == ["data build", "train latents", "train lmdm"]
    assert not any("delay" in c or c.startswith("train arc") for c in calls)


def test_a_finished_chain_runs_nothing(chain) -> None:
    _, runs, run = chain
    _mark_done(runs, "v2-base", "v2-lmdm", "v2-delay", "v2-arc", "codec2-v1space")
    proc, calls = run(MINUTES="30")
    assert proc.returncode == 0 and calls == []
    assert "the chain is done" in proc.stdout


def test_a_passed_deadline_starts_nothing(chain) -> None:
    _, runs, run = chain
    _mark_done(runs, "v2-base")
    proc, calls = run(MINUTES="3")
    assert proc.returncode == 0, proc.stderr
    assert calls == []
    assert "deadline reached before" in proc.stdout


def test_stop_at_sets_the_deadline_the_stages_get(chain) -> None:
    _, runs, run = chain
    _mark_done(runs, "v2-base", "v2-lmdm", "v2-delay")
    proc, calls = run(STOP_AT=f"@{int(time.time()) + 20 * 60}")
    assert proc.returncode == 0, proc.stderr
    assert len(calls) == 2 and calls[0].startswith("train arc") and calls[1].startswith("train codec2")
    assert 18 <= int(calls[0].split("--max-minutes ")[1]) <= 20


def test_a_stop_at_that_is_not_a_time_is_named_and_nothing_runs(chain) -> None:
    _, _, run = chain
    proc, calls = run(STOP_AT="half past")
    assert proc.returncode == 2 and calls == []
    assert "STOP_AT='half past' is not a time" in proc.stderr and "Traceback" not in proc.stderr


def test_after_model_v2_the_codec_trains_on_its_latent_space(chain) -> None:
    _, runs, run = chain
    _mark_done(runs, "v2-base", "v2-lmdm", "v2-delay", "v2-arc")
    proc, calls = run(MINUTES="30", FAKE_STOP_STAGE="codec2-v1space")
    assert proc.returncode == 0, proc.stderr
    assert [c.split(" --")[0] for c in calls] == ["train codec2"]
    assert "Model v2's chain is done" in proc.stdout and "stopped before its last step" in proc.stdout
