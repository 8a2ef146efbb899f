"""The GUI's backend on a real index with no service: folders, indexing, settings."""

from __future__ import annotations

import json
import shutil
import threading
from pathlib import Path

import pytest

from app.backend import LEGACY_SETTINGS, Backend
from app.config import Config
from app.context import Options
from engine.errors import DeskfindError
from tests.helpers import write_files


@pytest.fixture
def backend(tmp_path):
    b = Backend(Options(data_dir=str(tmp_path / "data")), tmp_path / "config.toml")
    yield b
    b.close()


def _found(backend, query, mode="lexical"):
    return sorted(h.display_path.rsplit("/", 1)[1] for h in backend.search(query, mode).hits)


def test_folders_are_indexed_and_a_missing_one_keeps_its_files(backend, tmp_path):
    notes, drive = tmp_path / "notes", tmp_path / "usb"
    write_files(notes, {"bread.txt": "Sourdough rises overnight in a cool kitchen."})
    write_files(drive, {"trip.txt": "Ferry timetable for the islands in August."})
    backend.add_root(notes)
    backend.add_root(drive)
    backend.add_root(notes)  # once is enough
    assert backend.roots() == [str(notes), str(drive)]
    report = backend.index_now()
    assert report is not None and report.added == 2
    assert _found(backend, "ferry") == ["trip.txt"]
    shutil.rmtree(drive)  # unplugged: its files stay searchable
    backend.index_now()
    assert _found(backend, "ferry") == ["trip.txt"]
    assert backend.remove_root(drive) == 1  # forgetting the folder drops them
    assert _found(backend, "ferry") == []
    assert backend.search("how long does bread dough prove", "hybrid").hits[0] \
        .display_path.endswith("bread.txt")


def test_a_secret_folder_is_refused(backend, tmp_path):
    secret = tmp_path / ".ssh"
    secret.mkdir()
    with pytest.raises(DeskfindError, match=r"\.ssh"):
        backend.add_root(secret)
    assert backend.roots() == []


def test_settings_changed_by_another_program_are_seen(backend, tmp_path):
    other = Config.load(tmp_path / "config.toml")
    other.set("roots", ["/srv/shared"])
    other.save()
    assert backend.roots() == ["/srv/shared"]


def test_saving_a_model_change_reopens_the_index_with_it(backend, tmp_path):
    assert backend.options.model_dir is None
    note = backend.save_settings({"model_dir": "/nonexistent/model", "alpha": 0.4})
    assert note == "Settings saved."
    assert (backend.options.model_dir, backend.options.alpha) == ("/nonexistent/model", 0.4)
    assert Config.load(tmp_path / "config.toml").get("model_dir") == "/nonexistent/model"
    with pytest.raises(DeskfindError, match="nonexistent"):
        backend.search("anything", "hybrid")  # the chosen model, not the bundled one


def test_one_indexing_run_at_a_time(backend, tmp_path):
    write_files(tmp_path / "notes", {"a.txt": "alpha"})
    backend.add_root(tmp_path / "notes")
    inside, release = threading.Event(), threading.Event()
    errors = []

    def slow_progress(phase, done, total):
        inside.set()
        release.wait(10)

    first = threading.Thread(target=backend.index_now, args=(slow_progress,))
    first.start()
    assert inside.wait(30)
    try:
        backend.index_now()
    except DeskfindError as exc:
        errors.append(str(exc))
    release.set()
    first.join(60)
    assert errors == ["indexing is already running"] and not backend.indexing


def test_old_gui_settings_move_into_the_config_once(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / LEGACY_SETTINGS).write_text(json.dumps(
        {"exclude_patterns": ["*.bak"], "threads": 2, "model_dir": ""}), encoding="utf-8")
    b = Backend(Options(data_dir=str(data)), tmp_path / "config.toml")
    b.close()
    config = Config.load(tmp_path / "config.toml")
    assert config.get("exclude") == ["*.bak"] and config.get("threads") == 2
    assert not (data / LEGACY_SETTINGS).exists()
    assert (data / f"{LEGACY_SETTINGS}.migrated").exists()


def test_a_document_inside_an_archive_or_mailbox_opens_as_a_private_copy(backend, tmp_path):
    import os
    import stat
    from email.message import EmailMessage

    from tests.indexer import documents

    inner = documents.zip_bytes({"deep/minutes.txt": b"minutes of the walrus committee\n"})
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "ann@example.com", "bo@example.com", "Quokka"
    msg["Message-ID"] = "<q@example.com>"
    msg.set_content("the quokka census is attached")
    msg.add_attachment(b"quokka census: 41\n", maintype="text", subtype="plain",
                       filename="census.txt")
    mbox = b"From ann@example.com Mon Jan  3 00:00:00 2022\n" + msg.as_bytes() + b"\n"
    write_files(tmp_path / "notes", {"bundle.zip": documents.zip_bytes({"inner.zip": inner}),
                                     "box.mbox": mbox})
    backend.add_root(tmp_path / "notes")
    backend.index_now()

    def copy_of(query):
        [hit] = backend.search(query, "lexical").hits
        return hit, backend.openable_path(hit.path, hit.ext)

    hit, copy = copy_of("walrus committee")
    assert hit.display_path.endswith("bundle.zip/inner.zip/deep/minutes.txt")
    assert os.path.basename(copy) == b"minutes.txt"
    # The preview reads a member's text from the index: its path is no file to read.
    assert backend.document_text(hit.path, hit.ext) == "minutes of the walrus committee"
    assert Path(os.fsdecode(copy)).read_bytes() == b"minutes of the walrus committee\n"
    assert stat.S_IMODE(os.stat(os.path.dirname(os.path.dirname(copy))).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(copy).st_mode) == 0o600
    _, census = copy_of('"quokka census: 41"')
    assert Path(os.fsdecode(census)).read_bytes() == b"quokka census: 41\n"
    hits = backend.search('"census is attached"', "lexical").hits
    message = backend.openable_path(hits[0].path, hits[0].ext)
    assert message.endswith(b"q@example.com.eml")
    assert b"Subject: Quokka" in Path(os.fsdecode(message)).read_bytes()
    # A file on disk is opened as it is, and copies go when the backend closes.
    (tmp_path / "notes" / "plain.txt").write_text("x")
    plain = bytes(tmp_path / "notes" / "plain.txt")
    assert backend.openable_path(plain, "txt") == plain
    os.remove(tmp_path / "notes" / "bundle.zip")
    with pytest.raises(DeskfindError, match="cannot read"):
        backend.openable_path(hit.path, hit.ext)
    backend.close()
    assert not os.path.exists(copy)


def test_related_files_asked_for_after_close_get_a_plain_error(tmp_path):
    backend = Backend(Options(data_dir=str(tmp_path / "data")), tmp_path / "config.toml")
    backend.close()  # a window's request still out when the app shuts down
    with pytest.raises(DeskfindError, match="closed"):
        backend.related(b"/nowhere/a.md")
    with pytest.raises(DeskfindError, match="closed"):
        backend.duplicates()
