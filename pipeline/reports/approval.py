"""The head's approval of a royalty statement, on the sealed record.

No table of its own: an approval is an event ("royalty-statement-approved") carrying
the period, the SHA-256 of the statement's figures and its totals, sealed into the
board's audit chain at once. A statement whose figures changed after an approval (an
item published late, a kind corrected, an item credited to another author or agency,
an item withdrawn) has another digest and needs a new approval. An item is approved
once: a period holding items of another period approved (Q2 approved, then H1 or May)
is refused, and its statement says so.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from pipeline import audit
from pipeline.config import ROLE_LABELS, Board
from pipeline.models import Event
from pipeline.reports import royalty
from pipeline.reports.periods import Period
from pipeline.reports.royalty import NO_RATES, Statement

KIND = "royalty-statement-approved"


class Refused(Exception):
    """The approval cannot be recorded; the message says why, in Vietnamese."""


def approvals(session: Session, board_id: str, label: str | None = None) -> list[Event]:
    """Approvals recorded for the statement of period ``label`` (of any, if None), oldest
    first."""
    events = session.scalars(
        select(Event).where(Event.board_id == board_id, Event.kind == KIND).order_by(Event.id)
    )
    return [e for e in events if label is None or e.detail.get("period") == label]


def approved_before(session: Session, statement: Statement) -> tuple[list[str], int] | None:
    """The other periods approved that overlap this one (a quarter, then its half-year or
    one of its months), and how many of this statement's items they hold: an item is
    approved for payment once."""
    mine = {e.fact.id for e in statement.entries}
    period, labels, shared = statement.period, [], set()
    for event in approvals(session, statement.board.id):
        label = str(event.detail["period"])
        start = datetime.fromisoformat(event.detail["start"])
        end = datetime.fromisoformat(event.detail["end"])
        if label == period.label or label in labels or end <= period.start or start >= period.end:
            continue
        other = royalty.statement(session, statement.board, Period(label, "custom", start, end))
        held = mine & {e.fact.id for e in other.entries}
        if held:
            labels.append(label)
            shared |= held
    return (labels, len(shared)) if shared else None


def approve(
    session: Session,
    statement: Statement,
    member_id: str,
    reason: str,
    operator: str,
    now: datetime,
) -> Event:
    """Record ``member_id``'s approval of ``statement``; the caller commits."""
    board = statement.board
    approver = board.reports.royalties.approver
    member = next((m for m in board.members if m.id == member_id), None)
    if member is None:
        raise Refused(f"{board.name} không có thành viên {member_id!r}")
    if member.role is not approver:
        raise Refused(
            f"{member.name} ({ROLE_LABELS[member.role]}) không có thẩm quyền phê duyệt bảng kê "
            f"nhuận bút: chỉ {ROLE_LABELS[approver]} phê duyệt"
        )
    if now < statement.period.end:
        last = (statement.period.end - timedelta(days=1)).astimezone(ZoneInfo(board.timezone))
        raise Refused(
            f"kỳ {statement.period.label} chưa kết thúc (đến hết ngày {last:%d/%m/%Y}): "
            "bảng kê còn thay đổi, chỉ phê duyệt khi kỳ đã kết thúc"
        )
    if not statement.entries:
        raise Refused(f"không có tin, bài nào được đăng trong kỳ {statement.period.label}")
    if not statement.rates_set:
        raise Refused(NO_RATES[0].lower() + NO_RATES[1:])
    digest = statement.digest()
    if any(
        e.detail.get("sha256") == digest for e in approvals(session, board.id, _label(statement))
    ):
        raise Refused(f"bảng kê nhuận bút kỳ {statement.period.label} đã được phê duyệt")
    overlap = approved_before(session, statement)
    if overlap is not None:
        raise Refused(f"{_overlap(statement, *overlap)}: mỗi tin, bài chỉ được phê duyệt một lần")
    event = Event(
        board_id=board.id,
        kind=KIND,
        actor=member.id,
        channel="cli",
        detail={
            "period": _label(statement),
            "start": statement.period.start.isoformat(),
            "end": statement.period.end.isoformat(),
            "sha256": digest,
            "items": len(statement.entries),
            "total_vnd": statement.total,
            "reason": reason,
            "operator": operator,
        },
        created_at=now,
    )
    session.add(event)
    session.flush()
    audit.seal(session, board.id)
    return event


def _overlap(statement: Statement, labels: list[str], shared: int) -> str:
    return (
        f"{shared} tin, bài của kỳ {statement.period.label} đã có trong bảng kê nhuận bút "
        f"đã phê duyệt của kỳ {', '.join(labels)}"
    )


def _when(board: Board, event: Event) -> str:
    return event.created_at.astimezone(ZoneInfo(board.timezone)).strftime("%d/%m/%Y %H:%M")


def _label(statement: Statement) -> str:
    return statement.period.label


def status(session: Session, statement: Statement) -> str:
    """One line for the statement's header: approved (by whom, when), or not yet."""
    board = statement.board
    found = approvals(session, board.id, _label(statement))
    digest = statement.digest()
    same = [e for e in found if e.detail.get("sha256") == digest]
    if same:
        e = same[-1]
        who = next((m.name for m in board.members if m.id == e.actor), e.actor)
        return f"Đã phê duyệt: {who}, lúc {_when(board, e)}"
    if found:
        return "Chưa phê duyệt: số liệu đã thay đổi sau lần phê duyệt trước"
    overlap = approved_before(session, statement)
    if overlap is not None:
        return f"Chưa phê duyệt: {_overlap(statement, *overlap)}"
    return "Chưa phê duyệt"
