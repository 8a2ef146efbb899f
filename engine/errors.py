"""Exceptions raised by the engine."""


class EngineError(Exception):
    """Base of every expected engine failure (bad input, missing model, damaged files)."""


class QueryError(EngineError):
    """The user's query cannot be run as written."""


class ModelError(EngineError):
    """The embedding model is missing, damaged or unusable."""


class StoreError(EngineError):
    """The index database cannot be opened or written."""
