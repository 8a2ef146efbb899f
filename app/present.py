"""How results are put into words, the same in the CLI and the GUI."""

from __future__ import annotations


def copies_label(count: int) -> str:
    """'+1 copy', '+3 copies': how results say they stand for more files."""
    return f"+{count} {'copy' if count == 1 else 'copies'}"
