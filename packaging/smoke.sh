#!/usr/bin/env bash
# Smoke-test the bundle built by packaging/build.sh, as a user without Python would run
# it: index resources/sample, search it, and take the GUI's screenshots (under Xvfb when
# xvfb-run exists, else Qt's offscreen platform). Everything goes to a temporary HOME.
#
#   packaging/smoke.sh [BUNDLE]              with a clean PATH on this machine
#   packaging/smoke.sh --no-python [BUNDLE]  the same inside packaging/without-python.sh:
#                                            a root where no Python, venv or pip exists,
#                                            checked before the bundle runs
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = --no-python ]; then
  bundle="${2:-dist/deskfind/deskfind}"
  exec packaging/without-python.sh "$(dirname "$bundle")" \
    bash packaging/smoke.sh dist/deskfind/"$(basename "$bundle")"
fi
bundle="${1:-dist/deskfind/deskfind}"
if [ "${DESKFIND_NO_PYTHON:-0}" = 1 ]; then
  # Inside without-python.sh: show that no Python can run here before the bundle does.
  for program in python python3 python3.{8..14} pip pip3 /usr/bin/python3 \
                 /usr/local/bin/python3; do
    if "$program" -c "print('python runs')" 2>/dev/null \
        || "$program" --version >/dev/null 2>&1; then
      echo "smoke: $program runs inside the no-Python root" >&2
      exit 1
    fi
  done
  stdlib="$(find / -path /proc -prune -o -path /sys -prune -o -path /dev -prune \
    -o -path /repo/dist -prune -o -name os.py -print 2>/dev/null | head -5)"
  if [ -n "$stdlib" ]; then
    echo "smoke: a Python standard library is visible: $stdlib" >&2
    exit 1
  fi
  echo "no Python here: no python, python3, pip or pip3 runs, and no os.py outside the bundle"
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
export HOME="$work/home" XDG_DATA_HOME="$work/home/.local/share" \
  XDG_CONFIG_HOME="$work/home/.config" XDG_CACHE_HOME="$work/home/.cache" \
  XDG_STATE_HOME="$work/home/.local/state"
unset DESKFIND_DATA_DIR DESKFIND_CONFIG DESKFIND_CACHE_DIR DESKFIND_LOG_DIR PYTHONPATH
# No Python of ours on the way: a clean PATH.
export PATH=/usr/bin:/bin
mkdir -p "$HOME"
"$bundle" --version
"$bundle" index resources/sample
start=$(date +%s%N)
"$bundle" search "my coffee tastes sour" -n 3 | tee "$work/search.txt"
end=$(date +%s%N)
grep -q espresso.md "$work/search.txt"
echo "search: $(( (end - start) / 1000000 )) ms (page cache warm from the index run; cold" \
  "start: tests/bench/bench_bundle_start.py)"
# The menu entry starts this bundle, validates, and uninstall leaves nothing behind.
"$bundle" desktop install
entry="$XDG_DATA_HOME/applications/deskfind.desktop"
grep -qxF "Exec=$(realpath "$bundle") gui" "$entry"
if command -v desktop-file-validate >/dev/null 2>&1; then desktop-file-validate "$entry"; fi
"$bundle" desktop uninstall
for left in "$XDG_DATA_HOME/applications" "$XDG_DATA_HOME/icons" "$XDG_CONFIG_HOME/autostart"; do
  if [ -e "$left" ]; then echo "smoke: desktop uninstall left $left" >&2; exit 1; fi
done
# Under Xvfb the bundled Qt needs the xcb libraries .ci/run installs with it.
if command -v xvfb-run >/dev/null 2>&1; then
  xvfb-run -a "$bundle" gui --screenshot "$work/shots"
else
  QT_QPA_PLATFORM=offscreen "$bundle" gui --screenshot "$work/shots"
fi
ls "$work/shots"/main-window.png
mkdir -p build/smoke && cp "$work/shots"/*.png build/smoke/
echo "smoke test passed; screenshots in build/smoke/"
