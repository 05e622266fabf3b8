"""`make app`: the one-folder app (dist/lmd-studio/) and its tar.gz for Linux.

    .venv/bin/python packaging/build_app.py [--if-stale] [--no-tar]

1. PyInstaller builds packaging/lmd-studio.spec into dist/lmd-studio/ (work files in build/pyinstaller/).
2. The folder gets its launcher (start-lmd-studio), install-desktop.sh with the .desktop template, and a
   README.txt for the person who unpacked it.
3. dist/lmd-studio-<version>-linux-<machine>.tar.gz holds the folder. An AppImage needs appimagetool and its
   runtime, which no package registry here carries: it is built only when `appimagetool` is on PATH.

Writes build/app-build.json (build seconds, folder size) for packaging/app_check.py. `--if-stale` skips the
build when the folder is newer than everything that goes into it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path

# run as a script, this folder is on sys.path (tests/packaging/support.py adds it for the tests)
import app_bundle as bundle

ROOT = bundle.ROOT
SPEC = ROOT / "packaging" / "lmd-studio.spec"
DIST = ROOT / "dist"
WORK = ROOT / "build" / "pyinstaller"
APP_DIR = DIST / bundle.APP_NAME
BUILD_INFO = ROOT / "build" / "app-build.json"
# what the folder is built from: a newer file here means the folder is stale
INPUTS = ("lmd_studio", "packaging", "models/default", "resources", "pyproject.toml")


def version(root: Path = ROOT) -> str:
    import tomllib

    with open(root / "pyproject.toml", "rb") as f:
        return str(tomllib.load(f)["project"]["version"])


def tarball_path(dist: Path = DIST) -> Path:
    return dist / f"{bundle.APP_NAME}-{version()}-linux-{platform.machine()}.tar.gz"


def folder_size_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())


def newest_input_mtime(root: Path = ROOT) -> float:
    newest = 0.0
    for name in INPUTS:
        path = root / name
        files = [path] if path.is_file() else (p for p in path.rglob("*") if p.is_file())
        for f in files:
            if "__pycache__" not in f.parts:
                newest = max(newest, f.stat().st_mtime)
    return newest


def is_stale(app_dir: Path = APP_DIR) -> bool:
    program = app_dir / bundle.APP_NAME
    return not program.is_file() or program.stat().st_mtime < newest_input_mtime()


def run_pyinstaller() -> None:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p))
    cmd = [sys.executable, "-m", "PyInstaller", "--noconfirm", "--log-level", "WARN",
           "--distpath", str(DIST), "--workpath", str(WORK), str(SPEC)]
    subprocess.run(cmd, env=env, cwd=ROOT, check=True)


def strip_libraries(app_dir: Path = APP_DIR) -> list[str]:
    """`strip --strip-unneeded` the libraries bundle.STRIPPED_LIBRARIES names (where strip exists)."""
    tool = shutil.which("strip")
    if tool is None:
        print("build_app: no strip on PATH: libraries keep their symbol tables (a bigger folder)")
        return []
    done = []
    for rel in bundle.STRIPPED_LIBRARIES:
        lib = app_dir / "_internal" / rel
        if lib.is_file():
            subprocess.run([tool, "--strip-unneeded", str(lib)], check=True)
            done.append(rel)
    return done


def add_folder_extras(app_dir: Path = APP_DIR) -> None:
    """What a person unpacking the folder needs beside the program."""
    for src, name in ((bundle.LAUNCHER, bundle.LAUNCHER.name), (bundle.INSTALL_DESKTOP, bundle.INSTALL_DESKTOP.name),
                      (bundle.DESKTOP_FILE, bundle.DESKTOP_FILE.name),
                      (ROOT / "packaging" / "app-readme.txt", "README.txt")):
        shutil.copy2(src, app_dir / name)
    for name in (bundle.LAUNCHER.name, bundle.INSTALL_DESKTOP.name):
        (app_dir / name).chmod(0o755)


def make_tarball(app_dir: Path = APP_DIR, out: Path | None = None) -> Path:
    out = out or tarball_path()
    tmp = out.with_name(out.name + ".part")
    with tarfile.open(tmp, "w:gz", compresslevel=6) as tar:
        tar.add(app_dir, arcname=app_dir.name)  # keeps modes (the programs stay executable) and symlinks
    tmp.replace(out)
    return out


def make_appimage(app_dir: Path = APP_DIR) -> Path | None:
    tool = shutil.which("appimagetool")
    if tool is None:
        print("build_app: no appimagetool on PATH (no package registry here carries it): tar.gz only")
        return None
    appdir = WORK / "AppDir"
    shutil.rmtree(appdir, ignore_errors=True)
    shutil.copytree(app_dir, appdir / "usr" / "lib" / bundle.APP_NAME, symlinks=True)
    (appdir / "AppRun").write_text(f'#!/bin/sh\nexec "$(dirname "$(readlink -f "$0")")/usr/lib/{bundle.APP_NAME}/'
                                   f'{bundle.APP_NAME}" "$@"\n')
    (appdir / "AppRun").chmod(0o755)
    shutil.copy2(bundle.DESKTOP_FILE, appdir / bundle.DESKTOP_FILE.name)
    shutil.copy2(ROOT / "resources" / "icons" / f"{bundle.APP_NAME}-256.png", appdir / f"{bundle.APP_NAME}.png")
    out = DIST / f"{bundle.APP_NAME}-{version()}-{platform.machine()}.AppImage"
    subprocess.run([tool, str(appdir), str(out)], check=True, env=dict(os.environ, ARCH=platform.machine()))
    return out


def build(tar: bool = True) -> dict:
    t0 = time.perf_counter()
    run_pyinstaller()
    strip_libraries()
    add_folder_extras()
    build_s = time.perf_counter() - t0
    info: dict = {"build_s": round(build_s, 1), "app_dir": str(APP_DIR),
                  "app_size_mb": round(folder_size_bytes(APP_DIR) / 1e6, 1)}
    if tar:
        t1 = time.perf_counter()
        archive = make_tarball()
        info |= {"tarball": str(archive), "tarball_mb": round(archive.stat().st_size / 1e6, 1),
                 "tarball_s": round(time.perf_counter() - t1, 1)}
        appimage = make_appimage()
        info["appimage"] = str(appimage) if appimage else None
    BUILD_INFO.parent.mkdir(parents=True, exist_ok=True)
    BUILD_INFO.write_text(json.dumps(info, indent=2) + "\n")
    return info


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="build the one-folder LMD Studio app")
    p.add_argument("--if-stale", action="store_true", help="skip when dist/lmd-studio is newer than its inputs")
    p.add_argument("--no-tar", action="store_true", help="the folder only, no tar.gz")
    args = p.parse_args(argv)
    if args.if_stale and not is_stale():
        print(f"build_app: {APP_DIR} is up to date")
        return 0
    info = build(tar=not args.no_tar)
    for key, value in info.items():
        print(f"{key:<12} {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
