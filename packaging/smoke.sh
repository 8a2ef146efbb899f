#!/usr/bin/env bash
# Smoke-test the bundle built by packaging/build.sh, as a user without Python would run
# it: index resources/sample, search it, and take the GUI's screenshots (under Xvfb when
# xvfb-run exists, else Qt's offscreen platform). Everything goes to a temporary HOME.
set -euo pipefail
cd "$(dirname "$0")/.."
bundle="${1:-dist/deskfind/deskfind}"
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
start=$(date +%s.%N)
"$bundle" search "my coffee tastes sour" -n 3 | tee "$work/search.txt"
end=$(date +%s.%N)
grep -q espresso.md "$work/search.txt"
echo "search (first, cold model cache already built by index): $(echo "$end - $start" | bc) s"
# Under Xvfb the bundled Qt needs the xcb libraries .ci/run installs with it.
if command -v xvfb-run >/dev/null 2>&1; then
  xvfb-run -a "$bundle" gui --screenshot "$work/shots"
else
  QT_QPA_PLATFORM=offscreen "$bundle" gui --screenshot "$work/shots"
fi
ls "$work/shots"/main-window.png
mkdir -p build/smoke && cp "$work/shots"/*.png build/smoke/
echo "smoke test passed; screenshots in build/smoke/"
