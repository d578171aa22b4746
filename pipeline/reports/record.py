"""The record, read for a period: one :class:`Fact` per item that arrived, went live or
was refused in it.

When an item went live is its first publication: the earliest of the publication's
``published_at`` and its first "published" event. A correction republishes the item and
moves ``published_at`` on, but the sealed event keeps the first moment, so a corrected
item is neither counted twice nor moved into a later period.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from pipeline.models import Event, Publication, RawMessage, State, Submission
from pipeline.publishing import SCHEDULED
from pipeline.reports.periods import Period

NOT_ITEMS = (State.SET_ASIDE, State.FAILED)  # messages kept, but not submissions
LIVE_EVENT, REFUSED_EVENT = "published", "rejected"
NO_AUTHOR = "(không ghi tác giả)"
_Set = tuple[datetime, datetime]  # when the board set a time to go live, and that time
UNSEEN = frozenset({"Cc", "Cf"})  # control and format characters (Unicode categories)


@dataclass(frozen=True)
class Fact:
    id: int
    tracking_code: str
    title: str
    kind: str | None
    state: str
    agency_id: str | None
    author: str  # who is credited: the byline's author, else the sender
    field_ids: tuple[str, ...]
    member_ids: tuple[str, ...]
    arrived_at: datetime
    due_at: datetime | None  # the deadline, or the later time the board set before it
    published_at: datetime | None  # first time live on the portal
    rejected_at: datetime | None

    @property
    def withdrawn(self) -> bool:
        return self.state == State.WITHDRAWN


def clean(value: str | None) -> str:
    """Text from mail as one line of what a reader sees: NFC, spaces collapsed, and no
    control or format character (a bell, a zero-width space, a bidi override), which no
    worksheet may hold and which would part one author's name into two."""
    text = unicodedata.normalize("NFC", value or "")
    shown = "".join(ch for ch in text if ch.isspace() or unicodedata.category(ch) not in UNSEEN)
    return " ".join(shown.split())


def _name(*candidates: str | None) -> str:
    for value in candidates:
        text = clean(value)
        if text:
            return text
    return NO_AUTHOR


def _scheduled(session: Session, items: Select[int]) -> dict[int, list[_Set]]:
    """The times the board set for ``items`` to go live (hẹn giờ đăng), oldest first."""
    out: dict[int, list[_Set]] = {}
    for item_id, made, detail in session.execute(
        select(Event.submission_id, Event.created_at, Event.detail)
        .where(Event.submission_id.in_(items), Event.kind == SCHEDULED)
        .order_by(Event.id)
    ):
        out.setdefault(item_id, []).append((made, datetime.fromisoformat(detail["at"])))
    return out


def _deadline(due: datetime | None, schedules: list[_Set]) -> datetime | None:
    """An item's deadline, moved to the time the board set for it to go live, when it set
    that time before the deadline passed (published then, it was on time)."""
    if due is None:
        return None
    before = [at for made, at in schedules if made <= due]
    return max(due, before[-1]) if before else due


def facts(session: Session, board_id: str, period: Period) -> list[Fact]:
    """Items of ``board_id`` that arrived, first went live, or were refused in ``period``."""
    start, end = period.start, period.end
    live = select(Publication.submission_id).where(
        Publication.board_id == board_id,
        Publication.published_at >= start,
        Publication.published_at < end,
    )
    happened = select(Event.submission_id).where(
        Event.board_id == board_id,
        Event.kind.in_((LIVE_EVENT, REFUSED_EVENT)),
        Event.created_at >= start,
        Event.created_at < end,
    )
    touching = (
        select(Submission.id)
        .join(RawMessage, Submission.raw_message_id == RawMessage.id)
        .where(
            Submission.board_id == board_id,
            Submission.state.not_in(NOT_ITEMS),
            or_(
                (RawMessage.received_at >= start) & (RawMessage.received_at < end),
                Submission.id.in_(live),
                Submission.id.in_(happened),
            ),
        )
    )
    firsts: dict[tuple[int | None, str], datetime] = {
        (sid, kind): at
        for sid, kind, at in session.execute(
            select(Event.submission_id, Event.kind, func.min(Event.created_at))
            .where(Event.submission_id.in_(touching), Event.kind.in_((LIVE_EVENT, REFUSED_EVENT)))
            .group_by(Event.submission_id, Event.kind)
        )
    }
    set_at = _scheduled(session, touching)
    rows = session.execute(
        select(Submission, RawMessage.received_at, Publication.published_at)
        .join(RawMessage, Submission.raw_message_id == RawMessage.id)
        .outerjoin(Publication, Publication.submission_id == Submission.id)
        .where(Submission.id.in_(touching))
        .order_by(Submission.id)
    )
    out = []
    for item, arrived, published in rows:
        went_live = [t for t in (published, firsts.get((item.id, LIVE_EVENT))) if t is not None]
        refused = None
        if item.state == State.REJECTED:
            refused = firsts.get((item.id, REFUSED_EVENT), item.updated_at)
        out.append(
            Fact(
                id=item.id,
                tracking_code=item.tracking_code,
                title=clean(item.title),
                kind=item.kind,
                state=item.state,
                agency_id=item.agency_id,
                author=_name(item.author, item.sender_name, item.sender_address),
                field_ids=tuple(item.field_ids or ()),
                member_ids=tuple(item.member_ids or ()),
                arrived_at=arrived,
                due_at=_deadline(item.due_at, set_at.get(item.id, [])),
                published_at=min(went_live) if went_live else None,
                rejected_at=refused,
            )
        )
    return out


@dataclass(frozen=True)
class Earlier:
    """An item that went live before with the same content (title and text)."""

    tracking_code: str
    published_at: datetime


def repeats(session: Session, board_id: str) -> dict[int, Earlier]:
    """Items that went live with the content of one that went live before them (the same
    article mailed again, approved again): item id → the first. Duplicates are looked for
    among items waiting for review only, so an article sent again after it was published
    is published, and paid, twice unless someone sees it here."""
    went_live = (
        select(Event.submission_id.label("id"), func.min(Event.created_at).label("at"))
        .where(Event.board_id == board_id, Event.kind == LIVE_EVENT)
        .group_by(Event.submission_id)
        .subquery()
    )
    shared = (
        select(Submission.content_hash)
        .join(went_live, went_live.c.id == Submission.id)
        .where(Submission.board_id == board_id, Submission.content_hash.is_not(None))
        .group_by(Submission.content_hash)
        .having(func.count() > 1)
    )
    rows = session.execute(
        select(Submission.id, Submission.tracking_code, Submission.content_hash, went_live.c.at)
        .join(went_live, went_live.c.id == Submission.id)
        .where(Submission.board_id == board_id, Submission.content_hash.in_(shared))
        .order_by(went_live.c.at, Submission.id)
    )
    first: dict[str, Earlier] = {}
    out: dict[int, Earlier] = {}
    for item_id, code, digest, at in rows:
        if digest in first:
            out[item_id] = first[digest]
        else:
            first[digest] = Earlier(code, at)
    return out
