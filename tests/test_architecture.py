"""Layering rules that keep the core headless."""

import ast
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


def _imports() -> dict[str, set[str]]:
    """Each product module's imports of other product modules, as written (those under
    `if TYPE_CHECKING:` are for the type checker only and do not count)."""
    modules = {}
    for pkg in ("app", "engine", "indexer", "ui"):
        for path in (REPO / pkg).rglob("*.py"):
            name = ".".join(path.relative_to(REPO).with_suffix("").parts)
            modules[name.removesuffix(".__init__")] = path
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text())
        typing_only = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If)
                       and ast.unparse(node.test) in ("TYPE_CHECKING", "typing.TYPE_CHECKING")
                       for n in ast.walk(node)}
        found: set[str] = set()
        for node in ast.walk(tree):
            if id(node) in typing_only:
                continue
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.update(t for t in (node.module, *(f"{node.module}.{a.name}"
                                                        for a in node.names)) if t in modules)
            elif isinstance(node, ast.Import):
                found.update(a.name for a in node.names if a.name in modules)
        graph[name] = found - {name}
    return graph


def test_the_import_graph_has_no_cycle():
    graph = _imports()
    done: set[str] = set()

    def visit(name: str, path: list[str]) -> None:
        if name in path:
            raise AssertionError(" -> ".join(path[path.index(name):] + [name]))
        if name in done:
            return
        for other in sorted(graph[name]):
            visit(other, [*path, name])
        done.add(name)

    for name in sorted(graph):
        visit(name, [])


def test_the_core_never_reaches_up_into_the_gui():
    up = {(name, other) for name, found in _imports().items()
          if not name.startswith("ui") for other in found if other.startswith("ui")}
    assert not up  # the `deskfind` program (ui/command.py) brings the GUI to the CLI
