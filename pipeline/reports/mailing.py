"""The activity report, mailed to the board when a period ends (``[reports] mail``).

Idempotent: each period is mailed once, recorded by a sealed "report-mailed" event that
is checked first. Only the period that ended last is mailed, so a daemon that was down
catches up on it without mailing years of history; and a period that ended before the
board's first message is not mailed at all (there is nothing to report).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pipeline import audit, mailkit
from pipeline.config import Board, Member
from pipeline.mailbuild import Mail
from pipeline.models import Event, OutgoingMail, RawMessage
from pipeline.reports import activity, outputs
from pipeline.reports.periods import Period, last_ended
from pipeline.reports.tables import shown

KIND = "report-mailed"
REASON = "activity-report"


def recipients(board: Board) -> list[Member]:
    """Members holding a recipient role, then the members named, each once."""
    roles = board.reports.recipient_roles
    chosen = [m for m in board.members if m.role in roles]
    chosen += [board.member(ref) for ref in board.reports.recipient_members]
    return list({m.id: m for m in chosen}.values())


def mailed(session: Session, board_id: str, label: str) -> bool:
    events = session.scalars(select(Event).where(Event.board_id == board_id, Event.kind == KIND))
    return any(e.detail.get("period") == label for e in events)


def _has_record(session: Session, board_id: str, period: Period) -> bool:
    first = session.scalar(
        select(func.min(RawMessage.received_at)).where(RawMessage.board_id == board_id)
    )
    return first is not None and first < period.end


def _summary(a: activity.Activity) -> str:
    """The figures of the page's summary, written as the page writes them (1.250; 66,7%)."""
    t, tz = a.tally(), a.board.timezone
    share = t.on_time_share
    median = a.median_hours()
    lines = [
        f"  Tin, bài nhận được: {shown(t.received, 'int', tz)}",
        f"  Được đăng: {shown(t.published, 'int', tz)}",
        f"  Không duyệt: {shown(t.rejected, 'int', tz)}",
        "  Tỷ lệ đăng đúng hạn: "
        + (shown(share, "pct", tz) if share is not None else "không có tin, bài nào có thời hạn"),
        "  Thời gian trung vị từ khi nhận đến khi đăng: "
        + (f"{shown(median, 'hours', tz)} giờ" if median is not None else "—"),
    ]
    return "\n".join(lines)


def _mail(board: Board, member: Member, a: activity.Activity, files: dict[str, bytes]) -> Mail:
    heading = f"Báo cáo hoạt động {a.period.phrase}"
    msg = mailkit.message(
        board,
        to=mailkit.named_address(member.name, member.email),
        subject=f"{heading} — {board.name}",
    )
    text = (
        f"Kính gửi ông/bà {member.name},\n\n"
        f"Hệ thống gửi báo cáo hoạt động của {board.name}, {outputs.span(a.period)}.\n\n"
        f"{_summary(a)}\n\n"
        "Báo cáo đầy đủ, có biểu đồ, ở tệp .html đính kèm (mở bằng trình duyệt); "
        "các bảng số liệu ở tệp .xlsx đính kèm."
    )
    mailkit.simple(board, msg, heading, text)
    for name, data in files.items():
        maintype, subtype = ("text", "html") if name.endswith(".html") else outputs.XLSX_TYPE
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return msg


def mail_due_reports(session: Session, board: Board, now: datetime) -> int:
    """Queue the activity report of every period of ``[reports] mail`` that has ended and
    was not mailed yet, one mail per recipient; returns how many mails were queued. Events
    are sealed here; the caller commits."""
    queued = 0
    for kind in dict.fromkeys(board.reports.mail):
        period = last_ended(kind, now, board.timezone)
        if mailed(session, board.id, period.label) or not _has_record(session, board.id, period):
            continue
        report = activity.report(session, board, period)
        files = outputs.activity_files(report, now)
        to = recipients(board)
        for member in to:
            msg = _mail(board, member, report, files)
            session.add(OutgoingMail.of(board.id, member.email, REASON, msg, now=now))
        session.add(
            Event(
                board_id=board.id,
                kind=KIND,
                detail={"period": period.label, "kind": kind, "to": [m.id for m in to]},
                created_at=now,
            )
        )
        session.flush()
        queued += len(to)
    if queued:
        audit.seal(session, board.id)
    return queued
