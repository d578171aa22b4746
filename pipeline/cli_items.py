"""``bientap list`` and ``bientap show``: stored items, filtered, and one item whole."""

from __future__ import annotations

import argparse
import difflib
import json
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, get_args

from rich.console import Group, JustifyMethod
from rich.panel import Panel
from rich.table import Table
from rich.text import Text
from sqlalchemy import ColumnElement, Select, String, cast, exists, or_, select
from sqlalchemy.orm import Session

from pipeline.cli_argparse import command
from pipeline.cli_common import (
    BOARD,
    ITEM,
    ITEM_HELP,
    answer,
    console,
    count,
    database,
    day,
    day_start,
    find,
    json_option,
    local,
    print_json,
    text,
)
from pipeline.config import Board, ConfigError, load_boards
from pipeline.docmeta import Kind
from pipeline.models import (
    PUB_STATE_LABELS,
    STATE_LABELS,
    TASK_STATE_LABELS,
    Event,
    Publication,
    ReviewTask,
    State,
    Submission,
)


def item_dict(item: Submission, full: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": item.id,
        "board": item.board_id,
        "tracking_code": item.tracking_code,
        "state": item.state,
        "state_label": STATE_LABELS.get(State(item.state), item.state),
        "reason": item.reason,
        "kind": item.kind,
        "agency": item.agency_id,
        "sender": item.sender_address,
        "sender_name": item.sender_name,
        "sender_member": item.sender_member_id,
        "fields": item.field_ids,
        "members": item.member_ids,
        "title": item.title,
        "flags": item.flags,
        "message_id": item.message_id,
        "created_at": item.created_at.isoformat(),
    }
    if full:
        out.update(
            {
                "body_text": item.body_text,
                "body_html": item.body_html,
                "author": item.author,
                "unit": item.unit,
                "source": item.source,
                "document": item.document,
                "legacy_encoding": item.legacy_encoding,
                "remote_images": item.remote_images,
                "duplicate_of": item.duplicate_of,
                "due_at": item.due_at.isoformat() if item.due_at else None,
                "version": item.version,
                "review_step": item.review_step,
                "files": [
                    {
                        "filename": f.filename,
                        "content_type": f.content_type,
                        "size": f.size,
                        "sha256": f.sha256,
                        "role": f.role,
                        "content_id": f.content_id,
                    }
                    for f in item.files
                ],
            }
        )
    return out


def publication_dict(p: Publication) -> dict[str, Any]:
    return {
        "item": p.submission_id,
        "board": p.board_id,
        "connector": p.connector,
        "state": p.state,
        "key": p.key,
        "remote_id": p.remote_id,
        "url": p.url,
        "attempts": p.attempts,
        "next_attempt_at": p.next_attempt_at.isoformat(),
        "last_error": p.last_error,
        "difference": p.difference,
    }


# -- list ------------------------------------------------------------------------------------
def _member(member: str) -> ColumnElement[bool]:
    """Items of a member: in his fields, sent by him, or with a review seat of his."""
    seat = exists().where(ReviewTask.submission_id == Submission.id, ReviewTask.member_id == member)
    # member ids are plain identifiers: in the JSON text of the list they appear quoted
    in_fields = cast(Submission.member_ids, String).contains(f'"{member}"', autoescape=True)
    return or_(in_fields, Submission.sender_member_id == member, seat)


# Each filter: (option, what it keeps), applied when the option is given.
FILTERS: tuple[tuple[str, Callable[[Any], ColumnElement[bool]]], ...] = (
    ("board", lambda v: Submission.board_id == v),
    ("state", lambda v: Submission.state == v),
    ("agency", lambda v: Submission.agency_id == v),
    ("kind", lambda v: Submission.kind == v),
    ("member", _member),
    ("since", lambda v: Submission.created_at >= day_start(v)),
    ("until", lambda v: Submission.created_at < day_start(v + timedelta(days=1))),
    ("search", lambda v: Submission.title.icontains(v, autoescape=True)),
)


# Options naming one of a board's own: (option, what it is called, the board's ids of it).
NAMED: tuple[tuple[str, str, Callable[[Board], list[str]]], ...] = (
    ("agency", "cơ quan", lambda b: [a.id for a in b.agencies]),
    ("member", "thành viên", lambda b: [m.id for m in b.members]),
)


def known_names(args: argparse.Namespace, boards: list[Board], session: Session) -> None:
    """Refuse an ``--agency`` or ``--member`` neither configured nor on record: a typo
    would list nothing, as if nothing had come."""
    keeps = dict(FILTERS)
    for option, called, ids_of in NAMED:
        value = getattr(args, option, None)
        known = sorted({i for board in boards for i in ids_of(board)})
        if value is None or value in known:
            continue
        if session.scalar(select(Submission.id).where(keeps[option](value)).limit(1)):
            continue  # taken out of the configuration since: its items stay
        close = difflib.get_close_matches(value, known, n=3)
        hint = f"có phải {', '.join(close)}?" if close else f"có: {', '.join(known)}"
        raise ConfigError(f"--{option}: không có {called} {value!r} (no such {option}); {hint}")


def list_query(args: argparse.Namespace) -> Select[Submission]:
    query = select(Submission).order_by(Submission.id.desc()).limit(args.limit)
    for option, keep in FILTERS:
        value = getattr(args, option, None)
        if value is not None:
            query = query.where(keep(value))
    return query


def list_items(args: argparse.Namespace) -> int:
    boards = load_boards(args.config)
    with database(args, boards)() as session:
        known_names(args, boards, session)
        items = [item_dict(i) for i in session.scalars(list_query(args))]
    if args.json:
        print_json(items)
        return 0
    table = Table(title=f"{len(items)} mục (items)", title_justify="left")
    for heading, justify in LIST_COLUMNS:
        table.add_column(heading, justify=justify)
    for i in items:
        table.add_row(
            str(i["id"]),
            text(i["tracking_code"]),
            text(i["state_label"]),
            text(i["kind"]),
            text(i["sender"]),
            text(i["title"]),
        )
    console().print(table)
    return 0


LIST_COLUMNS: tuple[tuple[str, JustifyMethod], ...] = (
    ("ID", "right"),
    ("Mã theo dõi", "left"),
    ("Trạng thái", "left"),
    ("Loại", "left"),
    ("Người gửi", "left"),
    ("Tiêu đề", "left"),
)


# -- show ------------------------------------------------------------------------------------
def item_record(session: Session, item: Submission) -> dict[str, Any]:
    """An item whole, with its history, review and publication (``show --json``)."""
    data = item_dict(item, full=True)
    data["history"] = [
        {
            "seq": e.seq,
            "kind": e.kind,
            "actor": e.actor,
            "channel": e.channel,
            "at": e.created_at.isoformat(),
            "detail": e.detail,
        }
        for e in session.scalars(
            select(Event).where(Event.submission_id == item.id).order_by(Event.id)
        )
    ]
    pub = session.scalar(select(Publication).where(Publication.submission_id == item.id))
    data["publication"] = publication_dict(pub) if pub else None
    data["review"] = [
        {
            "round": t.round,
            "step": t.step_id,
            "member": t.member_id,
            "state": t.state,
            "actor": t.actor_id,
            "channel": t.channel,
            "text": t.text,
            "escalated_to": t.escalated_to,
            "decided_at": t.decided_at.isoformat() if t.decided_at else None,
        }
        for t in session.scalars(
            select(ReviewTask).where(ReviewTask.submission_id == item.id).order_by(ReviewTask.id)
        )
    ]
    return data


# The facts shown at the top of ``show``: (label, key of item_record).
FACTS = (
    ("Ban", "board"),
    ("Trạng thái", "state_label"),
    ("Lý do", "reason"),
    ("Loại", "kind"),
    ("Người gửi", "sender"),
    ("Tên người gửi", "sender_name"),
    ("Cơ quan", "agency"),
    ("Lĩnh vực", "fields"),
    ("Thành viên phụ trách", "members"),
    ("Tác giả", "author"),
    ("Đơn vị", "unit"),
    ("Nguồn", "source"),
    ("Phông chữ cũ", "legacy_encoding"),
    ("Trùng với mục", "duplicate_of"),
    ("Nhận lúc", "created_at"),
    ("Hạn đăng", "due_at"),
    ("Phiên bản", "version"),
    ("Message-ID", "message_id"),
)


def _table(
    title: str,
    rows: list[dict[str, Any]],
    columns: tuple[tuple[str, str], ...],
    states: dict[str, str] | None = None,
) -> Table:
    """``rows`` under ``columns``, a row's state named by ``states``."""
    table = Table(title=title, title_justify="left", expand=False)
    for heading, _key in columns:
        table.add_column(heading)
    for row in rows:
        if states and "state" in row:
            row = row | {"state": labelled(row["state"], states)}
        table.add_row(*(shown(key, row.get(key)) for _heading, key in columns))
    return table


def labelled(state: str, labels: dict[str, str]) -> str:
    """A state as staff name it, its code after it as ``--json`` and the logs give it."""
    return f"{labels[state]} ({state})" if state in labels else state


TIMES = {"created_at", "due_at", "at", "decided_at", "next_attempt_at"}  # ISO in the record


def shown(key: str, value: Any) -> Text:
    """A value of the record as staff read it: local times, lists and details as text."""
    if key in TIMES and isinstance(value, str):
        return text(local(datetime.fromisoformat(value)))
    if isinstance(value, list):
        return text(", ".join(map(str, value)))
    if isinstance(value, dict):
        return text(json.dumps(value, ensure_ascii=False) if value else "")
    return text(value)


def render(data: dict[str, Any]) -> Group:
    facts = Table.grid(padding=(0, 2))
    facts.add_column(style="bold")
    facts.add_column()
    for label, key in FACTS:
        facts.add_row(label, shown(key, data.get(key)))
    for flag in data["flags"]:
        facts.add_row("Cảnh báo", text(f"{flag.get('code')}: {flag.get('detail') or ''}"))
    parts: list[Any] = [
        Panel(facts, title=text(f"#{data['id']} {data['tracking_code']}"), title_align="left"),
        Panel(text(data["body_text"]), title=text(data["title"]), title_align="left"),
    ]
    if data["files"]:
        parts.append(_table("Tệp đính kèm", data["files"], FILE_COLUMNS))
    if data["review"]:
        parts.append(_table("Duyệt", data["review"], REVIEW_COLUMNS, TASK_STATE_LABELS))
    if data["publication"]:
        publication = [data["publication"]]
        parts.append(_table("Đăng trên cổng", publication, PUBLICATION_COLUMNS, PUB_STATE_LABELS))
    parts.append(_table("Lịch sử", data["history"], HISTORY_COLUMNS))
    return Group(*parts)


FILE_COLUMNS = (
    ("Tên tệp", "filename"),
    ("Kiểu", "content_type"),
    ("Cỡ", "size"),
    ("Vai trò", "role"),
)
REVIEW_COLUMNS = (
    ("Vòng", "round"),
    ("Bước", "step"),
    ("Thành viên", "member"),
    ("Kết quả", "state"),
    ("Người quyết", "actor"),
    ("Qua", "channel"),
    ("Ghi chú", "text"),
    ("Lúc", "decided_at"),
)
PUBLICATION_COLUMNS = (
    ("Trạng thái", "state"),
    ("Lần thử", "attempts"),
    ("Địa chỉ", "url"),
    ("Lỗi gần nhất", "last_error"),
)
HISTORY_COLUMNS = (
    ("#", "seq"),
    ("Sự kiện", "kind"),
    ("Người", "actor"),
    ("Qua", "channel"),
    ("Lúc", "at"),
    ("Chi tiết", "detail"),
)


def show_item(args: argparse.Namespace) -> int:
    with database(args)() as session:
        item = find(session, args.id)
        if item is None:
            console(stderr=True).print(f"Không có bài {args.id} (no such item)")
            return 1
        data = item_record(session, item)
    return answer(data, args.json, render)


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    lister = command(sub, "list", "liệt kê tin bài đã nhận, mới nhất trước (list stored items)")
    json_option(lister)
    lister.add_argument("--board", metavar=BOARD, help="chỉ một ban biên tập (one board)")
    lister.add_argument(
        "--state",
        choices=[s.value for s in State],
        metavar="TRẠNG_THÁI",
        help="chỉ tin bài ở trạng thái này (one state): %(choices)s",
    )
    lister.add_argument(
        "--agency", metavar="CƠ_QUAN", help="mã cơ quan gửi bài (the sending agency's id)"
    )
    lister.add_argument("--kind", choices=get_args(Kind), help="chỉ một loại tin bài (one kind)")
    lister.add_argument(
        "--member",
        metavar="THÀNH_VIÊN",
        help="tin bài thuộc lĩnh vực của thành viên này, do người này gửi hoặc đang chờ người "
        "này duyệt (his items)",
    )
    lister.add_argument(
        "--since",
        type=day,
        metavar="NGÀY",
        help="nhận từ ngày này, ví dụ 25/11/2026 (received on or after)",
    )
    lister.add_argument(
        "--until",
        type=day,
        metavar="NGÀY",
        help="nhận đến hết ngày này, ví dụ 2026-11-25 (received on or before)",
    )
    lister.add_argument(
        "--search", metavar="TỪ_KHÓA", help="tiêu đề có chứa chữ này (the title contains this)"
    )
    lister.add_argument(
        "--limit",
        type=count,
        default=200,
        metavar="SỐ",
        help="nhiều nhất bấy nhiêu tin bài; mặc định %(default)s (at most this many)",
    )
    lister.set_defaults(handler=list_items)
    shower = command(sub, "show", "xem đầy đủ một tin bài và lịch sử xử lý (show one item whole)")
    shower.add_argument("id", metavar=ITEM, help=ITEM_HELP)
    json_option(shower)
    shower.set_defaults(handler=show_item)
