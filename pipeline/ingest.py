"""From a recorded raw message to a stored, clean, classified submission.

The flow is data: STAGES lists the steps in order. A step reads and extends the
``Work`` in hand; it ends the flow early by raising ``SetAside`` (not a
submission) or ``Unreadable`` (kept raw with the reason). Everything a message
causes — the submission, its files, its flags, the notices owed — is written in
one transaction, so a crash leaves either all of it or none.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from bs4 import BeautifulSoup, NavigableString
from sqlalchemy.orm import Session

from pipeline import byline, dedup, notices
from pipeline.checks import Action, Facts, Flag, decide, run_checks
from pipeline.classify import Sender, classify_fields, identify_sender, owners
from pipeline.config import Board
from pipeline.docmeta import classify_kind, extract_document_metadata
from pipeline.docx import DocxError, docx_to_html
from pipeline.files import FileStore
from pipeline.models import Event, RawMessage, RawStatus, State, StoredFile, Submission
from pipeline.parsing import Attachment, MessageParseError, ParsedMail, parse_message
from pipeline.sanitize import html_to_text, sanitize_html, text_to_html
from pipeline.screening import not_a_submission
from pipeline.vietnamese import Legacy, detect_legacy, normalize

log = logging.getLogger(__name__)

DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
COVER_NOTE_WORDS = 120  # a mail body this short is a cover note; a .docx carries the article
_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
_WORDS = re.compile(r"\w+")


class SetAside(Exception):
    """Not a submission (auto-reply, bounce, list, our own mail)."""


class Unreadable(Exception):
    """The message cannot be read; it is kept raw with this reason."""


@dataclass
class Work:
    """What the stages know about one message so far."""

    board: Board
    raw: RawMessage
    session: Session
    files: FileStore
    mail: ParsedMail | None = None
    title: str = ""
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
    document: dict[str, str | None] | None = None
    byline: byline.Byline | None = None
    stored: list[StoredFile] = field(default_factory=list)
    oversized: list[str] = field(default_factory=list)
    signature: dedup.Signature | None = None
    duplicate: Submission | None = None
    flags: list[Flag] = field(default_factory=list)
    item: Submission | None = None


def _words(text: str) -> int:
    return len(_WORDS.findall(text))


# -- stages ----------------------------------------------------------------------
def parse(w: Work) -> None:
    try:
        w.mail = parse_message(w.raw.raw)
    except MessageParseError as exc:
        raise Unreadable(exc.reason) from exc


def screen(w: Work) -> None:
    assert w.mail is not None
    reason = not_a_submission(w.mail, w.board.addresses())
    if reason:
        raise SetAside(reason)


def _normalize_html(html: str, legacy: Legacy | None) -> str:
    if legacy is None:
        return unicodedata.normalize("NFC", html)  # markup is ASCII: NFC leaves it alone
    soup = BeautifulSoup(html, "html.parser")
    for node in soup.find_all(string=True):
        if isinstance(node, NavigableString) and node.strip():
            fixed = normalize(str(node), legacy=legacy)
            if fixed != node:
                node.replace_with(fixed)
    return str(soup)


def normalise(w: Work) -> None:
    """Pick the article (mail body or a .docx), convert legacy fonts, make it NFC."""
    mail = w.mail
    assert mail is not None
    body_text = mail.text_body or (html_to_text(mail.html_body) if mail.html_body else "")
    # detect on the whole body: a text node or a subject alone may be too short to tell
    w.legacy = detect_legacy(body_text) or detect_legacy(mail.subject)
    w.title = normalize(mail.subject, legacy=w.legacy).strip()
    if mail.html_body:
        w.html = _normalize_html(mail.html_body, w.legacy)
    else:  # text_to_html escapes everything: its output needs no sanitising
        w.text = normalize(body_text, legacy=w.legacy).strip()
        w.html, w.from_plain_text = text_to_html(w.text), True
    w.attachments = list(mail.attachments)
    docx = [
        a
        for a in mail.attachments
        if a.content_type == DOCX_TYPE or a.filename.lower().endswith(".docx")
    ]
    if docx and _words(body_text) < COVER_NOTE_WORDS:
        try:
            article = docx_to_html(docx[0].data)
        except DocxError as exc:
            log.info("message %s: .docx not usable as the article: %s", w.raw.id, exc.reason)
            return
        w.html, w.from_plain_text = article.html, False
        w.article_file = docx[0].filename
        w.attachments.extend(article.images)


def sanitise(w: Work) -> None:
    if w.from_plain_text:
        return
    clean = sanitize_html(w.html)
    w.html, w.remote_images = clean.html, clean.remote_images
    w.text = html_to_text(w.html)


def classify(w: Work) -> None:
    assert w.mail is not None
    w.sender = identify_sender(w.board, w.mail.from_address)
    w.field_ids = classify_fields(w.board, w.title, w.text, w.sender)
    doc = extract_document_metadata(w.title, w.text)
    w.document = doc.to_dict() if doc is not None else None
    types = [(a.filename, a.content_type) for a in w.attachments if not a.inline]
    w.kind = classify_kind(w.title, w.text, types)
    w.byline = byline.extract(w.text)


def store_files(w: Work) -> None:
    limits = w.board.limits
    max_part = int(limits.max_attachment_mb * 1024 * 1024)
    whole_too_big = w.raw.size > limits.max_message_mb * 1024 * 1024
    if whole_too_big:
        w.oversized.append(f"toàn bộ thư ({w.raw.size // (1024 * 1024)} MB)")
    for att in w.attachments:
        role = (
            "article"
            if att.filename == w.article_file
            else ("inline" if att.inline else "attachment")
        )
        if att.size > max_part:
            w.oversized.append(f"{att.filename} ({att.size // (1024 * 1024)} MB)")
        too_big = whole_too_big or att.size > max_part
        w.stored.append(
            StoredFile(
                filename=att.filename,
                content_type=att.content_type,
                size=att.size,
                sha256=None if too_big else w.files.put(att.data),
                content_id=att.content_id,
                role=role,
            )
        )


def find_duplicates(w: Work) -> None:
    w.signature = dedup.signature(f"{w.title}\n{w.text}")
    if w.signature is not None:
        w.duplicate = dedup.find_duplicate(
            w.session, w.board.id, w.signature, w.board.checks.duplicate_threshold
        )


def check(w: Work) -> None:
    assert w.byline is not None
    dup = (w.duplicate.id, w.duplicate.tracking_code) if w.duplicate is not None else None
    w.flags = run_checks(
        Facts(
            board=w.board,
            sender=w.sender,
            title=w.title,
            text=w.text,
            byline=w.byline,
            file_names=tuple(a.filename for a in w.attachments),
            oversized=tuple(w.oversized),
            duplicate_of=dup,
            legacy_encoding=w.legacy,
            remote_images=w.remote_images,
        )
    )


def store(w: Work) -> None:
    mail, by = w.mail, w.byline
    assert mail is not None and by is not None
    state = decide(w.flags)
    reason = "; ".join(f.message for f in w.flags if f.action is not Action.NOTE)
    item = _new_item(w, state, reason=reason or None)
    item.kind = w.kind
    item.agency_id = w.sender.agency.id if w.sender.agency else None
    item.sender_member_id = w.sender.member.id if w.sender.member else None
    item.field_ids = w.field_ids
    item.member_ids = owners(w.board, w.field_ids)
    item.title, item.body_html, item.body_text = w.title, w.html, w.text
    item.author = by.author
    item.unit = by.unit or (w.sender.agency.name if w.sender.agency else None)
    item.source = by.source
    item.document = w.document
    item.flags = [f.to_dict() for f in w.flags]
    item.remote_images = list(w.remote_images)
    item.legacy_encoding = w.legacy
    item.content_hash = hashlib.sha256(f"{w.title}\n{w.html}".encode()).hexdigest()
    item.duplicate_of = w.duplicate.id if w.duplicate is not None else None
    item.files = w.stored
    w.session.flush()
    if w.signature is not None:
        dedup.index(w.session, item, w.signature)
    w.item = item


def acknowledge(w: Work) -> None:
    assert w.item is not None
    notices.for_state(w.session, w.board, w.item, w.flags)


# Order is data: read the list and you know the flow.
STAGES: tuple[tuple[str, Callable[[Work], None]], ...] = (
    ("parse", parse),
    ("screen", screen),
    ("normalise", normalise),
    ("sanitise", sanitise),
    ("classify", classify),
    ("store-files", store_files),
    ("find-duplicates", find_duplicates),
    ("check", check),
    ("store", store),
    ("acknowledge", acknowledge),
)


# -- outcomes ------------------------------------------------------------------
def tracking_code(now: datetime) -> str:
    token = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(6))
    return f"BT-{now:%y%m%d}-{token}"


def _new_item(w: Work, state: State, reason: str | None) -> Submission:
    mail = w.mail
    item = Submission(
        board_id=w.board.id,
        raw_message_id=w.raw.id,
        tracking_code=tracking_code(w.raw.received_at),
        state=state,
        reason=reason,
        message_id=mail.message_id if mail else w.raw.message_id,
        sender_address=mail.from_address if mail else "",
        sender_name=normalize(mail.from_name) if mail else "",
        title=normalize(mail.subject) if mail else "",
        field_ids=[],
        member_ids=[],
        flags=[],
        remote_images=[],
    )
    w.session.add(item)
    return item


def _finish(w: Work, state: State, reason: str | None) -> Submission:
    item = w.item or _new_item(w, state, reason)
    w.session.flush()
    box = next(m for m in w.board.mailboxes if m.name == w.raw.mailbox)
    w.raw.status = RawStatus.DONE
    w.raw.target_folder = (
        box.set_aside_folder if state in (State.SET_ASIDE, State.FAILED) else box.processed_folder
    )
    w.session.add(
        Event(
            board_id=w.board.id,
            submission_id=item.id,
            raw_message_id=w.raw.id,
            kind=str(state),
            detail={"reason": reason} if reason else {},
        )
    )
    return item


def process(session: Session, board: Board, files: FileStore, raw: RawMessage) -> Submission:
    """Run every stage on ``raw``; the caller commits."""
    w = Work(board=board, raw=raw, session=session, files=files)
    try:
        for _name, stage in STAGES:
            stage(w)
    except SetAside as exc:
        return _finish(w, State.SET_ASIDE, str(exc))
    except Unreadable as exc:
        return _finish(w, State.FAILED, f"không đọc được thư: {exc}")
    assert w.item is not None
    return _finish(w, State(w.item.state), w.item.reason)


def fail(
    session: Session, board: Board, files: FileStore, raw: RawMessage, reason: str
) -> Submission:
    """Keep a message that kept crashing the pipeline as a failed item, raw and visible."""
    w = Work(board=board, raw=raw, session=session, files=files)
    return _finish(w, State.FAILED, reason)
