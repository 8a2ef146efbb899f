"""Renderers that misbehave on files named "hostile…", "hanging…"; module-level, no Qt,
so the spawned render worker can import them by name."""

from __future__ import annotations

import os
import signal
import threading

from indexer.render import RenderedPage, RenderRequest, render_page


def crash_or_hang(request: RenderRequest) -> RenderedPage:
    """Die of SIGSEGV on hostile files and never return on hanging ones, as MuPDF can."""
    name = os.path.basename(request.path)
    if name.startswith(b"hostile"):
        os.kill(os.getpid(), signal.SIGSEGV)
    if name.startswith((b"hostile", b"hanging")):
        threading.Event().wait()
    return render_page(request)
