"""Reading a message: everything that needs only its bytes and the board's configuration.

The stages here touch no database, so they can run in worker processes while the
main process records earlier messages (``pipeline/workers.py``). READ_STAGES lists
them in order; a stage reads and extends the ``Draft`` in hand and ends the flow
early by raising ``SetAside`` (not a submission) or ``Unreadable`` (kept raw with
the reason). What comes out is a ``Reading``: plain, picklable values.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from email.parser import BytesHeaderParser
from email.policy import default as default_policy
from typing import Any

from bs4 import NavigableString, Tag

from pipeline import dedup, forwards, mailkit, replyauth
from pipeline.byline import Byline
from pipeline.byline import extract as extract_byline
from pipeline.classify import Sender, classify_fields, identify_sender, untagged
from pipeline.commands import Command, read_command
from pipeline.commands import Unreadable as UnreadableCommand
from pipeline.config import Board
from pipeline.docmeta import classify_submission
from pipeline.docx import DocxError, docx_text, docx_to_html, is_word_file
from pipeline.files import FileStore
from pipeline.headline import split_headline
from pipeline.parsing import (
    HEADER_BYTES,
    Attachment,
    MessageParseError,
    ParsedMail,
    content_lost,
    header_end,
    parse_message,
)
from pipeline.sanitize import html_to_text, parse_html, relink, sanitize_html, text_to_html
from pipeline.screening import not_a_submission
from pipeline.vietnamese import Legacy, detect_legacy, normalize

log = logging.getLogger(__name__)

ATTACHED_HEAD_CHARS = 3000  # as much of an attached .docx as is looked at for a stamp
COVER_NOTE_WORDS = 120  # a mail body this short is a cover note; a .docx carries the article
FORWARDED_TYPES = ("message/rfc822", "message/global")
_WORDS = re.compile(r"\w+")


class SetAside(Exception):
    """Not a submission (auto-reply, bounce, list, our own mail)."""


class Unreadable(Exception):
    """The message cannot be read; it is kept raw with this reason."""


@dataclass(frozen=True)
class FileRecord:
    """An attachment as stored: ``sha256`` is None when it was over the size limit."""

    filename: str
    content_type: str
    size: int
    sha256: str | None
    content_id: str | None
    role: str  # attachment | inline | article


@dataclass(frozen=True)
class ReplyFacts:
    """What a message that answers one of our mails says, read before the database is asked
    whether it answers a review request (pipeline/replies.py)."""

    refs: replyauth.ReplyRefs
    auth: replyauth.AuthVerdict
    auto_reply: str | None  # why it is an automatic reply, if it is one
    command: Command | UnreadableCommand
    subject: str


@dataclass(frozen=True)
class Reading:
    """What reading a message found; the record phase turns it into a submission."""

    outcome: str  # "submission", "set_aside" or "unreadable"
    reason: str | None = None
    message_id: str | None = None
    from_address: str = ""
    from_name: str = ""
    title: str = ""  # the subject, cleaned of "Fwd:"/"RE:"; its tags kept for the checks
    headline: str = ""  # the item's title: the subject without the tags that route it
    own_headline: bool = False  # the headline is the Word article's own, not the subject's
    html: str = ""
    text: str = ""
    legacy: str | None = None
    remote_images: tuple[str, ...] = ()
    sender_member_id: str | None = None
    agency_id: str | None = None
    field_ids: tuple[str, ...] = ()
    kind: str | None = None
    document: dict[str, Any] | None = None
    byline: Byline | None = None
    files: tuple[FileRecord, ...] = ()
    file_names: tuple[str, ...] = ()
    oversized: tuple[str, ...] = ()
    headers_only: bool = False  # over the size limit: only its header fields were read
    sketch: dedup.Sketch | None = None  # for near-duplicate look-up
    reply: ReplyFacts | None = None  # it answers one of our mails
    damage: tuple[str, ...] = ()  # parse defects after which part of the content is lost
    attached_heads: tuple[str, ...] = ()  # the opening of each .docx not read as the article
    unreadable_word: str | None = None  # the Word file meant as the article, not readable


@dataclass
class Draft:
    """What the reading stages know about one message so far."""

    board: Board
    files: FileStore
    raw: bytes
    mail: ParsedMail | None = None
    title: str = ""
    headline: str = ""  # a Word article's own, from its first line
    html: str = ""
    text: str = ""
    legacy: str | None = None
    from_plain_text: bool = False  # html was made by text_to_html (escaped, already safe)
    article_file: str | None = None  # the .docx that carried the article
    attachments: list[Attachment] = field(default_factory=list)
    remote_images: tuple[str, ...] = ()
    sender: Sender = Sender(None, None)
    field_ids: list[str] = field(default_factory=list)
    kind: str | None = None
    document: dict[str, Any] | None = None
    byline: Byline | None = None
    stored: list[FileRecord] = field(default_factory=list)
    oversized: list[str] = field(default_factory=list)
    sketch: dedup.Sketch | None = None
    reply: ReplyFacts | None = None
    attached_heads: list[str] = field(default_factory=list)
    unreadable_word: str | None = None


def _words(text: str) -> int:
    return len(_WORDS.findall(text))


# -- stages ----------------------------------------------------------------------
def parse(d: Draft) -> None:
    try:
        d.mail = parse_message(d.raw)
    except MessageParseError as exc:
        raise Unreadable(exc.reason) from exc


def _may_answer_us(mail: ParsedMail) -> bool:
    return bool(
        mail.in_reply_to
        or mail.references
        or "[#" + replyauth.TOKEN_PREFIX in mail.subject
        or any("+" + replyauth.TOKEN_PREFIX in a for a in (*mail.to, *mail.cc))
    )


def reply(d: Draft) -> None:
    """Note what a reply says; whether it answers a review request is decided on record."""
    assert d.mail is not None
    d.reply = reply_facts(d.board, d.mail, d.raw)


def reply_facts(
    board: Board, mail: ParsedMail, raw: bytes, unread: UnreadableCommand | None = None
) -> ReplyFacts | None:
    """What ``mail`` says if it answers one of our mails; its body's command, or
    ``unread``: why its body was not read."""
    if not _may_answer_us(mail):
        return None
    headers = BytesHeaderParser(policy=default_policy).parsebytes(raw)
    refs = replyauth.reply_tokens(headers, board.addresses())
    if not (refs.message_ids or refs.tokens):
        return None
    domain = mail.from_address.rpartition("@")[2]
    member = board.member_by_address(mail.from_address)  # may sign an approval: «Duyệt - Châu»
    signer = member.name if member is not None else ""
    return ReplyFacts(
        refs=refs,
        auth=replyauth.check_authentication(headers, board.review.reply_auth, domain),
        auto_reply=replyauth.is_auto_reply(headers),
        command=unread or read_command(mail.text_body, mail.html_body, signer=signer),
        subject=mail.subject,
    )


def screen(d: Draft) -> None:
    assert d.mail is not None
    reason = not_a_submission(d.mail, d.board.addresses())
    if reason:
        raise SetAside(reason)


def _normalize_html(html: str, legacy: Legacy | None) -> str:
    if legacy is None:
        return unicodedata.normalize("NFC", html)  # markup is ASCII: NFC leaves it alone
    soup = parse_html(html)
    # each text converted in its parent's list, the links set once after (bs4's
    # replace_with looks for the node's place among its siblings: quadratic on many)
    stack: list[Tag] = [soup]
    while stack:
        tag = stack.pop()
        for index, node in enumerate(tag.contents):
            if isinstance(node, Tag):
                stack.append(node)
            elif isinstance(node, NavigableString) and node.strip():
                fixed = normalize(str(node), legacy=legacy)
                if fixed != node:
                    tag.contents[index] = NavigableString(fixed)
    relink(soup)
    return str(soup)


def _bodies(mail: ParsedMail) -> tuple[str | None, str]:
    """The mail's HTML and text without a forwarding's header block (the text is the
    HTML's if the mail has no plain text)."""
    html = forwards.strip_html(mail.html_body) if mail.html_body else None
    if mail.text_body:
        return html, forwards.strip_text(mail.text_body)
    return html, html_to_text(html) if html else ""


def _attached_article(mail: ParsedMail, body_text: str) -> ParsedMail | None:
    """The message a cover note forwards as an attachment (Outlook's "Forward as
    attachment", Gmail's too): it is the submission."""
    if _words(body_text) >= COVER_NOTE_WORDS:
        return None
    attached = [a for a in mail.attachments if a.content_type in FORWARDED_TYPES]
    if len(attached) != 1:
        return None
    try:
        inner = parse_message(attached[0].data)
    except MessageParseError as exc:
        log.info("message %s: attached message not readable: %s", mail.message_id, exc.reason)
        return None
    return inner if inner.text_body.strip() or inner.html_body else None


def normalise(d: Draft) -> None:
    """Pick the article (the mail body, a forwarded message, a .docx), convert legacy
    fonts, make it NFC."""
    mail = d.mail
    assert mail is not None
    html_body, body_text = _bodies(mail)
    subject = mail.subject
    d.attachments = list(mail.attachments)
    inner = _attached_article(mail, body_text)
    if inner is not None:  # the wrapper goes: the raw mail keeps it
        d.attachments = [a for a in d.attachments if a.content_type not in FORWARDED_TYPES]
        d.attachments.extend(inner.attachments)
        if not forwards.clean_subject(subject).strip():
            subject = inner.subject
        mail, (html_body, body_text) = inner, _bodies(inner)
    # detect on the whole body: a text node or a subject alone may be too short to tell
    d.legacy = detect_legacy(body_text) or detect_legacy(subject)
    d.title = forwards.clean_subject(normalize(subject, legacy=d.legacy).strip())
    if html_body:
        d.html = _normalize_html(html_body, d.legacy)
    else:  # text_to_html escapes everything: its output needs no sanitising
        d.text = normalize(body_text, legacy=d.legacy).strip()
        d.html, d.from_plain_text = text_to_html(d.text), True
    docx = [a for a in d.attachments if is_word_file(a.filename, a.content_type)]
    if docx and _words(body_text) < COVER_NOTE_WORDS:
        try:
            article = docx_to_html(docx[0].data)
        except DocxError as exc:
            log.info("message %s: .docx not usable as the article: %s", mail.message_id, exc.reason)
            d.unreadable_word = docx[0].filename
            return
        d.html, d.from_plain_text = article.html, False
        d.article_file = docx[0].filename
        d.attachments.extend(article.images)


def read_attached(d: Draft) -> None:
    """The opening of each .docx the article is not read from: a file published with the
    post, where a security stamp must be seen too (pipeline/checks.py)."""
    for att in d.attachments:
        if is_word_file(att.filename, att.content_type) and att.filename != d.article_file:
            try:
                d.attached_heads.append(docx_text(att.data)[:ATTACHED_HEAD_CHARS])
            except DocxError as exc:
                log.info(
                    "message %s: attached .docx not readable: %s",
                    d.mail and d.mail.message_id,
                    exc.reason,
                )


def sanitise(d: Draft) -> None:
    if d.from_plain_text:
        return
    clean = sanitize_html(d.html)
    d.html, d.remote_images = clean.html, clean.remote_images
    d.text = html_to_text(d.html)


def classify(d: Draft) -> None:
    assert d.mail is not None
    d.sender = identify_sender(d.board, d.mail.from_address)
    d.field_ids = classify_fields(d.board, d.title, d.text, d.sender)
    types = [(a.filename, a.content_type) for a in d.attachments if not a.inline]
    d.kind, doc = classify_submission(d.title, d.text, types, html=d.html)
    d.document = doc.to_dict() if doc is not None else None
    d.byline = extract_byline(d.text)


def headline(d: Draft) -> None:
    """A Word article's own headline is its title, and leaves its body (not a document's
    first line: a document is named by its kind and number)."""
    if d.article_file is None or d.kind == "van_ban":
        return
    found = split_headline(d.html)
    if found is not None:
        d.headline, d.html, d.text = found.headline, found.html, found.text


def store_files(d: Draft) -> None:
    max_part = int(d.board.limits.max_attachment_mb * 1024 * 1024)
    for att in d.attachments:
        role = (
            "article"
            if att.filename == d.article_file
            else ("inline" if att.inline else "attachment")
        )
        if att.size > max_part:
            limit = d.board.limits.max_attachment_mb
            d.oversized.append(f"{att.filename} ({mailkit.over_limit(att.size, limit)})")
        d.stored.append(
            FileRecord(
                filename=att.filename,
                content_type=att.content_type,
                size=att.size,
                sha256=None if att.size > max_part else d.files.put(att.data),
                content_id=att.content_id,
                role=role,
            )
        )


def sketch(d: Draft) -> None:
    d.sketch = dedup.sketch(f"{d.title}\n{d.text}")


# Order is data: read the list and you know the flow.
STAGES: tuple[tuple[str, Callable[[Draft], None]], ...] = (
    ("parse", parse),
    ("reply", reply),
    ("screen", screen),
    ("normalise", normalise),
    ("read-attached", read_attached),
    ("sanitise", sanitise),
    ("classify", classify),
    ("headline", headline),
    ("store-files", store_files),
    ("sketch", sketch),
)


def _envelope(d: Draft) -> dict[str, Any]:
    mail = d.mail
    if mail is None:
        return {}
    return {
        "message_id": mail.message_id,
        "from_address": mail.from_address,
        "from_name": normalize(mail.from_name),
        "title": d.title or normalize(mail.subject),
        "reply": d.reply,
    }


def header_block(raw: bytes) -> bytes:
    """The message's header fields, up to the blank line that ends them."""
    end = header_end(raw, HEADER_BYTES)
    return (raw[:end] if end >= 0 else raw[:HEADER_BYTES]) + b"\r\n\r\n"


def too_large(board: Board, raw: bytes) -> Reading:
    """A message over the board's size limit: only its header fields are read (sender,
    subject, Message-ID), enough to return it with a notice, or to tell a reviewer that
    his reply was not read; the raw message is kept."""
    head = header_block(raw)
    try:
        mail = parse_message(head)
    except MessageParseError as exc:
        return Reading(outcome="unreadable", reason=f"không đọc được thư: {exc.reason}")
    if reason := not_a_submission(mail, board.addresses()):  # a bounce of a big mail…
        return Reading(
            outcome="set_aside",
            reason=reason,
            message_id=mail.message_id,
            from_address=mail.from_address,
        )
    sender = identify_sender(board, mail.from_address)
    size = mailkit.over_limit(len(raw), board.limits.max_message_mb)
    subject = normalize(mail.subject).strip()
    unread = UnreadableCommand(
        f"Thư trả lời ({size}) vượt dung lượng cho phép nên không được đọc; xin trả lời lại, "
        "không kèm tệp."
    )
    return Reading(
        outcome="submission",
        message_id=mail.message_id,
        from_address=mail.from_address,
        from_name=normalize(mail.from_name),
        title=subject,
        headline=untagged(board, forwards.clean_subject(subject)),
        sender_member_id=sender.member.id if sender.member else None,
        agency_id=sender.agency.id if sender.agency else None,
        oversized=(f"toàn bộ thư ({size})",),
        headers_only=True,
        reply=reply_facts(board, mail, head, unread),
    )


def read(board: Board, files: FileStore, raw: bytes) -> Reading:
    """Run every reading stage on ``raw``; a message over the size limit is not parsed."""
    if len(raw) > board.limits.max_message_mb * 1024 * 1024:
        return too_large(board, raw)
    d = Draft(board=board, files=files, raw=raw)
    try:
        for _name, stage in STAGES:
            stage(d)
    except SetAside as exc:
        return Reading(outcome="set_aside", reason=str(exc), **_envelope(d))
    except Unreadable as exc:
        return Reading(outcome="unreadable", reason=f"không đọc được thư: {exc}", **_envelope(d))
    return Reading(
        outcome="submission",
        **_envelope(d),
        headline=d.headline or untagged(board, d.title),
        own_headline=bool(d.headline),
        html=d.html,
        text=d.text,
        legacy=d.legacy,
        remote_images=d.remote_images,
        sender_member_id=d.sender.member.id if d.sender.member else None,
        agency_id=d.sender.agency.id if d.sender.agency else None,
        field_ids=tuple(d.field_ids),
        kind=d.kind,
        document=d.document,
        byline=d.byline,
        files=tuple(d.stored),
        file_names=tuple(a.filename for a in d.attachments),
        oversized=tuple(d.oversized),
        sketch=d.sketch,
        damage=content_lost(d.mail.defects) if d.mail else (),
        attached_heads=tuple(d.attached_heads),
        unreadable_word=d.unreadable_word,
    )
