"""The preview pane: where a result matched, in the text or on its PDF page."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QFont,
    QImage,
    QPainter,
    QPalette,
    QPixmap,
    QTextCharFormat,
    QTextCursor,
    QTextFormat,
)
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QStackedWidget,
    QTextEdit,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.backend import Backend, Hit
from engine.errors import DeskfindError
from indexer.formats.ocr import IMAGE_EXTS
from indexer.render import PageRenderer, RenderCancelled, RenderError, RenderRequest
from ui import desktop
from ui.results import match_colors, mix, short_path
from ui.session import Session

PDF_ZOOM = 2.0  # render scale: crisp when shown at about half size on HiDPI screens


@dataclass(frozen=True)
class TextPreview:
    text: str
    spans: list[tuple[int, int]]
    passage: tuple[int, int]


@dataclass(frozen=True)
class PdfPage:
    image: QImage
    page: int  # 1-based
    pages: int
    hits: list[QRectF]  # in image pixels
    ocr_words: int = 0  # words OCR recognised on the page, outlined


def load_text(backend: Backend, result: Hit, query: str) -> TextPreview:
    """Read a text document and find the query's words in it (runs off-thread)."""
    text = backend.document_text(result.path, result.ext)
    spans = backend.match_spans(text, backend.highlight_terms(query))
    shown, pos = qt_positions(text)
    return TextPreview(shown, [(pos(a), pos(b)) for a, b in spans],
                       (pos(result.char_start), pos(result.char_end)))


def qt_positions(text: str) -> tuple[str, Callable[[int], int]]:
    """The text as a QTextDocument holds it, and a map from str offsets to its positions.

    Qt counts UTF-16 units (two for characters outside the BMP) and turns CR LF into one
    paragraph break, so offsets from Python need moving before they address the document.
    """
    if "\r" not in text and all(ord(c) <= 0xFFFF for c in text):
        return text, lambda i: i
    table = [0] * (len(text) + 1)
    pos = 0
    for i, ch in enumerate(text):
        table[i] = pos
        if ch == "\r" and text[i + 1:i + 2] == "\n":
            continue
        pos += 2 if ord(ch) > 0xFFFF else 1
    table[len(text)] = pos
    shown = text.replace("\r\n", "\n").replace("\r", "\n")
    return shown, lambda i: table[max(0, min(i, len(text)))]


def pdf_terms(backend: Backend, query: str) -> list[str]:
    """What to look for on a PDF page: the highlight words and any quoted phrases."""
    phrases = [p.strip('"') for p in query.split('"')[1::2] if p.strip()]
    return [*phrases, *backend.highlight_terms(query)]


def render_pdf_page(renderer: PageRenderer, request: RenderRequest, tint: QColor,
                    wanted: Callable[[], bool] = lambda: True) -> PdfPage:
    """Render one page in the renderer's worker process and box its hits (runs off-thread).

    MuPDF never runs in the GUI process: a PDF that crashes or hangs it costs this
    preview (a RenderError), not the window.
    """
    rendered = renderer.render(request, wanted)
    if len(rendered.samples) < rendered.stride * rendered.height:
        raise RenderError("the renderer sent a truncated image")
    image = QImage(rendered.samples, rendered.width, rendered.height, rendered.stride,
                   QImage.Format.Format_RGB888).copy()
    hits = [QRectF(x, y, w, h).adjusted(-2, -1, 2, 1) for x, y, w, h in rendered.hits]
    words = [QRectF(x, y, w, h).adjusted(-1, -1, 1, 1) for x, y, w, h in rendered.words]
    _paint_words(image, words, tint)
    _paint_hits(image, hits, tint)
    return PdfPage(image, rendered.page, rendered.pages, hits, len(words))


def _paint_words(image: QImage, words: Sequence[QRectF], tint: QColor) -> None:
    """Outline each word OCR recognised, so the user sees what was read off the image."""
    if not words:
        return
    painter = QPainter(image)
    edge = QColor(tint.darker(200))
    edge.setAlpha(150)
    painter.setPen(edge)
    painter.setBrush(Qt.BrushStyle.NoBrush)
    for rect in words:
        painter.drawRect(rect)
    painter.end()


def _paint_hits(image: QImage, hits: Sequence[QRectF], tint: QColor) -> None:
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setCompositionMode(QPainter.CompositionMode.CompositionMode_Multiply)
    fill = QColor(tint)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(fill)
    for rect in hits:
        painter.drawRoundedRect(rect, 3, 3)
    painter.setCompositionMode(QPainter.CompositionMode.CompositionMode_SourceOver)
    edge = QColor(tint.darker(160))
    edge.setAlpha(200)
    painter.setPen(edge)
    painter.setBrush(Qt.BrushStyle.NoBrush)
    for rect in hits:
        painter.drawRoundedRect(rect, 3, 3)
    painter.end()


class PreviewPane(QWidget):
    """Header with open/reveal, the document with matches highlighted, match navigation."""

    shown = Signal(object)  # TextPreview or PdfPage, once on screen (for tests and shots)

    def __init__(self, session: Session, parent: QWidget | None = None,
                 renderer: PageRenderer | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.renderer = renderer if renderer is not None else PageRenderer()
        owned, runner = self.renderer, session.runner  # not `self`: gone by then
        self.destroyed.connect(lambda *_: (owned.close(), runner.drop("preview")))
        self._pdf_newest = _Newest()
        self.result: Hit | None = None
        self.query = ""
        self.text_preview: TextPreview | None = None
        self.pdf_page: PdfPage | None = None
        self.current = -1  # index of the current match in text_preview.spans
        self._build()
        self.clear()

    # -- layout -------------------------------------------------------------------------

    def _build(self) -> None:
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        header = QWidget(self)
        head = QHBoxLayout(header)
        head.setContentsMargins(16, 12, 12, 10)
        names = QVBoxLayout()
        names.setSpacing(2)
        self.title = QLabel(header)
        font = self.title.font()
        font.setPointSizeF(font.pointSizeF() * 1.2)
        font.setWeight(QFont.Weight.DemiBold)
        self.title.setFont(font)
        self.path = QLabel(header)
        self.path.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.path.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        for label in (self.title, self.path):
            label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        names.addWidget(self.title)
        names.addWidget(self.path)
        head.addLayout(names, 1)
        self.open_button = QPushButton("Open", header)
        self.open_button.setToolTip("Open with the default application (Enter)")
        self.reveal_button = QPushButton("Show in folder", header)
        self.reveal_button.setToolTip("Open the containing folder (Ctrl+Enter)")
        self.open_button.clicked.connect(self.open_current)
        self.reveal_button.clicked.connect(self.reveal_current)
        head.addWidget(self.reveal_button)
        head.addWidget(self.open_button)
        layout.addWidget(header)
        layout.addWidget(_rule(self))

        self.stack = QStackedWidget(self)
        self.placeholder = QLabel(self)
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.placeholder.setWordWrap(True)
        self.placeholder.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        self.text_view = QPlainTextEdit(self)
        self.text_view.setReadOnly(True)
        self.text_view.setFrameShape(QFrame.Shape.NoFrame)
        self.text_view.document().setDocumentMargin(14)
        self.pdf_label = QLabel(self)
        self.pdf_label.setAlignment(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop)
        self.pdf_scroll = QScrollArea(self)
        self.pdf_scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.pdf_scroll.setWidgetResizable(True)
        self.pdf_scroll.setWidget(self.pdf_label)
        self.pdf_scroll.setBackgroundRole(QPalette.ColorRole.Mid)
        for w in (self.placeholder, self.text_view, self.pdf_scroll):
            self.stack.addWidget(w)
        layout.addWidget(self.stack, 1)

        layout.addWidget(_rule(self))
        nav = QHBoxLayout()
        nav.setContentsMargins(12, 6, 12, 6)
        self.prev_button = QToolButton(self)
        self.next_button = QToolButton(self)
        self.prev_button.setArrowType(Qt.ArrowType.UpArrow)
        self.next_button.setArrowType(Qt.ArrowType.DownArrow)
        self.prev_button.clicked.connect(lambda: self.step(-1))
        self.next_button.clicked.connect(lambda: self.step(1))
        self.position = QLabel(self)
        self.position.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        nav.addWidget(self.position, 1)
        nav.addWidget(self.prev_button)
        nav.addWidget(self.next_button)
        self.nav = QWidget(self)
        self.nav.setLayout(nav)
        layout.addWidget(self.nav)

    # -- showing results ----------------------------------------------------------------

    def clear(self, message: str = "Select a result to see where it matched.") -> None:
        self.result = None
        self.text_preview = None
        self.pdf_page = None
        self._pdf_newest.cancel()
        self.session.runner.drop("preview")
        self.title.setText("")
        self.path.setText("")
        self.open_button.setEnabled(False)
        self.reveal_button.setEnabled(False)
        self.nav.setVisible(False)
        self.placeholder.setText(message)
        self.stack.setCurrentWidget(self.placeholder)

    def show_result(self, result: Hit | None, query: str) -> None:
        if result is None:
            self.clear()
            return
        self.result, self.query = result, query
        self.title.setText(result.title or os.path.basename(result.display_path))
        self.path.setText(short_path(result.display_path))
        self.path.setToolTip(result.display_path)
        self.open_button.setEnabled(True)
        self.reveal_button.setEnabled(True)
        paged = result.ext == "pdf" or (result.ocr and result.ext in IMAGE_EXTS)
        if paged and os.path.isfile(result.path):  # not inside an archive
            self._load_pdf(result.page)
        else:
            self._load_text()

    def _load_text(self) -> None:
        backend, result, query = self.session.backend, self.result, self.query
        if backend is None or result is None:
            return
        self._pdf_newest.cancel()
        self.session.runner.run(lambda: load_text(backend, result, query), self._show_text,
                                self._show_error, key="preview")

    def _load_pdf(self, page: int | None, exact: bool = False) -> None:
        backend, result = self.session.backend, self.result
        if backend is None or result is None:
            return
        terms = pdf_terms(backend, self.query)
        tint = match_colors(self.palette())[0]
        if tint.lightnessF() < 0.5:  # multiply needs a light tint, also in dark themes
            tint = mix(tint, QColor("white"), 0.6)
        request = RenderRequest(result.path, page, tuple(terms), PDF_ZOOM, exact, result.ocr)
        renderer, wanted = self.renderer, self._pdf_newest.start()
        self.session.runner.run(lambda: render_pdf_page(renderer, request, tint, wanted),
                                self._show_pdf, self._show_pdf_error, key="preview")

    def _show_error(self, exc: BaseException, prefix: str = "No preview") -> None:
        if not isinstance(exc, DeskfindError):
            raise exc
        self.text_preview = self.pdf_page = None
        self.nav.setVisible(False)
        self.placeholder.setText(f"{prefix}: {exc}")
        self.stack.setCurrentWidget(self.placeholder)

    def _show_pdf_error(self, exc: BaseException) -> None:
        if isinstance(exc, RenderCancelled):
            return  # a newer page is on its way
        self._show_error(exc, "Cannot preview this PDF")

    def _show_text(self, preview: TextPreview) -> None:
        self.text_preview, self.pdf_page = preview, None
        self.text_view.setPlainText(preview.text)
        start = preview.passage[0]
        after = [i for i, (a, _) in enumerate(preview.spans) if a >= start]
        self.current = after[0] if after else (0 if preview.spans else -1)
        self.stack.setCurrentWidget(self.text_view)
        self.nav.setVisible(True)
        self._paint_text_matches()
        self.shown.emit(preview)

    def _paint_text_matches(self) -> None:
        preview = self.text_preview
        if preview is None:
            return
        back, fore = match_colors(self.palette())
        accent = self.palette().color(QPalette.ColorRole.Highlight)
        doc = self.text_view.document()
        selections = []
        passage = QTextEdit.ExtraSelection()
        passage.cursor = _span_cursor(doc, *preview.passage)
        passage.format.setBackground(mix(self.palette().color(QPalette.ColorRole.Base),
                                         accent, 0.06))
        passage.format.setProperty(QTextFormat.Property.FullWidthSelection, False)
        selections.append(passage)
        for i, (a, b) in enumerate(preview.spans):
            sel = QTextEdit.ExtraSelection()
            sel.cursor = _span_cursor(doc, a, b)
            fmt = QTextCharFormat()
            current = i == self.current
            fmt.setBackground(accent if current else back)
            fmt.setForeground(self.palette().color(QPalette.ColorRole.HighlightedText)
                              if current else fore)
            fmt.setFontWeight(QFont.Weight.Bold)
            sel.format = fmt
            selections.append(sel)
        self.text_view.setExtraSelections(selections)
        focus = preview.spans[self.current][0] if self.current >= 0 else preview.passage[0]
        cursor = QTextCursor(doc)
        cursor.setPosition(min(focus, doc.characterCount() - 1))
        self.text_view.setTextCursor(cursor)
        self.text_view.centerCursor()
        n = len(preview.spans)
        self.position.setText(f"Match {self.current + 1} of {n}" if n else
                              "Matched by meaning: the passage is tinted")
        self.prev_button.setEnabled(self.current > 0)
        self.next_button.setEnabled(0 <= self.current < n - 1)
        self.prev_button.setToolTip("Previous match")
        self.next_button.setToolTip("Next match")

    def _show_pdf(self, page: PdfPage) -> None:
        self.pdf_page, self.text_preview = page, None
        self.stack.setCurrentWidget(self.pdf_scroll)
        self._fit_pdf()
        self.nav.setVisible(True)
        hits = len(page.hits)
        found = f" · {hits} match{'es' if hits != 1 else ''} on this page" if hits else ""
        read = f" · {page.ocr_words} words read by OCR (outlined)" if page.ocr_words else ""
        self.position.setText(f"Page {page.page} of {page.pages}{found}{read}")
        self.prev_button.setEnabled(page.page > 1)
        self.next_button.setEnabled(page.page < page.pages)
        self.prev_button.setToolTip("Previous page")
        self.next_button.setToolTip("Next page")
        if page.hits:
            scale = self.pdf_label.pixmap().width() / max(page.image.width(), 1)
            y = int(min(h.top() for h in page.hits) * scale)
            self.pdf_scroll.ensureVisible(0, y, 0, self.pdf_scroll.height() // 3)
        self.shown.emit(page)

    def _fit_pdf(self) -> None:
        page = self.pdf_page
        if page is None:
            return
        ratio = self.devicePixelRatioF()
        width = max(200, self.pdf_scroll.viewport().width() - 24)
        pixmap = QPixmap.fromImage(page.image).scaledToWidth(
            int(width * ratio), Qt.TransformationMode.SmoothTransformation)
        pixmap.setDevicePixelRatio(ratio)
        self.pdf_label.setPixmap(pixmap)

    def resizeEvent(self, event: object) -> None:  # noqa: N802 (Qt override)
        super().resizeEvent(event)  # type: ignore[arg-type]
        self._fit_pdf()

    # -- navigation ---------------------------------------------------------------------

    def step(self, delta: int) -> None:
        """Next/previous match in a text, next/previous page in a PDF."""
        if self.text_preview is not None and self.text_preview.spans:
            n = len(self.text_preview.spans)
            self.current = max(0, min(n - 1, self.current + delta))
            self._paint_text_matches()
        elif self.pdf_page is not None:
            target = self.pdf_page.page + delta
            if 1 <= target <= self.pdf_page.pages:
                self._load_pdf(target, exact=True)

    def open_current(self) -> None:
        """Open the file; a PDF at the page the preview shows."""
        if self.result is not None:
            page = self.pdf_page.page if self.pdf_page is not None else self.result.page
            self.session.open_document(self.result.path, self.result.ext, page)

    def reveal_current(self) -> None:
        if self.result is not None:
            desktop.reveal_file(self.result.path)


class _Newest:
    """Which request is the newest; asked from worker threads, so it holds a plain int."""

    def __init__(self) -> None:
        self._serial = 0

    def start(self) -> Callable[[], bool]:
        """Count a new request; the function says whether it is still the newest."""
        self._serial += 1
        serial = self._serial
        return lambda: self._serial == serial

    def cancel(self) -> None:
        """No request out now is wanted any more."""
        self._serial += 1


def _span_cursor(doc: object, start: int, end: int) -> QTextCursor:
    cursor = QTextCursor(doc)  # type: ignore[call-overload]
    last = doc.characterCount() - 1  # type: ignore[attr-defined]
    cursor.setPosition(max(0, min(start, last)))
    cursor.setPosition(max(0, min(end, last)), QTextCursor.MoveMode.KeepAnchor)
    return cursor


def _rule(parent: QWidget) -> QFrame:
    line = QFrame(parent)
    line.setFrameShape(QFrame.Shape.HLine)
    line.setFrameShadow(QFrame.Shadow.Plain)
    line.setForegroundRole(QPalette.ColorRole.Midlight)
    return line
