"""Text extractors, one module per family of file formats.

Each module exposes an `EXTRACTORS` table (extension → extractor); `indexer.extract`
merges them.  Heavy libraries are imported inside the extractors, so importing this
package stays cheap.
"""
