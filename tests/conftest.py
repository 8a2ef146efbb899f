"""Shared fixtures: temporary stores and the real default model."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.embedder import OnnxEmbedder, default_model
from engine.store import Store


@pytest.fixture(scope="session")
def real_embedder() -> OnnxEmbedder:
    return OnnxEmbedder(default_model(), threads=2)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store.open(tmp_path / "data" / "index.sqlite3")
    yield s
    s.close()
