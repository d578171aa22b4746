"""``bientap status``: is every mailbox read, and what waits on whom.

Per mailbox: when it was last read, what is recorded but not processed yet, the last
error. Per board: items by state, items overdue, publications a person must look at,
mail not sent and why it waits. The figures are those of ``/metrics`` (pipeline/metrics.py).
"""

from __future__ import annotations

import argparse
from datetime import datetime
from typing import Any

from rich.console import Group
from rich.table import Table
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pipeline import claims, metrics
from pipeline.cli_argparse import command
from pipeline.cli_common import answer, database, json_option, local, text
from pipeline.config import Board, load_boards
from pipeline.models import (
    STATE_LABELS,
    Lease,
    OutgoingMail,
    PubState,
    RawMessage,
    RawStatus,
    State,
)
from pipeline.postman import MAX_SEND_ATTEMPTS

GIVEN_UP_SHOWN = 50  # mails given up on, listed with their ids for ``retry --mail``


def _unread_errors(session: Session) -> dict[tuple[str, str], str]:
    """Per mailbox, an error that keeps recorded mail unread (a store that cannot be
    written, a reading that failed and will be tried again, a message the mailbox could
    not serve and will be asked for again)."""
    rows = session.execute(
        select(RawMessage.board_id, RawMessage.mailbox, func.max(RawMessage.last_error))
        .where(
            RawMessage.status.in_((RawStatus.NEW, RawStatus.UNSERVED)),
            RawMessage.last_error.is_not(None),
        )
        .group_by(RawMessage.board_id, RawMessage.mailbox)
    )
    return {(board, box): error for board, box, error in rows if error}


def _waiting_mail_errors(session: Session) -> dict[str, str]:
    """Per board, why its mail waits (a relay down, a login or the From address refused,
    an outbox that cannot be written): the error of the latest mail tried in vain and
    still owed."""
    latest = (
        select(func.max(OutgoingMail.id))
        .where(
            OutgoingMail.sent_at.is_(None),
            OutgoingMail.attempts < MAX_SEND_ATTEMPTS,
            OutgoingMail.last_error.is_not(None),
        )
        .group_by(OutgoingMail.board_id)
    )
    rows = session.execute(
        select(OutgoingMail.board_id, OutgoingMail.last_error).where(OutgoingMail.id.in_(latest))
    )
    return {board: error for board, error in rows if error}


def _mailboxes(
    fig: metrics.Figures,
    boards: list[Board],
    held: dict[str, Lease],
    unread: dict[tuple[str, str], str],
) -> list[dict[str, Any]]:
    rows = []
    for board in boards:
        for box in board.mailboxes:
            state = fig.mailboxes.get((board.id, box.name))
            rows.append(
                {
                    "board": board.id,
                    "mailbox": box.name,
                    "address": box.address,
                    "last_poll_at": state.last_poll_at.isoformat()
                    if state and state.last_poll_at
                    else None,
                    "backlog": fig.backlog.get((board.id, box.name), 0),
                    "recorded": fig.fetched.get((board.id, box.name), 0),
                    "last_error": (state.last_error if state else None)
                    or unread.get((board.id, box.name)),
                    "watched_by": _holder(held.get(claims.mailbox_lease(board.id, box.name)), fig),
                }
            )
    return rows


def _holder(lease: Lease | None, fig: metrics.Figures) -> str | None:
    """The daemon (host/pid/…) holding a mailbox's lease, while it is live."""
    return lease.holder if lease is not None and lease.expires_at > fig.now else None


def _boards(
    fig: metrics.Figures, boards: list[Board], mail_errors: dict[str, str]
) -> list[dict[str, Any]]:
    names = {b.id: b.name for b in boards}
    return [
        {
            "board": board,
            "name": names.get(board, ""),
            "items": {s.value: fig.items.get((board, s.value), 0) for s in State},
            "overdue": fig.overdue.get(board, 0),
            "publications": {
                p.value: fig.publications.get((board, p.value), 0)
                for p in metrics.PUBLICATION_FAILURES
            },
            "mail": {**fig.mail_by_status(board), "error": mail_errors.get(board)},
            "oldest_pending_review_seconds": round(fig.age(board, "review_pending")),
        }
        for board in fig.boards(names)
    ]


def status_data(args: argparse.Namespace) -> dict[str, Any]:
    boards = load_boards(args.config)
    with database(args, boards)() as session:
        fig = metrics.read(session, [b.id for b in boards])
        held = {lease.name: lease for lease in claims.leases(session)}
        unread = _unread_errors(session)
        mail_errors = _waiting_mail_errors(session)
        given_up = session.scalars(
            select(OutgoingMail)
            .where(OutgoingMail.sent_at.is_(None), OutgoingMail.attempts >= MAX_SEND_ATTEMPTS)
            .order_by(OutgoingMail.id.desc())
            .limit(GIVEN_UP_SHOWN)
        ).all()
        mails = [
            {
                "id": m.id,
                "board": m.board_id,
                "to": m.to_address,
                "reason": m.reason,
                "created_at": m.created_at.isoformat(),
                "last_error": m.last_error,
            }
            for m in given_up
        ]
    return {
        "at": fig.now.isoformat(),
        "mailboxes": _mailboxes(fig, boards, held, unread),
        "boards": _boards(fig, boards, mail_errors),
        "mail_given_up": mails,
    }


def render(data: dict[str, Any]) -> Group:
    boxes = Table(title="Hộp thư (mailboxes)", title_justify="left")
    headings = ("Ban", "Hộp thư", "Địa chỉ", "Lần đọc cuối", "Tồn đọng", "Lỗi gần nhất", "Daemon")
    for heading in headings:
        boxes.add_column(heading)
    for m in data["mailboxes"]:
        polled = datetime.fromisoformat(m["last_poll_at"]) if m["last_poll_at"] else None
        boxes.add_row(
            text(m["board"]),
            text(m["mailbox"]),
            text(m["address"]),
            text(local(polled) if polled else "chưa đọc lần nào"),
            text(m["backlog"]),
            text(m["last_error"] or "không"),
            text(m["watched_by"] or "không daemon nào"),
        )
    work = Table(title="Ban biên tập (boards)", title_justify="left")
    for heading in (
        "Ban",
        *(STATE_LABELS[s] for s in SHOWN_STATES),
        "Quá hạn",
        "Đăng lỗi",
        "Sai khác trên cổng",
        "Thư chờ gửi",
        "Thư gửi hỏng",
    ):
        work.add_column(heading, justify="right")
    for b in data["boards"]:
        work.add_row(
            text(b["board"]),
            *(text(b["items"][s.value]) for s in SHOWN_STATES),
            text(b["overdue"]),
            text(b["publications"][PubState.DEAD.value]),
            text(b["publications"][PubState.MISMATCH.value]),
            text(b["mail"]["pending"]),
            text(b["mail"]["failed"]),
        )
    parts: list[Any] = [boxes, work]
    waiting = [b for b in data["boards"] if b["mail"]["error"]]
    if waiting:
        why = Table(title="Thư chờ gửi vì (mail waits because)", title_justify="left")
        for heading in ("Ban", "Thư chờ gửi", "Lỗi gần nhất"):
            why.add_column(heading)
        for b in waiting:
            why.add_row(text(b["board"]), text(b["mail"]["pending"]), text(b["mail"]["error"]))
        parts.append(why)
    if data["mail_given_up"]:
        mails = Table(title="Thư đã thôi gửi: bientap retry --mail ID", title_justify="left")
        for heading in ("ID", "Ban", "Gửi tới", "Loại thư", "Lỗi"):
            mails.add_column(heading)
        for m in data["mail_given_up"]:
            mails.add_row(*(text(m[k]) for k in ("id", "board", "to", "reason", "last_error")))
        parts.append(mails)
    return Group(*parts)


SHOWN_STATES = (
    State.PENDING_REVIEW,
    State.APPROVED,
    State.PUBLISHED,
    State.HELD,
    State.QUARANTINED,
    State.FAILED,
)


def status(args: argparse.Namespace) -> int:
    data = status_data(args)
    return answer(data, args.json, render)


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    shower = command(
        sub,
        "status",
        "hộp thư, thư tồn đọng, việc đang chờ, việc bị lỗi "
        "(mailboxes, backlog, what waits, what failed)",
    )
    json_option(shower)
    shower.set_defaults(handler=status)
