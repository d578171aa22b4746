"""Who reviews an item, step by step: the board's review path applied to one item.

Pure: reads the board's configuration and a few facts about the item, touches no
database. The workflow (pipeline/review.py) asks it which step comes next, who sits
at it, and whether someone may act in a seat (himself, as a delegate, as acting head).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from pipeline.checks import Action
from pipeline.config import Absence, Actor, Board, Condition, Member, ReviewStep, Role
from pipeline.textfold import fold


@dataclass(frozen=True)
class Facts:
    field_ids: tuple[str, ...]
    sender_member_id: str | None
    sensitive: bool  # a check escalated it


def facts_of(
    field_ids: list[str], sender_member_id: str | None, flags: list[dict[str, str]]
) -> Facts:
    escalated = any(f.get("action") == Action.ESCALATE.name.lower() for f in flags)
    return Facts(tuple(field_ids), sender_member_id, escalated)


@dataclass(frozen=True)
class Seats:
    """A step of an item's path and the members who sit at it."""

    index: int
    step: ReviewStep
    members: tuple[str, ...]


def _owners(board: Board, facts: Facts) -> list[str]:
    return [
        m.id for f in facts.field_ids for m in board.owners_of(f) if m.id != facts.sender_member_id
    ]


def _members_of(board: Board, actor: Actor, facts: Facts) -> list[str]:
    if actor.member is not None:
        return [actor.member]
    if actor.role is not None:
        return [m.id for m in board.members_with_role(actor.role)]
    return _owners(board, facts)


def _applies(board: Board, step: ReviewStep, facts: Facts) -> bool:
    # None too for a sender the board has taken off its roster since: from outside now
    sender = board.on_roster(facts.sender_member_id) if facts.sender_member_id else None
    match step.when:
        case Condition.ALWAYS:
            return True
        case Condition.SENSITIVE:
            return facts.sensitive
        case Condition.IN_MEMBER_FIELD:
            return bool(_owners(board, facts))
        case Condition.FROM_REPORTER:
            return sender is not None and sender.role is Role.PHONG_VIEN
        case Condition.FROM_OUTSIDE:
            return sender is None or sender.role is Role.PHONG_VIEN
    return False


def seats(board: Board, index: int, facts: Facts) -> Seats | None:
    """Step ``index`` for this item, or None when it does not apply or has nobody."""
    step = board.review.steps[index]
    if not _applies(board, step, facts):
        return None
    members = [m for actor in step.actors for m in _members_of(board, actor, facts)]
    unique = tuple(dict.fromkeys(members))
    return Seats(index, step, unique) if unique else None


def next_seats(board: Board, facts: Facts, after: int) -> Seats | None:
    """The first step after ``after`` that applies to the item and has someone to act."""
    for index in range(after + 1, len(board.review.steps)):
        found = seats(board, index, facts)
        if found is not None:
            return found
    return None


def absence(board: Board, member_id: str, day: date) -> Absence | None:
    return next(
        (a for a in board.review.absences if a.member == member_id and a.start <= day <= a.end),
        None,
    )


def stand_ins(board: Board, seat: str, facts: Facts, day: date) -> list[tuple[str, str]]:
    """Who besides the seat's member may act in it, and why ("acting", "delegate")."""
    found: list[tuple[str, str]] = []
    away = absence(board, seat, day)
    if away is not None:
        found.append((away.acting, "acting"))
    for d in board.review.delegations:
        if d.member == seat and facts.field_ids and set(facts.field_ids) <= set(d.fields):
            found.append((d.to, "delegate"))
    return found


def capacity(board: Board, seat: str, actor: str, facts: Facts, day: date) -> str | None:
    """In what capacity ``actor`` may act in ``seat``: "self", "acting", "delegate"."""
    if actor == seat and absence(board, seat, day) is None:
        return "self"
    return next((why for who, why in stand_ins(board, seat, facts, day) if who == actor), None)


def recipients(board: Board, seat: str, facts: Facts, day: date) -> list[tuple[str, str]]:
    """Who is asked to act in ``seat``: its member unless away, and his stand-ins."""
    own = [] if absence(board, seat, day) is not None else [(seat, "self")]
    return own + stand_ins(board, seat, facts, day)


def find_member(board: Board, text: str) -> Member | None:
    """A member named in a command: by id, e-mail address or full name (no accents needed)."""
    wanted = fold(text.strip().strip(".:;,<>\"'")).lower()
    if not wanted:
        return None
    for m in board.members:
        names = {m.id, m.email, *m.aliases, fold(m.name).lower()}
        if wanted in names:
            return m
    by_tail = [m for m in board.members if fold(m.name).lower().endswith(" " + wanted)]
    return by_tail[0] if len(by_tail) == 1 else None


def is_head(board: Board, member_id: str) -> bool:
    """Whether ``member_id`` is the board's Trưởng ban (not one it has replaced since)."""
    member = board.on_roster(member_id)
    return member is not None and member.role is Role.TRUONG_BAN
