"""Shared fixtures: temporary stores and the real default model."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.paths import LOG_DIR_ENV
from engine import precision
from engine.embedder import (
    CACHE_DIR_ENV,
    OnnxEmbedder,
    default_graph_path,
    default_model,
    model_cache_dir,
    write_json,
)
from engine.store import Store

# The default model's graph is built once per test session into a private folder (and
# subprocesses started by tests inherit the variable), never into the user's cache.
os.environ.setdefault(CACHE_DIR_ENV, tempfile.mkdtemp(prefix="deskfind-test-cache-"))
# Likewise log files and crash reports go to a private folder, never the user's.
os.environ.setdefault(LOG_DIR_ENV, tempfile.mkdtemp(prefix="deskfind-test-logs-"))


def _pin_auto_to_fp32() -> None:
    """Record "fp32" as this machine's choice for `embedding_precision = auto` in the
    session's cache, so every test (and CLI subprocess) embeds with the same model
    whatever the machine's speed; tests of the choice itself use caches of their own."""
    fp32 = model_cache_dir() / default_graph_path().name  # never a fallback folder
    fp32.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if not precision.choice_path(fp32).exists():
        write_json(precision.choice_path(fp32), precision.PrecisionChoice(
            "fp32", "pinned by the test suite", precision.machine_signature(), 0, "",
            None).to_json())


_pin_auto_to_fp32()


@pytest.fixture(scope="session")
def real_embedder() -> OnnxEmbedder:
    return OnnxEmbedder(default_model(), threads=2)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store.open(tmp_path / "data" / "index.sqlite3")
    yield s
    s.close()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A real PostgreSQL 16 (the pgserver wheel), on a private socket in a temporary
    folder, for the whole session; the connection string of its `postgres` database."""
    import shutil
    import warnings

    # CI sets DESKFIND_REQUIRE_POSTGRES=1: there a server that cannot start fails the
    # tests instead of skipping them.
    skip = pytest.fail if os.environ.get("DESKFIND_REQUIRE_POSTGRES") == "1" else pytest.skip
    with warnings.catch_warnings():
        # pgserver looks up XDG_RUNTIME_DIR when imported; unset on CI machines.
        warnings.simplefilter("ignore")
        try:
            import pgserver
        except ImportError as exc:
            skip(f"pgserver is not installed ({exc}): pip install pgserver")
        folder = Path(tempfile.mkdtemp(prefix="deskfind-pg-"))
        try:
            server = pgserver.get_server(folder / "data", cleanup_mode="stop")
        except Exception as exc:  # initdb or pg_ctl failed: say why
            shutil.rmtree(folder, ignore_errors=True)
            skip(f"pgserver could not start PostgreSQL: {exc}")
    try:
        yield server.get_uri()
    finally:
        server.cleanup()
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def postgres_database(postgres_server: str, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh, empty database on the session's server; dropped after the test."""
    import psycopg

    name = "t_" + "".join(ch if ch.isalnum() else "_" for ch in request.node.name)[:40].lower()
    name += f"_{os.getpid()}"
    with psycopg.connect(postgres_server, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    yield postgres_server.replace("/postgres?", f"/{name}?", 1)
    with psycopg.connect(postgres_server, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
