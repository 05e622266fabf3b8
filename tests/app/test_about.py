"""Help → About's facts (`session.about`) from the real composition root: the version, the model playing and
what it computes on (the CPU features torch really dispatches on), the audio device, the player's folders
and the licences; Report a problem's text carries the same facts."""

from __future__ import annotations

import dataclasses
import importlib.metadata
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

import lmd_studio
from lmd_studio.app.about import (
    LINK_NOTE,
    package_licence,
    runtime_requirements,
    studio_version,
    text_encoder_folder,
)
from lmd_studio.app.bootstrap import build_studio
from lmd_studio.app.session import Session
from lmd_studio.model.cpu_features import probe_cpu_features
from lmd_studio.settings.paths import StudioPaths
from tests.support.model_folders import tiny_model_folder


@pytest.fixture
def home(tmp_path: Path) -> StudioPaths:
    return StudioPaths.under(tmp_path / "home")


@pytest.fixture
def tones(home: StudioPaths) -> Iterator[Session]:
    s = build_studio(home, model="fake", audio="null", midi=False, retro_s=5.0)
    yield s
    s.engine.runtime.shutdown()


def test_the_version_is_the_installed_packages_else_the_source_trees() -> None:
    try:
        installed = importlib.metadata.version("lmd-studio")
    except importlib.metadata.PackageNotFoundError:
        installed = f"{lmd_studio.__version__} (source tree)"
    assert studio_version() == installed
    assert studio_version("lmd-studio-not-installed-anywhere") == f"{lmd_studio.__version__} (source tree)"


def test_the_test_tones_say_no_model_runs(tones: Session, home: StudioPaths) -> None:
    info = tones.about.info()
    assert info.model.label.startswith("Test tones") and info.model.card is None and info.model.compute is None
    assert info.audio.startswith("none (silent) · 48000 Hz")
    folders = {f.label: f.path for f in info.folders}
    assert folders["Settings"] == home.config_dir and folders["Logs"] == home.logs_dir
    assert folders["Recordings"] == home.recordings_dir and folders["Your models"] == home.models_dir
    report = tones.about.report((("Qt", "6.x test"),))
    assert report.startswith(f"LMD Studio {info.version}\n") and "Qt: 6.x test" in report
    assert "Compute: no model runs (test tones)" in report
    for path in folders.values():
        assert str(path) in report


def test_the_recordings_folder_follows_the_settings(tones: Session, tmp_path: Path) -> None:
    tones.apply_settings(dataclasses.replace(tones.settings, recordings_dir=str(tmp_path / "takes")))
    folders = {f.label: f.path for f in tones.about.info().folders}
    assert folders["Recordings"] == tmp_path / "takes"


def test_a_torch_model_reports_the_cpu_features_it_runs_with(home: StudioPaths, tmp_path: Path) -> None:
    folder = tiny_model_folder(tmp_path / "tiny")
    s = build_studio(home, model=str(folder), audio="null", midi=False, retro_s=5.0)
    try:
        m = s.about.info().model
        host = probe_cpu_features()
        assert m.compute is not None and m.folder == folder and m.card is not None
        assert (m.compute.isa, m.compute.onednn, m.compute.bf16_supported) == (host.isa, host.onednn,
                                                                               host.bf16_matmul)
        assert m.compute.dtype == "float32" and m.compute.threads == torch.get_num_threads()
        assert m.card.parameters and m.card.tempo_aware is False
        report = s.about.report()
        assert f"CPU {host.isa}" in report and f"torch {torch.__version__}" in report
        assert m.card.facts() in report
    finally:
        s.engine.runtime.shutdown()


def test_licences_cover_what_ships_and_what_it_runs_on(tones: Session) -> None:
    info = tones.about.info()
    shipped = {e.name: e.licence for e in info.shipped}
    assert shipped["LMD Studio"] == "MIT"
    if text_encoder_folder() is not None:
        assert shipped["all-MiniLM-L6-v2 text encoder"].lower() == "apache-2.0"  # its card's front matter
    names = {e.name for e in info.third_party}
    assert set(runtime_requirements()) == names
    if names:  # an installed package: its requirements, each with what its metadata says
        assert "aalink" in names and "torch" in names
        assert next(e for e in info.third_party if e.name == "aalink").licence.startswith("GNU General Public")
    assert "aalink" in LINK_NOTE and "GPL" in LINK_NOTE and "opt-in" in LINK_NOTE and info.link_note == LINK_NOTE


def test_a_package_without_metadata_has_no_recorded_licence() -> None:
    assert package_licence("no-such-package-for-lmd").licence == ""
    numpy = package_licence("numpy")
    assert numpy.version and "BSD" in numpy.licence
