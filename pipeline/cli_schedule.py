"""``bientap schedule``: the time an item goes live (hẹn giờ đăng), set for the board."""

from __future__ import annotations

import argparse
from datetime import datetime

from pipeline import audit, publishing
from pipeline.app import links
from pipeline.cli_argparse import command
from pipeline.cli_common import (
    ITEM,
    ITEM_HELP,
    REASON,
    VIETNAM,
    console,
    deployed,
    find,
    local,
    operator,
    reason,
)
from pipeline.models import PubState, State
from pipeline.review import Desk

OPEN = (State.PENDING_REVIEW, State.APPROVED)  # not live yet: a time can still be set
FORMATS = ("%d/%m/%Y %H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M")


def when(text: str) -> datetime:
    """A local time as board staff type it: "25/11/2026 08:00" or "2026-11-25 08:00"."""
    for form in FORMATS:
        try:
            at = datetime.strptime(text.strip(), form).replace(tzinfo=VIETNAM)
        except ValueError:
            continue
        if at <= datetime.now(VIETNAM):  # 2025 typed for 2026, say: it would go at once
            raise argparse.ArgumentTypeError(f"{text!r} đã qua (that time has passed)")
        return at
    raise argparse.ArgumentTypeError(
        f"{text!r} không phải thời điểm, ví dụ 25/11/2026 08:00 (not a time)"
    )


def schedule(args: argparse.Namespace) -> int:
    d = deployed(args)
    out, err = console(), console(stderr=True)
    with d.sessions.begin() as session:
        item = find(session, args.id)
        if item is None:
            err.print(f"Không có bài {args.id} (no such item)")
            return 1
        if item.state not in OPEN:
            err.print(
                f"{item.tracking_code} đang ở trạng thái {item.state}: "
                "chỉ hẹn giờ được bài chưa đăng (only an item not yet live)"
            )
            return 1
        board = next(b for b in d.boards if b.id == item.board_id)
        desk = Desk(board, session, links(d), d.files)
        publishing.schedule(desk, item, args.at, operator(), "cli", args.reason)
        audit.seal(session, board.id)
        pub = publishing.publication_of(session, item)
        waiting = pub is None or pub.state == PubState.QUEUED
    shown = local(args.at)
    out.print(
        f"{item.tracking_code}: sẽ đăng lúc {shown}"
        + ("" if waiting else f" (đã gửi lên cổng trước đó: {pub.state if pub else '-'})")
    )
    return 0


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = command(sub, "schedule", "hẹn giờ đăng một tin bài (publish an item at a set time)")
    parser.add_argument("id", metavar=ITEM, help=ITEM_HELP)
    parser.add_argument(
        "at",
        type=when,
        metavar="THỜI_ĐIỂM",
        help='giờ Việt Nam, ví dụ "25/11/2026 08:00" (local time)',
    )
    parser.add_argument(
        "--reason",
        required=True,
        type=reason,
        metavar=REASON,
        help="ai yêu cầu, vì sao (who asked for it, why)",
    )
    parser.set_defaults(handler=schedule)
