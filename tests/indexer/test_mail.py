"""Mail: messages of mbox files, .eml files and Maildir folders as documents."""

from __future__ import annotations

import os
from email.message import EmailMessage
from pathlib import Path

import pytest

from engine.search import Searcher
from indexer.formats import mail
from tests.helpers import keyword_hits, scan_folder
from tests.indexer import documents


def _message(sender: str, to: str, subject: str, body: str, date: str, msgid: str,
             attachment: tuple[str, bytes] | None = None, html: str | None = None) -> bytes:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"], msg["Date"] = sender, to, subject, date
    msg["Message-ID"] = msgid
    if html is None:
        msg.set_content(body)
    else:  # an HTML-only message, as many mailers send
        msg.set_content(html, subtype="html")
    if attachment is not None:
        name, data = attachment
        msg.add_attachment(data, maintype="application", subtype="octet-stream",
                           filename=name)
    return msg.as_bytes()


def _mbox(messages: list[bytes]) -> bytes:
    out = b""
    for raw in messages:
        escaped = b"\n".join(b">" + line if line.startswith(b"From ") else line
                             for line in raw.split(b"\n"))
        out += b"From someone@example.com Sat Jan  1 00:00:00 2022\n" + escaped + b"\n"
    return out


def _three_messages() -> bytes:
    return _mbox([
        _message("Alice Liddell <alice@example.com>", "bob@example.com",
                 "Quarterly budget", "The numbers for the lighthouse repairs.\n",
                 "Mon, 10 Jan 2022 09:00:00 +0000", "<budget-1@example.com>",
                 attachment=("report.pdf", documents.pdf(["the albatross ledger totals"]))),
        _message("Carol <carol@example.org>", "alice@example.com",
                 "Picnic on Saturday", "From the meadow we walk to the river.\n",
                 "Tue, 15 Mar 2022 12:00:00 +0100", "<picnic@example.org>"),
        _message("Alice Liddell <alice@example.com>", "dave@example.net",
                 "Garden notes", "",
                 "Wed, 20 Jul 2022 18:30:00 -0400", "<garden@example.com>",
                 html="<html><body><p>The <b>rhubarb trellis</b> is up.</p></body></html>"),
    ])


@pytest.fixture
def root(tmp_path: Path) -> Path:
    folder = tmp_path / "mail"
    folder.mkdir()
    return folder


def test_an_mbox_gives_one_result_per_message_and_reads_attachments(store, root):
    (root / "box.mbox").write_bytes(_three_messages())
    report = scan_folder(store, root)
    assert report.failures == []
    box = os.path.join(root, "box.mbox")
    hits = Searcher(store, None).search("example", mode="lexical", limit=20)
    assert sorted(h.title for h in hits) == ["Garden notes", "Picnic on Saturday",
                                             "Quarterly budget"]
    assert keyword_hits(store, '"albatross ledger"') == [f"{box}/budget-1@example.com/report.pdf"]
    assert keyword_hits(store, '"rhubarb trellis"') == [f"{box}/garden@example.com"]
    # An unescaped body line starting with "From" stays inside its message.
    assert keyword_hits(store, "meadow") == [f"{box}/picnic@example.org"]


def test_from_and_to_filter_messages(store, root):
    (root / "box.mbox").write_bytes(_three_messages())
    scan_folder(store, root)
    box = os.path.join(root, "box.mbox")
    assert sorted(keyword_hits(store, "example from:alice@example.com")) == [
        f"{box}/budget-1@example.com", f"{box}/garden@example.com"]
    assert keyword_hits(store, "example from:carol") == [f"{box}/picnic@example.org"]
    assert keyword_hits(store, "example to:dave") == [f"{box}/garden@example.com"]
    assert keyword_hits(store, "example from:nobody") == []
    # Dates of messages, not of the mailbox file, drive after:/before:.
    assert keyword_hits(store, "example after:2022-07-01") == [f"{box}/garden@example.com"]
    assert keyword_hits(store, "example before:2022-02-01") == [f"{box}/budget-1@example.com"]


def test_an_extensionless_mbox_and_a_maildir_are_recognised(store, root):
    (root / "Inbox").write_bytes(_three_messages())  # as Thunderbird keeps them
    maildir = root / "Maildir"
    for folder in ("cur", "new", "tmp"):
        (maildir / folder).mkdir(parents=True)
    (maildir / "cur" / "1700000000.M1P2.host:2,S").write_bytes(_message(
        "Erin <erin@example.com>", "frank@example.com", "Kayak rental",
        "the kayak returns on Sunday", "Fri, 01 Dec 2023 08:00:00 +0000", "<k@x>"))
    scan_folder(store, root)
    assert keyword_hits(store, "rhubarb") == [f"{root}/Inbox/garden@example.com"]
    [hit] = Searcher(store, None).search("kayak from:erin", mode="lexical")
    assert hit.title == "Kayak rental" and hit.ext == "eml"


def test_an_eml_file_is_a_message_with_its_fields(store, root):
    (root / "note.eml").write_bytes(_message(
        "Grace <grace@example.com>", "heidi@example.com", "Telescope",
        "the telescope arrives tomorrow", "Thu, 02 Feb 2023 10:00:00 +0000", "<t@x>",
        attachment=("parts.txt", b"a list of eyepiece parts\n")))
    scan_folder(store, root)
    [hit] = Searcher(store, None).search("telescope from:grace to:heidi", mode="lexical")
    assert hit.title == "Telescope"
    assert keyword_hits(store, "eyepiece") == [f"{root}/note.eml/parts.txt"]


def test_a_message_without_headers_is_no_message():
    with pytest.raises(mail.ExtractionError, match="not a mail message"):
        mail.extract_eml(b"just some words\n", "x.eml")
    with pytest.raises(mail.ExtractionError, match="not an mbox"):
        mail.extract_mbox(b"no from line here\n", "x.mbox")
