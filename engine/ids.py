"""Typed identifiers shared across the engine and indexer."""

from typing import NewType

FileId = NewType("FileId", int)
ChunkId = NewType("ChunkId", int)
