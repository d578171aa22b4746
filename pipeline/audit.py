"""The tamper-evident record: each board's events form a hash chain.

Events are written with whatever caused them; ``seal`` then numbers the new ones in
order and gives each the hash of its content and of the event before it. ``verify``
walks the chain: an event changed, removed or slipped in afterwards breaks it there.
Sealing runs after each pass, behind a lock on the board's chain head (a row lock on
PostgreSQL, a thread lock within one process).
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from pipeline.models import AuditHead, Event

GENESIS = "0" * 64
_locks: defaultdict[str, threading.Lock] = defaultdict(threading.Lock)


def _timestamp(value: datetime) -> str:
    # SQLite hands back naive UTC, PostgreSQL aware: hash the same text for both
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.isoformat(timespec="microseconds")


def digest(event: Event, prev_hash: str) -> str:
    content = [
        event.board_id,
        event.seq,
        event.submission_id,
        event.raw_message_id,
        event.kind,
        event.actor,
        event.channel,
        event.detail,
        _timestamp(event.created_at),
        prev_hash,
    ]
    text = json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def seal(session: Session, board_id: str) -> int:
    """Chain the board's unsealed events; the caller commits. Returns how many."""
    with _locks[board_id]:
        head = session.scalar(
            select(AuditHead).where(AuditHead.board_id == board_id).with_for_update()
        )
        if head is None:
            head = AuditHead(board_id=board_id, seq=0, hash=GENESIS)
            session.add(head)
        events = session.scalars(
            select(Event).where(Event.board_id == board_id, Event.seq.is_(None)).order_by(Event.id)
        ).all()
        for event in events:
            event.seq, event.prev_hash = head.seq + 1, head.hash
            event.hash = digest(event, head.hash)
            head.seq, head.hash = event.seq, event.hash
        session.flush()
        return len(events)


@dataclass(frozen=True)
class Verdict:
    board_id: str
    checked: int
    problem: str | None  # None: the chain is whole

    @property
    def ok(self) -> bool:
        return self.problem is None


def verify(session: Session, board_id: str) -> Verdict:
    prev, expected = GENESIS, 1
    events = session.scalars(
        select(Event)
        .where(Event.board_id == board_id, Event.seq.is_not(None))
        .order_by(Event.seq)
        .execution_options(yield_per=500)
    )
    for event in events:
        if event.seq != expected:
            return Verdict(board_id, expected - 1, f"event #{expected} is missing")
        if event.prev_hash != prev or digest(event, prev) != event.hash:
            return Verdict(board_id, expected - 1, f"event #{expected} was altered")
        prev, expected = event.hash or "", expected + 1
    head = session.get(AuditHead, board_id)
    if head is not None and (head.seq, head.hash) != (expected - 1, prev):
        return Verdict(
            board_id,
            expected - 1,
            f"events after #{expected - 1} were removed (the head is #{head.seq})",
        )
    return Verdict(board_id, expected - 1, None)
