"""Exceptions raised by the indexer."""

from engine.errors import EngineError


class IndexerError(EngineError):
    """Base of expected indexer failures."""


class ExtractionError(IndexerError):
    """A file's text cannot be read; the message is the reason recorded for it."""
