"""Deskfind's search engine: the SQLite store, FTS5, embeddings, vectors and ranking.

Nothing in this package imports Qt.
"""
