"""Embedding each text once: the key that says two passages embed to the same vector.

A passage is embedded together with its document's title, so the key covers both.
Equal keys mean equal (title, text) pairs, hence equal model input however the
indexer joins the two; the vector of one passage is then the vector of the other
(for the same model), and copying it replaces running the model.
"""

from __future__ import annotations

import hashlib
import sqlite3

SQL_FUNCTION = "deskfind_passage_key"  # used by migration 6 to key existing passages


def passage_key(title: str, text: str) -> bytes:
    """A 128-bit digest of what is embedded for a passage: its title and its text."""
    # The title's length goes first, so ("ab", "c") and ("a", "bc") never share a key.
    data = f"{len(title)}:{title}{text}".encode("utf-8", "surrogatepass")
    return hashlib.blake2b(data, digest_size=16).digest()


def register(conn: sqlite3.Connection) -> None:
    """Make passage_key callable from SQL on `conn` (migrations need it)."""
    conn.create_function(SQL_FUNCTION, 2, passage_key, deterministic=True)
