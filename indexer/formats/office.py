"""Office documents: Word, PowerPoint, Excel and OpenDocument files.

Read with stdlib `zipfile` and defusedxml's ElementTree rather than python-docx,
python-pptx and openpyxl: one small code path serves all six formats, the bomb checks
in `zipxml` run before any part is inflated, parts are parsed as streams (a large
sheet never becomes a full object model), and text only needs a few element types.
"""

from __future__ import annotations

from indexer.formats import odf, ooxml
from indexer.formats.base import Extractor

EXTRACTORS: dict[str, Extractor] = {
    "docx": ooxml.extract_docx, "docm": ooxml.extract_docx,
    "pptx": ooxml.extract_pptx, "pptm": ooxml.extract_pptx,
    "xlsx": ooxml.extract_xlsx, "xlsm": ooxml.extract_xlsx,
    "odt": odf.extract_odt, "ods": odf.extract_ods, "odp": odf.extract_odp,
}
