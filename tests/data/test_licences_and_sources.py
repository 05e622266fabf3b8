import shutil
from pathlib import Path

import numpy as np
import pytest

from lmd_studio.cli import main as lmd_main
from lmd_studio.data.licences import CC0, PD_SCORE, classify_encoding_text, combine
from lmd_studio.data.plan import Job, build_catalogue
from lmd_studio.data.renders import RenderContext, render_score
from lmd_studio.data.report import build_report, render_markdown
from lmd_studio.data.sources import MissingSourceError, SourcePaths, check_sources
from lmd_studio.data.splits import SplitConfig
from lmd_studio.data.worker import WorkerSetup, init_worker, run_job


def test_noncommercial_sources_are_excluded_unless_asked():
    paths = SourcePaths()
    default = build_catalogue(paths, SplitConfig(), include_noncommercial=False)
    everything = build_catalogue(paths, SplitConfig(), include_noncommercial=True)
    folders = {p.folder for p in default.pieces}
    assert "essenFolksong" not in folders and "palestrina" not in folders
    assert all(p.licence.commercial_ok for p in default.pieces)
    assert {"essenFolksong", "palestrina"} <= {p.folder for p in everything.pieces}
    assert len(everything.pieces) > len(default.pieces) + 1000


def test_noncommercial_render_is_flagged():
    paths = SourcePaths()
    cat = build_catalogue(paths, SplitConfig(), include_noncommercial=True)
    essen = next(p for p in cat.pieces if p.folder == "essenFolksong")
    ctx = RenderContext(paths, {essen.key: essen}, {}, {}, {})
    job = Job("score-essen-test", "score", "train", 1, 5.0, {"piece": essen.key, "soundfont": "FluidR3_GM"})
    res = render_score(job, ctx, np.random.default_rng(1))
    ids, ok = combine(res.licences)
    assert not ok and "LicenseRef-noncommercial" in ids
    assert res.audio.size == pytest.approx(5.0 * 44100, abs=2)


def test_rights_notes_downgrade_a_folder_licence():
    assert classify_encoding_text(PD_SCORE, "<rights>All Rights Reserved</rights>").commercial_ok is False
    assert classify_encoding_text(PD_SCORE, "!!!YEM: Rights to all derivative electronic formats reserved.").spdx \
        == "LicenseRef-restricted"
    assert classify_encoding_text(PD_SCORE, "<rights>Public Domain</rights>") is PD_SCORE
    assert combine([CC0, PD_SCORE, CC0]) == (["CC0-1.0", "PD-score"], True)


def test_missing_package_names_it_and_the_apt_line(tmp_path, capsys):
    paths = SourcePaths(sonic_pi_dir=tmp_path / "nope", sf3_path=tmp_path / "none.sf3")
    with pytest.raises(MissingSourceError) as err:
        check_sources(paths)
    msg = str(err.value)
    assert "sonic-pi-samples" in msg and "musescore-general-soundfont" in msg
    assert "apt-get install sonic-pi-samples musescore-general-soundfont" in msg
    rc = lmd_main(["data", "build", "--size", "tiny", "--out", str(tmp_path / "c"), "--sonic-pi-dir",
                   str(tmp_path / "nope"), "--no-progress"])
    assert rc == 2 and "sonic-pi-samples" in capsys.readouterr().err


def test_corrupt_source_file_is_skipped_and_named(tmp_path):
    real = SourcePaths()
    spi = tmp_path / "samples"
    spi.mkdir()
    for name in ("loop_amen.flac", "drum_snare_hard.flac"):
        shutil.copy(Path(real.sonic_pi_dir) / name, spi / name)
    (spi / "loop_broken.flac").write_bytes(b"fLaC" + bytes(range(256)) * 8)
    paths = SourcePaths(sonic_pi_dir=spi)
    cat = build_catalogue(paths, SplitConfig(), include_noncommercial=False)
    out = tmp_path / "out"
    init_worker(WorkerSetup(out, (paths, {}, {s.name: s for s in cat.samples}, {}, {})))
    results = [run_job((i, Job(f"sample-{n}", "sample", "train", i, 5.0, {"sample": n})))
               for i, n in enumerate(["loop_amen", "loop_broken"])]
    assert "item" in results[0]
    skip = results[1]["skip"]
    assert skip["file"].endswith("loop_broken.flac") and "unreadable audio" in skip["reason"]
    rep = build_report([results[0]["item"]], [skip], {"size": "t", "seed": 0})
    assert rep["skipped"] == 1 and "loop_broken.flac" in render_markdown(rep)


def test_kit_member_sample_travels_with_its_kit(tmp_path):
    paths = SourcePaths()
    cat = build_catalogue(paths, SplitConfig(), include_noncommercial=False)
    group_of = {s.source_id: cat.group_of_sample(s) for s in cat.samples}
    assert group_of["sonicpi:bd_808"] == "sonicpi-kit:sonic-pi-808"
    init_worker(WorkerSetup(tmp_path, (paths, {}, {s.name: s for s in cat.samples}, {}, group_of)))
    res = run_job((0, Job("sample-bd_808-v0", "sample", "train", 3, 5.0, {"sample": "bd_808"})))
    item = res["item"]
    assert item.groups == ["sonicpi-kit:sonic-pi-808"] and "sonicpi:bd_808" in item.sources
