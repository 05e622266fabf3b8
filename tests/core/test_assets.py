"""asset_root finds models/ and resources/ beside the code (checkout, app bundle) or in the installed
companion package (a wheel install), in that order."""

from __future__ import annotations

from importlib.machinery import ModuleSpec
from pathlib import Path

from lmd_studio.core.assets import ASSETS_PACKAGE, CODE_ROOT, asset_root, holds_assets


def _assets(folder: Path) -> Path:
    (folder / "models" / "default").mkdir(parents=True)
    (folder / "resources" / "icons").mkdir(parents=True)
    return folder


def _package_at(folder: Path):
    def find_spec(name: str) -> ModuleSpec | None:
        if name != ASSETS_PACKAGE:
            return None
        spec = ModuleSpec(name, None, is_package=True)
        spec.submodule_search_locations = [str(folder)]
        return spec

    return find_spec


def test_the_checkout_holds_its_assets() -> None:
    assert holds_assets(CODE_ROOT)
    assert asset_root() == CODE_ROOT
    assert (asset_root() / "models" / "default" / "dit.safetensors").is_file()


def test_beside_the_code_wins_over_an_installed_package(tmp_path: Path) -> None:
    code = _assets(tmp_path / "code")
    package = _assets(tmp_path / "site" / ASSETS_PACKAGE)
    assert asset_root(code, _package_at(package)) == code


def test_a_wheel_install_finds_the_companion_package(tmp_path: Path) -> None:
    code = tmp_path / "site-packages"
    code.mkdir()
    package = _assets(code / ASSETS_PACKAGE)
    assert asset_root(code, _package_at(package)) == package


def test_a_stray_models_folder_in_site_packages_is_not_taken_for_ours(tmp_path: Path) -> None:
    code = tmp_path / "site-packages"
    (code / "models").mkdir(parents=True)  # some other distribution's top-level `models`
    package = _assets(code / ASSETS_PACKAGE)
    assert asset_root(code, _package_at(package)) == package


def test_without_assets_anywhere_the_code_root_is_answered(tmp_path: Path) -> None:
    code = tmp_path / "bare"
    code.mkdir()
    assert asset_root(code, lambda name: None) == code
    empty = tmp_path / "empty-package"
    empty.mkdir()
    assert asset_root(code, _package_at(empty)) == code
