"""Deskfind's indexer: walking roots, reading files, chunking, feeding the engine.

Nothing in this package imports Qt.
"""
