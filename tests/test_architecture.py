"""Layering rules that keep the core headless."""

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_engine_indexer_and_cli_never_import_qt():
    modules = [f"{pkg}.{p.stem}" for pkg in ("engine", "indexer", "app")
               for p in (REPO / pkg).glob("*.py") if p.stem != "__init__"]
    code = ("import sys\n" + "".join(f"import {m}\n" for m in modules) +
            "bad = [m for m in sys.modules if m.startswith('PySide6')]\n"
            "assert not bad, bad\n")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO)


def test_no_network_model_downloads_in_the_product():
    patterns = ("from_pretrained(", "hf_hub_download", "snapshot_download", "urlopen(")
    for pkg in ("app", "engine", "indexer", "ui"):
        for path in (REPO / pkg).rglob("*.py"):
            text = path.read_text()
            assert not any(p in text for p in patterns), path
