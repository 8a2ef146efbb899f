"""Shared fixtures: temporary stores and the real default model."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.paths import LOG_DIR_ENV
from engine.embedder import CACHE_DIR_ENV, OnnxEmbedder, default_model
from engine.store import Store

# The default model's graph is built once per test session into a private folder (and
# subprocesses started by tests inherit the variable), never into the user's cache.
os.environ.setdefault(CACHE_DIR_ENV, tempfile.mkdtemp(prefix="deskfind-test-cache-"))
# Likewise log files and crash reports go to a private folder, never the user's.
os.environ.setdefault(LOG_DIR_ENV, tempfile.mkdtemp(prefix="deskfind-test-logs-"))


@pytest.fixture(scope="session")
def real_embedder() -> OnnxEmbedder:
    return OnnxEmbedder(default_model(), threads=2)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store.open(tmp_path / "data" / "index.sqlite3")
    yield s
    s.close()
