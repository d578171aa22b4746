"""Deadlines at work: a reminder before an item is due, escalation once it is overdue,
and a daily digest for a reviewer with several items waiting.

Deadlines come from the board (``[[deadlines]]``: per kind of item, in days or working
days; pipeline/deadlines.py skips weekends and Vietnamese holidays, Tết included).
Escalation goes up the ladder of roles: the next role with a member may act in the
late reviewer's seat too, and is asked to. ``sweep`` is idempotent: each reminder and
escalation is sent once per seat, each digest once per reviewer per day.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import load_only

from pipeline import notices, review, review_mail
from pipeline.config import Board, Member, Role
from pipeline.deadlines import Calendar, DeadlineRule, Schedule, schedule
from pipeline.models import RawMessage, ReviewTask, State, Submission, TaskState
from pipeline.review import Desk

# Who is asked when a seat is overdue: the first role above it that has a member.
LADDER: tuple[Role, ...] = (
    Role.PHO_TRUONG_BAN,
    Role.PHO_TRUONG_BAN_THUONG_TRUC,
    Role.TRUONG_BAN,
)


def calendar(board: Board) -> Calendar:
    return Calendar(
        frozenset(board.extra_days_off), frozenset(board.extra_working_days), tz=board.timezone
    )


def item_schedule(board: Board, kind: str | None, arrived: datetime) -> Schedule | None:
    """Due, reminder and escalation times of an item of ``kind`` arriving at ``arrived``."""
    rule = next((d for d in board.deadlines if d.kind == kind), None)
    if rule is None:
        return None
    return schedule(
        DeadlineRule(
            kind=rule.kind,
            amount=rule.amount,
            unit=rule.unit,
            remind_before=timedelta(hours=rule.remind_before_hours),
            escalate_after=timedelta(hours=rule.escalate_after_hours),
        ),
        arrived,
        calendar(board),
    )


def next_up(board: Board, seat: Member) -> Member | None:
    """The member an overdue seat is escalated to, or None for the top of the ladder."""
    rank = LADDER.index(seat.role) if seat.role in LADDER else -1
    for role in LADDER[rank + 1 :]:
        found = [m for m in board.members_with_role(role) if m.id != seat.id]
        if found:
            return found[0]
    return None


@dataclass
class SweepResult:
    reminded: int = 0
    escalated: int = 0
    digests: int = 0


def _open_tasks(d: Desk) -> list[tuple[ReviewTask, Submission, datetime]]:
    """Every open seat with its item. Only what the schedule and the digest read is
    loaded: a board may have thousands waiting, and the bodies are read (column by
    column, when accessed) only for the few items a reminder or escalation is sent for."""
    rows = d.session.execute(
        select(ReviewTask, Submission, RawMessage.received_at)
        .join(Submission, Submission.id == ReviewTask.submission_id)
        .options(
            load_only(
                Submission.id,
                Submission.board_id,
                Submission.tracking_code,
                Submission.title,
                Submission.kind,
                Submission.state,
                Submission.due_at,
                Submission.review_round,
                Submission.content_hash,
            )
        )
        .join(RawMessage, RawMessage.id == Submission.raw_message_id)
        .where(
            ReviewTask.board_id == d.board.id,
            ReviewTask.state == TaskState.PENDING,
            Submission.state == State.PENDING_REVIEW,
            ReviewTask.round == Submission.review_round,
        )
        .order_by(ReviewTask.id)
    ).all()
    return [(t, s, at) for t, s, at in rows]


def _escalate(d: Desk, task: ReviewTask, item: Submission) -> bool:
    task.escalated_at = d.now
    target = next_up(d.board, d.board.member(task.member_id))
    if target is None:
        review.event(d, item, "overdue", seat=task.member_id, step=task.step_id)
        return False
    task.escalated_to = target.id
    review.ask(d, item, task, "request", only=target.id)
    review.event(d, item, "escalated", seat=task.member_id, to=target.id, step=task.step_id)
    return True


def _digest(d: Desk, member: Member, open_tasks: list[tuple[ReviewTask, Submission]]) -> None:
    entries = []
    for task, item in open_tasks:
        entries.append(
            review_mail.DigestEntry(
                tracking_code=item.tracking_code,
                title=item.title,
                step_name=review.step_of(d.board, task.step_index).name,
                due_at=item.due_at,
                overdue=item.due_at is not None and item.due_at < d.now,
                view_url=review.link(d, item, task, member.id, "view"),
            )
        )
    msg = review_mail.digest(d.board, recipient=member, entries=entries)
    review.queue(d, None, member.email, "digest", msg)


def sweep(d: Desk) -> SweepResult:
    """Send what the clock calls for at ``d.now``: reminders, escalations, digests."""
    result = SweepResult()
    waiting: dict[str, list[tuple[ReviewTask, Submission]]] = defaultdict(list)
    for task, item, arrived in _open_tasks(d):
        waiting[task.member_id].append((task, item))
        times = item_schedule(d.board, item.kind, arrived)
        if times is None:
            continue
        if d.now >= times.escalate_at and task.escalated_at is None:
            result.escalated += _escalate(d, task, item)
        elif d.now >= times.remind_at and task.reminded_at is None:
            task.reminded_at = d.now
            review.ask(d, item, task, "reminder")
            review.event(d, item, "reminded", seat=task.member_id, step=task.step_id)
            result.reminded += 1
    local = d.now.astimezone(ZoneInfo(d.board.timezone))
    if local.hour >= d.board.review.digest_hour:
        for member_id, open_tasks in waiting.items():
            member = d.board.member(member_id)
            if len(open_tasks) > 1 and _first_today(d, member, local):
                _digest(d, member, open_tasks)
                result.digests += 1
    return result


def _first_today(d: Desk, member: Member, local: datetime) -> bool:
    """Whether no digest went to ``member`` yet today (board's local day)."""
    start = local.replace(hour=0, minute=0, second=0, microsecond=0)
    return notices.allowed(
        d.session, d.board, member.email, "digest", d.now, since=start.astimezone(d.now.tzinfo)
    )
