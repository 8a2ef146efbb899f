"""The application's own errors, beside the engine's (engine.errors.DeskfindError is
the base of both)."""

from __future__ import annotations

from engine.errors import DeskfindError


class UsageError(DeskfindError):
    """Wrong input on the command line (or to a request): the message says what."""

    exit_status = 2


class ProtocolError(DeskfindError):
    """The service and this program speak different versions of the IPC protocol."""


def error_class(name: str) -> type[DeskfindError]:
    """The DeskfindError subclass called `name` (as a service reports it), or the base
    class when this program knows none of that name: only our own expected errors are
    ever re-raised, never an arbitrary type a peer names."""
    pending: list[type[DeskfindError]] = [DeskfindError]
    while pending:
        cls = pending.pop()
        if cls.__name__ == name:
            return cls
        pending.extend(cls.__subclasses__())
    return DeskfindError


def rebuilt(name: str, message: str) -> DeskfindError:
    """The error a service reported, as the same class here."""
    cls = error_class(name)
    try:
        return cls(message)
    except TypeError:  # a class that wants more than a message
        return DeskfindError(message)
