#!/usr/bin/env bash
# Creates .venv with everything LMD Studio needs. Idempotent; `make run` and `make test` call it.
# Order matters: torch==2.13.0 goes in first (a local CPU wheel); any other spec would pull GBs of CUDA.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"
VENV=".venv"

if ! command -v "$PY" >/dev/null 2>&1; then
    echo "error: $PY not found; install Python >= 3.10" >&2; exit 1
fi
"$PY" - <<'PYEOF' || { echo "error: LMD Studio needs Python >= 3.10" >&2; exit 1; }
import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)
PYEOF

# --- system packages ---------------------------------------------------------------------------
mapfile -t APT_PKGS < <(grep -v '^\s*#' packaging/apt-packages.txt | grep -v '^\s*$')
missing=()
if command -v dpkg-query >/dev/null 2>&1; then
    for p in "${APT_PKGS[@]}"; do
        if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
            missing+=("$p")
        fi
    done
    if ((${#missing[@]})); then
        echo "setup: installing system packages: ${missing[*]}"
        if [ "$(id -u)" = "0" ]; then SUDO=""
        elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then SUDO="sudo -n"
        else
            echo "error: these system packages are missing and I cannot install them without a password:" >&2
            echo "    sudo apt-get install -y ${missing[*]}" >&2
            echo "run that line, then run make again." >&2
            exit 1
        fi
        $SUDO apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}"
    fi
else
    echo "setup: no dpkg here; make sure these are installed: ${APT_PKGS[*]}" >&2
fi

# --- python environment --------------------------------------------------------------------------
if [ ! -x "$VENV/bin/python" ]; then
    echo "setup: creating $VENV"
    "$PY" -m venv "$VENV"
    "$VENV/bin/pip" install -q --upgrade pip
fi
if ! "$VENV/bin/python" -c "import torch, sys; sys.exit(0 if torch.__version__.startswith('2.13.0') else 1)" 2>/dev/null; then
    echo "setup: installing torch==2.13.0 (CPU)"
    "$VENV/bin/pip" install -q torch==2.13.0
fi
echo "setup: installing lmd-studio and its dependencies"
"$VENV/bin/pip" install -q -e ".[dev]"
touch "$VENV/.installed"
echo "setup: done"
