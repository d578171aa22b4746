"""Deadlines at work: a reminder before an item is due, escalation once it is overdue,
and, each working day, a digest for a reviewer with several items waiting.

Deadlines come from the board (``[[deadlines]]``: per kind of item, in days or working
days; pipeline/deadlines.py skips weekends and Vietnamese holidays, Tết included).
Escalation goes up the board's ladder of roles (``[review] escalation``): the next role
with a member may act in the late reviewer's seat too, and is asked to. ``sweep`` is
idempotent: each reminder and escalation is sent once per seat, each digest once per
reviewer per working day (none on a weekend or during Tết: a reminder still comes for
what falls due then). A seat waiting for a member the board has since taken off its
roster goes to his successor.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from sqlalchemy import select

from pipeline import held, notices, review, review_mail, writelock
from pipeline.config import Board, Member
from pipeline.deadlines import Calendar, DeadlineRule, Schedule, for_seat, schedule
from pipeline.models import RawMessage, ReviewTask, State, Submission, TaskState
from pipeline.review import Desk
from pipeline.routing import absence

# The board's night: a reminder or an escalation is not mailed to a phone then.
QUIET_HOURS = (time(21, 0), time(7, 0))


def calendar(board: Board) -> Calendar:
    return Calendar(
        frozenset(board.extra_days_off), frozenset(board.extra_working_days), tz=board.timezone
    )


def rule_for(board: Board, kind: str | None) -> DeadlineRule | None:
    """The board's deadline for items of ``kind``, if it sets one."""
    rule = next((d for d in board.deadlines if d.kind == kind), None)
    if rule is None:
        return None
    return DeadlineRule(
        kind=rule.kind,
        amount=rule.amount,
        unit=rule.unit,
        remind_before=timedelta(hours=rule.remind_before_hours),
        escalate_after=timedelta(hours=rule.escalate_after_hours),
    )


def item_schedule(board: Board, kind: str | None, arrived: datetime) -> Schedule | None:
    """Due, reminder and escalation times of an item of ``kind`` arriving at ``arrived``."""
    rule = rule_for(board, kind)
    return schedule(rule, arrived, calendar(board)) if rule is not None else None


def seat_schedule(board: Board, w: Waiting, cal: Calendar) -> Schedule | None:
    """When the waiting seat ``w`` is reminded and escalated (pipeline/deadlines.py)."""
    rule = rule_for(board, w.kind)
    if rule is None:
        return None
    return for_seat(schedule(rule, w.arrived, cal), rule, w.asked, cal)


def next_up(board: Board, seat: Member, day: date) -> Member | None:
    """The member an overdue seat is escalated to on ``day`` (the board's
    ``review.escalation``: the first role above the seat's that has a member at work
    that day, or the member acting for one away), or None for the top of the ladder."""
    ladder = board.review.escalation
    rank = ladder.index(seat.role) if seat.role in ladder else -1
    for role in ladder[rank + 1 :]:
        for member in board.members_with_role(role):
            away = absence(board, member.id, day)
            target = member if away is None else board.on_roster(away.acting)
            if target is not None and target.id != seat.id and not absence(board, target.id, day):
                return target
    return None


Due = Literal["remind", "escalate", "reseat"]


@dataclass
class SweepResult:
    reminded: int = 0
    escalated: int = 0
    digests: int = 0
    held: int = 0  # notices of mail held for an operator (pipeline/held.py)
    reseated: int = 0  # seats of members taken off the roster, handed to their successors


@dataclass(frozen=True)
class Waiting:
    """An open seat, as much of it and its item as the schedule and the digest read."""

    task_id: int
    member_id: str
    step_index: int
    reminded: bool
    escalated: bool
    item_id: int
    kind: str | None
    tracking_code: str
    title: str
    due_at: datetime | None
    version: str | None
    arrived: datetime
    asked: datetime  # when the seat was made (its member first asked)


def _waiting(d: Desk) -> list[Waiting]:
    """Every open seat of the board. Plain rows, not loaded objects: a board may have
    thousands waiting; a whole item is loaded only when it is to be mailed about."""
    rows = d.session.execute(
        select(
            ReviewTask.id,
            ReviewTask.member_id,
            ReviewTask.step_index,
            ReviewTask.reminded_at.is_not(None),
            ReviewTask.escalated_at.is_not(None),
            Submission.id,
            Submission.kind,
            Submission.tracking_code,
            Submission.title,
            Submission.due_at,
            Submission.content_hash,
            RawMessage.received_at,
            ReviewTask.created_at,
        )
        .join(Submission, Submission.id == ReviewTask.submission_id)
        .join(RawMessage, RawMessage.id == Submission.raw_message_id)
        .where(
            ReviewTask.board_id == d.board.id,
            ReviewTask.state == TaskState.PENDING,
            Submission.state == State.PENDING_REVIEW,
            ReviewTask.round == Submission.review_round,
        )
        .order_by(ReviewTask.id)
    ).all()
    return [Waiting(*tuple(row)) for row in rows]


def _loaded(d: Desk, w: Waiting) -> tuple[ReviewTask, Submission] | None:
    """The seat and its item, if the seat still waits. The item is locked first, as a
    decision locks it: a reviewer who answered since the seats were listed is not asked
    again."""
    writelock.hold(d.session)
    item = d.session.get(Submission, w.item_id, with_for_update=True, populate_existing=True)
    task = d.session.get(ReviewTask, w.task_id, populate_existing=True)
    assert task is not None and item is not None
    if (
        task.state != TaskState.PENDING
        or item.state != State.PENDING_REVIEW
        or task.round != item.review_round
    ):
        return None
    return task, item


def _escalate(d: Desk, task: ReviewTask, item: Submission) -> bool:
    task.escalated_at = d.now
    target = next_up(d.board, d.board.member(task.member_id), review.today(d))
    if target is None:
        review.event(d, item, "overdue", seat=task.member_id, step=task.step_id)
        return False
    task.escalated_to = target.id
    review.ask(d, item, task, "escalated", only=target.id)
    review.event(d, item, "escalated", seat=task.member_id, to=target.id, step=task.step_id)
    return True


def _remind(d: Desk, task: ReviewTask, item: Submission) -> None:
    task.reminded_at = d.now
    review.ask(d, item, task, "reminder")
    review.event(d, item, "reminded", seat=task.member_id, step=task.step_id)


def _digest(d: Desk, member: Member, waiting: list[Waiting]) -> None:
    entries = [
        review_mail.DigestEntry(
            tracking_code=w.tracking_code,
            title=w.title,
            step_name=review.step_of(d.board, w.step_index).name,
            due_at=w.due_at,
            overdue=w.due_at is not None and w.due_at < d.now,
            view_url=review.signed_url(d, w.task_id, w.step_index, w.version, member.id, "view"),
        )
        for w in waiting
    ]
    msg = review_mail.digest(d.board, recipient=member, entries=entries)
    review.queue(d, None, member.email, "digest", msg)


def _due(d: Desk, w: Waiting, cal: Calendar) -> Due | None:
    """What the waiting seat ``w`` calls for at ``d.now``, if anything."""
    if d.board.on_roster(w.member_id) is None:
        return "reseat"
    times = seat_schedule(d.board, w, cal)
    if times is None or w.escalated:  # a reminder after it would come too late
        return None
    if d.now >= times.escalate_at:
        return "escalate"
    return "remind" if d.now >= times.remind_at and not w.reminded else None


def quiet(local: datetime) -> bool:
    """Whether ``local`` (the board's wall clock) is in QUIET_HOURS."""
    start, end = QUIET_HOURS
    return local.time() >= start or local.time() < end


def sweep(d: Desk) -> SweepResult:
    """Send what the clock calls for at ``d.now``: reminders, escalations, digests. A
    reminder or escalation that falls due in the quiet hours waits for their end: they
    are set in office hours, so only a daemon that was down when they fell due would
    otherwise send them at night."""
    result = SweepResult()
    waiting: dict[str, list[Waiting]] = defaultdict(list)
    cal = calendar(d.board)
    local = d.now.astimezone(ZoneInfo(d.board.timezone))
    for w in _waiting(d):
        due = _due(d, w, cal)
        if due != "reseat":
            waiting[w.member_id].append(w)
        if due in ("remind", "escalate") and quiet(local):
            continue
        if due is None or (found := _loaded(d, w)) is None:
            continue
        if due == "reseat":
            review.reseat(d, *found)
            result.reseated += 1
        elif due == "escalate":
            result.escalated += _escalate(d, *found)
        else:
            _remind(d, *found)
            result.reminded += 1
    if local.hour >= d.board.review.digest_hour and cal.is_working_day(local.date()):
        result.held += held.report(d, _day_start(d, local))
        for member_id, open_seats in waiting.items():
            member = d.board.member(member_id)
            if len(open_seats) > 1 and _first_today(d, member, local):
                _digest(d, member, open_seats)
                result.digests += 1
    return result


def _first_today(d: Desk, member: Member, local: datetime) -> bool:
    """Whether no digest went to ``member`` yet today (board's local day)."""
    return notices.allowed(
        d.session, d.board, member.email, "digest", d.now, since=_day_start(d, local)
    )


def _day_start(d: Desk, local: datetime) -> datetime:
    """The start of the board's local day ``local``, in ``d.now``'s zone."""
    return local.replace(hour=0, minute=0, second=0, microsecond=0).astimezone(d.now.tzinfo)
