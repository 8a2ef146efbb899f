"""Handing files to the desktop: "Show in folder" asks the file manager to select the
file, and only opens the folder when no file manager answers."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from ui import desktop  # noqa: E402


def _opened_urls(monkeypatch):
    urls: list[str] = []
    monkeypatch.setattr(desktop.QDesktopServices, "openUrl",
                        lambda url: urls.append(url.toString()) or True)
    return urls


def test_show_in_folder_asks_the_file_manager_to_select_the_file(qapp, monkeypatch):
    urls = _opened_urls(monkeypatch)
    asked: list[list[str]] = []
    assert desktop.reveal_file(b"/home/ann/My notes/caf\xc3\xa9.txt",
                               lambda uris: asked.append(uris) or True)
    assert asked == [["file:///home/ann/My%20notes/caf%C3%A9.txt"]]
    assert urls == []  # the file manager showed it; no second window


def test_without_a_file_manager_to_ask_the_folder_is_opened(qapp, monkeypatch):
    urls = _opened_urls(monkeypatch)
    asked: list[list[str]] = []
    assert desktop.reveal_file(b"/home/ann/notes/todo.md",
                               lambda uris: asked.append(uris) or False)
    assert len(asked) == 1
    assert urls == ["file:///home/ann/notes"]


def test_no_session_bus_means_no_file_manager(qapp, monkeypatch):
    monkeypatch.delenv("DBUS_SESSION_BUS_ADDRESS", raising=False)
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/deskfind-test")
    urls = _opened_urls(monkeypatch)
    assert desktop.reveal_file(b"/home/ann/notes/todo.md")
    assert urls == ["file:///home/ann/notes"]


def test_revealing_a_document_inside_an_archive_shows_the_archive(qapp, tmp_path):
    archive = tmp_path / "bundle.zip"
    archive.write_bytes(b"PK")
    shown: list[list[str]] = []
    assert desktop.reveal_file(bytes(archive) + b"/inner/report.docx",
                               lambda uris: shown.append(uris) or True)
    assert shown == [[archive.as_uri()]]
