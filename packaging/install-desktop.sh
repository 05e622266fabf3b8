#!/usr/bin/env bash
# Puts LMD Studio in this user's application menu (no root needed), or takes it out again.
#
#     packaging/install-desktop.sh                  # from a checkout: the .venv's lmd-studio
#     ./install-desktop.sh                          # from the unpacked app folder: its own lmd-studio
#     install-desktop.sh --exec /path/to/lmd-studio # any other install (a wheel in some venv)
#     install-desktop.sh --uninstall
#
# Writes $XDG_DATA_HOME/applications/lmd-studio.desktop (default ~/.local/share) with Exec= pointing at the
# program found, and the icon into the hicolor theme there (every PNG size, plus the SVG as scalable).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
DATA="${XDG_DATA_HOME:-$HOME/.local/share}"
APP_ID="lmd-studio"
SIZES="16 24 32 48 64 128 256 512"
DESKTOP_OUT="$DATA/applications/$APP_ID.desktop"

usage() { sed -n '2,10s/^# \{0,1\}//p' "$0"; }

uninstall() {
    rm -f "$DESKTOP_OUT"
    for n in $SIZES; do rm -f "$DATA/icons/hicolor/${n}x${n}/apps/$APP_ID.png"; done
    rm -f "$DATA/icons/hicolor/scalable/apps/$APP_ID.svg"
    refresh
    echo "removed LMD Studio from the application menu ($DESKTOP_OUT)"
}

# menus and icon caches pick up changes by themselves on most desktops; these make it immediate
refresh() {
    if command -v update-desktop-database >/dev/null 2>&1; then
        update-desktop-database -q "$DATA/applications" 2>/dev/null || true
    fi
    if command -v gtk-update-icon-cache >/dev/null 2>&1 && [ -f "$DATA/icons/hicolor/index.theme" ]; then
        gtk-update-icon-cache -q -t "$DATA/icons/hicolor" 2>/dev/null || true
    fi
}

# the first of: the app folder this script sits in, lmd-studio on PATH, a checkout's .venv
find_exec() {
    local c
    for c in "$HERE/lmd-studio" "$(command -v lmd-studio 2>/dev/null || true)" "$HERE/../.venv/bin/lmd-studio"; do
        if [ -n "$c" ] && [ -f "$c" ] && [ -x "$c" ]; then
            (cd "$(dirname "$c")" && echo "$(pwd)/$(basename "$c")")
            return 0
        fi
    done
    return 1
}

# the icons: under _internal/ in the app folder, at the top of a checkout
find_icons() {
    local c
    for c in "$HERE/_internal/resources/icons" "$HERE/../resources/icons"; do
        if [ -d "$c" ]; then echo "$c"; return 0; fi
    done
    return 1
}

EXEC=""
while [ $# -gt 0 ]; do
    case "$1" in
        --uninstall) uninstall; exit 0 ;;
        --exec) EXEC="${2:?--exec needs a path}"; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        *) echo "install-desktop.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
    esac
done

if [ -z "$EXEC" ]; then
    EXEC="$(find_exec)" || {
        echo "install-desktop.sh: no lmd-studio program found here, on PATH or in .venv; pass --exec PATH" >&2
        exit 1
    }
fi
case "$EXEC" in /*) ;; *) EXEC="$(pwd)/$EXEC" ;; esac
# the template sits beside this script, in packaging/ and in the app folder alike
TEMPLATE="$HERE/lmd-studio.desktop"
[ -f "$TEMPLATE" ] || { echo "install-desktop.sh: $TEMPLATE not found" >&2; exit 1; }
ICONS="$(find_icons)" || { echo "install-desktop.sh: resources/icons not found" >&2; exit 1; }

# the desktop entry spec: an Exec argument with spaces is double-quoted, and \ " ` $ inside it escaped
quoted="$(printf '%s' "$EXEC" | sed -e 's/[\\"`$]/\\&/g')"
case "$EXEC" in *[[:space:]]*) quoted="\"$quoted\"" ;; esac
mkdir -p "$DATA/applications"
# a bash loop rather than sed: the path may hold any character sed would read as syntax
while IFS= read -r line || [ -n "$line" ]; do
    case "$line" in
        Exec=*) printf 'Exec=%s\n' "$quoted" ;;
        TryExec=*) ;;
        *) printf '%s\n' "$line" ;;
    esac
done < "$TEMPLATE" > "$DESKTOP_OUT.tmp"
printf 'TryExec=%s\n' "$EXEC" >> "$DESKTOP_OUT.tmp"  # hides the entry once the program is gone
mv "$DESKTOP_OUT.tmp" "$DESKTOP_OUT"
for n in $SIZES; do
    install -D -m 644 "$ICONS/$APP_ID-$n.png" "$DATA/icons/hicolor/${n}x${n}/apps/$APP_ID.png"
done
install -D -m 644 "$ICONS/$APP_ID.svg" "$DATA/icons/hicolor/scalable/apps/$APP_ID.svg"
refresh
echo "LMD Studio is in the application menu: $DESKTOP_OUT"
echo "  runs $EXEC"
echo "  undo: $0 --uninstall"
