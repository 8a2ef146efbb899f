"""Exceptions: the application's one base, and those the engine raises."""


class DeskfindError(Exception):
    """Base of every expected failure anywhere in Deskfind (bad input, a missing model,
    damaged files, no service): the message is shown to the user as it is, and the
    command line exits with `exit_status`."""

    exit_status = 1


class EngineError(DeskfindError):
    """Base of every expected engine failure (bad input, missing model, damaged files)."""


class QueryError(EngineError):
    """The user's query cannot be run as written."""

    exit_status = 2  # wrong input, like a bad command line


class ModelError(EngineError):
    """The embedding model is missing, damaged or unusable."""


class StoreError(EngineError):
    """The index database cannot be opened or written."""
