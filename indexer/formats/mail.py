"""Mail: single messages (.eml, Maildir files) and mbox files, with the stdlib `email`.

A message is a document: its subject is the title, its sender, recipients and date are
kept as fields and at the head of its text, its body is the plain part (or the HTML
part through the HTML extractor), and its attachments are members, read like archive
members.  In an mbox every message is a member named by its Message-ID (or its number
when it has none or shares it), so an attachment is `box.mbox/<id>/report.pdf`.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC
from email import policy
from email.message import EmailMessage, Message
from email.parser import BytesParser
from email.utils import parsedate_to_datetime
from itertools import pairwise

from indexer.errors import ExtractionError
from indexer.formats import html
from indexer.formats.archive import Container, Scope, clean_member_name, read_member
from indexer.formats.base import (
    MAX_TEXT_CHARS,
    Extracted,
    MailFields,
    Member,
    clean_title,
    name_title,
)

_FROM_LINE = re.compile(rb"^From ", re.MULTILINE)
_ESCAPED_FROM = re.compile(rb"^>(>*From )", re.MULTILINE)


def _header(msg: Message, key: str) -> str:
    """A header as text ('' when missing); a header the parser cannot read counts as
    missing rather than failing the message."""
    try:
        value = msg.get(key)
        return " ".join(str(value).split()) if value is not None else ""
    except Exception:  # malformed headers raise all kinds of errors in `email`
        return ""


def _date_ns(value: str) -> int | None:
    if not value:
        return None
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp()) * 1_000_000_000


def _body_text(msg: EmailMessage, name: str) -> str:
    """The message's readable body: its plain part, else its HTML part as text."""
    try:
        part = msg.get_body(preferencelist=("plain", "html"))
    except Exception:
        part = None
    if part is None:
        return ""
    try:
        content = part.get_content()
    except Exception:  # an unknown charset or a broken transfer encoding
        payload = part.get_payload(decode=True)
        content = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
    if not isinstance(content, str):
        return ""
    if part.get_content_subtype() == "html":
        return html.extract_html(("\ufeff" + content).encode("utf-8"), name).text
    return content


def attachment_parts(msg: EmailMessage) -> Iterator[tuple[str, bytes]]:
    """Each attachment's name in the message (unique, no '/' climbing out) and bytes."""
    used: set[str] = set()
    try:
        parts = list(msg.iter_attachments())
    except Exception:
        return
    for n, part in enumerate(parts, 1):
        try:
            if part.get_content_type() == "message/rfc822":
                inner = part.get_content()
                data = inner.as_bytes() if isinstance(inner, Message) else b""
                filename = f"message-{n}.eml"
            else:
                payload = part.get_payload(decode=True)
                data = payload if isinstance(payload, bytes) else b""
                filename = clean_member_name(part.get_filename() or "") or f"attachment-{n}"
        except Exception:
            continue  # an attachment that cannot be decoded is left out
        if filename in used:
            filename = f"{n}-{filename}"
        used.add(filename)
        yield filename, data


def _attachments(msg: EmailMessage, scope: Scope) -> list[Member]:
    members: list[Member] = []
    for filename, data in attachment_parts(msg):
        scope.budget.take_member()
        scope.budget.take_bytes(len(data), filename)
        members.extend(read_member(filename, data, scope))
    return members


def parse_message(data: bytes) -> EmailMessage:
    try:
        msg = BytesParser(policy=policy.default).parsebytes(data)
    except Exception as exc:
        raise ExtractionError(f"not a readable message: {exc}") from exc
    assert isinstance(msg, EmailMessage)
    return msg


def read_message(data: bytes, name: str, scope: Scope) -> Extracted:
    """A message's text (headers, then body), subject as title, fields and attachments."""
    msg = parse_message(data)
    sender, subject, date = _header(msg, "From"), _header(msg, "Subject"), _header(msg, "Date")
    recipients = ", ".join(v for v in (_header(msg, "To"), _header(msg, "Cc")) if v)
    if not (sender or subject or recipients or date):
        raise ExtractionError("not a mail message: it has no From, To, Subject or Date")
    head = [f"{key}: {value}" for key, value in
            (("From", sender), ("To", recipients), ("Date", date), ("Subject", subject))
            if value]
    text = ("\n".join(head) + "\n\n" + _body_text(msg, name).strip())[:MAX_TEXT_CHARS]
    title = clean_title(subject) or name_title(name)
    return Extracted(text, title, members=tuple(_attachments(msg, scope)),
                     mail=MailFields(sender, recipients, _date_ns(date)))


def message_key(data: bytes, n: int, used: set[str]) -> str:
    """A message's name in its mbox: its Message-ID without <> or slashes, else its
    number (also when another message already has that id)."""
    match = re.search(rb"^Message-ID:[ \t]*<?([^>\r\n]+)>?", data[:65536],
                      re.MULTILINE | re.IGNORECASE)
    key = ""
    if match:
        key = match.group(1).decode("utf-8", "replace").strip().replace("/", "_")
        key = "".join(ch for ch in key if ch.isprintable() and not ch.isspace())
    if not key or key in used:
        key = str(n)
    used.add(key)
    return key


def mbox_messages(data: bytes) -> list[bytes]:
    """The messages of an mbox, each without its 'From ' line and with '>From ' lines
    unescaped.  Raises ExtractionError when the data is not an mbox."""
    starts = [m.start() for m in _FROM_LINE.finditer(data)]
    if not starts or starts[0] != 0:
        raise ExtractionError("not an mbox file: it does not begin with a 'From ' line")
    messages = []
    for start, end in pairwise([*starts, len(data)]):
        _, _, raw = data[start:end].partition(b"\n")
        messages.append(_ESCAPED_FROM.sub(rb"\1", raw))
    return messages


def expand_mbox(data: bytes, name: str, scope: Scope) -> Extracted:
    """Every message of an mbox as a member, and their attachments below it.

    Messages are no extra level of nesting: an archive attached to one is opened as if
    it lay in a folder.
    """
    members: list[Member] = []
    used: set[str] = set()
    for n, raw in enumerate(mbox_messages(data), 1):
        scope.budget.take_member()
        key = message_key(raw, n, used)
        try:
            message = read_message(raw, key, scope)
        except ExtractionError as exc:
            members.append(Member(key, "eml", len(raw), "", None, "failed", str(exc)))
            continue
        text = message.text[:scope.budget.chars_left]
        scope.budget.chars_left -= len(text)
        digest = hashlib.blake2b(raw, digest_size=16).hexdigest()
        members.append(Member(key, "eml", len(raw), digest,
                              Extracted(text, message.title, mail=message.mail)))
        members.extend(replace(m, name=f"{key}/{m.name}") for m in message.members)
    return Extracted("", name_title(name), members=tuple(members))


def expand_eml(data: bytes, name: str, scope: Scope) -> Extracted:
    return read_message(data, name, scope)


def extract_eml(data: bytes, name: str) -> Extracted:
    return read_message(data, name, Scope())


def extract_mbox(data: bytes, name: str) -> Extracted:
    return expand_mbox(data, name, Scope())


# An .eml inside an archive or attached to a message is read with the same budget.
CONTAINERS: dict[str, Container] = {"eml": expand_eml, "mbox": expand_mbox}
EXTRACTORS = {"eml": extract_eml, "mbox": extract_mbox}
