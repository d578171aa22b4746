"""From a recorded raw message to a stored, clean, classified submission.

Two phases. Reading (``pipeline/reading.py``) needs only the message's bytes and
can run in worker processes. Recording, here, needs the database: STAGES looks for
near-duplicates, runs the checks, stores the submission and queues the notices it
calls for. Everything a message causes is written in the caller's transaction, so
a crash leaves either all of it or none.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.orm import Session

from pipeline import dedup, ids, notices, reminders, replies, review
from pipeline.byline import Byline
from pipeline.checks import Action, Facts, Flag, decide, run_checks
from pipeline.classify import Sender, owners
from pipeline.config import Board
from pipeline.models import Event, RawMessage, RawStatus, State, StoredFile, Submission
from pipeline.reading import Reading
from pipeline.review import Desk

_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"


@dataclass
class Work:
    """What the recording stages know about one message so far."""

    desk: Desk
    raw: RawMessage
    reading: Reading
    duplicate: dedup.Earlier | None = None
    flags: list[Flag] = field(default_factory=list)
    item: Submission | None = None
    new: bool = False  # the item was created by this message (not kept from a failed try)

    @property
    def board(self) -> Board:
        return self.desk.board

    @property
    def session(self) -> Session:
        return self.desk.session

    @property
    def sender(self) -> Sender:
        r, board = self.reading, self.board
        return Sender(
            board.member(r.sender_member_id) if r.sender_member_id else None,
            board.agency(r.agency_id) if r.agency_id else None,
        )


# -- stages ----------------------------------------------------------------------
def find_duplicates(w: Work) -> None:
    if w.reading.sketch is not None:
        itself = w.raw.submission.id if w.raw.submission is not None else None  # read again
        w.duplicate = dedup.find_duplicate(
            w.session, w.board.id, w.reading.sketch, w.board.checks.duplicate_threshold, itself
        )


def check(w: Work) -> None:
    r = w.reading
    w.flags = run_checks(
        Facts(
            board=w.board,
            sender=w.sender,
            title=r.title,
            text=r.text,
            byline=None if r.unreadable_word else r.byline,  # the article was not read
            file_names=r.file_names,
            oversized=r.oversized,
            duplicate_of=w.duplicate,
            legacy_encoding=r.legacy,
            remote_images=r.remote_images,
            damage=r.damage,
            article_file=next((f.filename for f in r.files if f.role == "article"), None),
            attached_heads=r.attached_heads,
            unreadable_word=r.unreadable_word,
        )
    )


def recheck(w: Work, item: Submission) -> list[Flag]:
    """The flags of a sender's new version of ``item``: the checks of a new submission
    (a stamp added, a sensitive topic, the author now given…), and the item's own
    near-duplicate (the new version is, of course, close to the old)."""
    earlier = w.session.get(Submission, item.duplicate_of) if item.duplicate_of else None
    w.duplicate = (
        dedup.Earlier(earlier.id, earlier.tracking_code, earlier.state) if earlier else None
    )
    check(w)
    return w.flags


def store(w: Work) -> None:
    r, sender = w.reading, w.sender
    byline = r.byline or Byline(None, None, None, collected=False)  # None: body not read
    reason = "; ".join(f.message for f in w.flags if f.action is not Action.NOTE)
    item = _new_item(w, decide(w.flags), reason or None)
    item.kind = r.kind
    item.agency_id = r.agency_id
    item.sender_member_id = r.sender_member_id
    item.field_ids = list(r.field_ids)
    item.member_ids = owners(w.board, list(r.field_ids))
    item.body_html, item.body_text = r.html, r.text
    item.author = fit("author", byline.author)
    item.unit = fit("unit", byline.unit or (sender.agency.name if sender.agency else None))
    item.source = fit("source", byline.source)
    item.document = r.document
    item.flags = [f.to_dict() for f in w.flags]
    item.remote_images = list(r.remote_images)
    item.legacy_encoding = r.legacy
    item.content_hash = review.content_hash(item.title, r.html)
    item.duplicate_of = w.duplicate.id if w.duplicate is not None else None
    item.minhash = r.sketch.minhash if r.sketch is not None else None
    item.files = [StoredFile(**vars(f)) for f in r.files]
    if item.state == State.PENDING_REVIEW:
        item.due_at = due_date(w.board, r.kind, w.raw.received_at)
    ids.need(w.session, item)
    if r.sketch is not None:
        dedup.index(w.session, item, r.sketch)
    w.item = item


def acknowledge(w: Work) -> None:
    assert w.item is not None
    notices.for_state(w.session, w.board, w.item, w.flags)


def route(w: Work) -> None:
    """Put an item awaiting review at the first step of its board's review path (once it
    is on record: its first event says it arrived, the next where it went)."""
    assert w.item is not None
    if w.item.state == State.PENDING_REVIEW:
        review.start(w.desk, w.item, new=w.new)


def due_date(board: Board, kind: str | None, arrived: datetime) -> datetime | None:
    """When an item of ``kind`` arriving at ``arrived`` must be published, per the board.

    The regulations count from the event (Lục Nam Đ12.3); the mail's arrival is the
    closest thing the pipeline knows.
    """
    times = reminders.item_schedule(board, kind, arrived)
    return times.due if times is not None else None


# Order is data: read the list and you know the flow (reading.STAGES come first).
STAGES: tuple[tuple[str, Callable[[Work], None]], ...] = (
    ("find-duplicates", find_duplicates),
    ("check", check),
    ("store", store),
    ("acknowledge", acknowledge),
)
AFTER_RECORD: tuple[tuple[str, Callable[[Work], None]], ...] = (("route", route),)


# -- outcomes ------------------------------------------------------------------
def tracking_code(now: datetime) -> str:
    token = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(6))
    return f"BT-{now:%y%m%d}-{token}"


def _new_item(w: Work, state: State, reason: str | None) -> Submission:
    """The message's item. A failed or held message processed again (``bientap
    reprocess``) keeps the item it had (id, tracking code, history): one message, one
    item; what its earlier reading stored (files, near-duplicate buckets) is replaced."""
    r = w.reading
    item = w.raw.submission
    if item is None:
        w.new = True
        item = Submission(
            board_id=w.board.id,
            raw_message_id=w.raw.id,
            tracking_code=tracking_code(w.raw.received_at),
        )
    else:
        for stored in item.files:
            w.session.delete(stored)
        item.files = []
        dedup.unindex(w.session, item.id)
    item.state, item.reason = state, reason
    item.message_id = fit("message_id", r.message_id or w.raw.message_id)
    item.sender_address = fit("sender_address", r.from_address) or ""
    item.sender_name, item.title = fit("sender_name", r.from_name) or "", r.headline or r.title
    item.field_ids, item.member_ids, item.flags, item.remote_images = [], [], [], []
    w.session.add(item)
    return item


def fit(column: str, value: str | None) -> str | None:
    """``value`` clipped to its column: a byline that runs on past its line, or a forged
    header, must not cost the item (PostgreSQL refuses what is too long)."""
    length = getattr(Submission.__table__.c[column].type, "length", None)
    return value[:length] if value and length else value


def _done(w: Work, set_aside: bool) -> None:
    box = next(m for m in w.board.mailboxes if m.name == w.raw.mailbox)
    w.raw.status = RawStatus.DONE
    w.raw.target_folder = box.set_aside_folder if set_aside else box.processed_folder


def _finish(w: Work, state: State, reason: str | None) -> Submission:
    item = w.item or _new_item(w, state, reason)
    ids.need(w.session, item)  # its events need its id
    _done(w, state in (State.SET_ASIDE, State.FAILED))
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


_OUTCOME_STATE = {"set_aside": State.SET_ASIDE, "unreadable": State.FAILED}


def record(desk: Desk, raw: RawMessage, reading: Reading) -> Submission | None:
    """Store what reading ``raw`` found; the caller commits. A reviewer's reply is applied
    to the item it answers (None); a sender's correction becomes a new version of it."""
    w = Work(desk=desk, raw=raw, reading=reading)
    if replies.take_reply(desk, raw, reading):
        _done(w, set_aside=False)
        return None
    corrected = replies.corrected_item(desk, reading)
    if corrected is not None:
        if reading.headers_only:  # too large to read: the item stands, its sender is told
            replies.refuse_correction(desk, raw, reading, corrected)
        else:
            replies.take_correction(desk, raw, reading, corrected, recheck(w, corrected))
        _done(w, set_aside=False)
        return corrected
    if reading.outcome in _OUTCOME_STATE:
        return _finish(w, _OUTCOME_STATE[reading.outcome], reading.reason)
    for _name, stage in STAGES:
        stage(w)
    assert w.item is not None
    item = _finish(w, State(w.item.state), w.item.reason)
    for _name, stage in AFTER_RECORD:
        stage(w)
    return item


def fail(desk: Desk, raw: RawMessage, reason: str) -> Submission:
    """Keep a message that kept crashing the pipeline as a failed item, raw and visible."""
    return _finish(Work(desk, raw, Reading(outcome="unreadable")), State.FAILED, reason)
