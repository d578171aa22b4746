"""``bientap report``: royalty statements, activity reports, and the head's approval.

    bientap report royalty --board B --period 2026-H1 --out DIR [--format csv|xlsx|both]
    bientap report activity --board B --period 2026-H1 --out DIR
    bientap report approve-royalty --board B --period 2026-H1 --as MEMBER --reason TEXT

A period is ``2026``, ``2026-H1``, ``2026-Q3`` or ``2026-05``, or ``--from D --to D`` (ISO
dates, both days included), in the board's time zone.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Callable
from pathlib import Path

from pipeline.app import Deployed
from pipeline.cli_argparse import command
from pipeline.cli_common import BOARD, REASON, day, deployed, reason
from pipeline.config import Board, ConfigError
from pipeline.models import utcnow
from pipeline.reports import activity, approval, outputs, periods, royalty
from pipeline.reports.periods import Period, PeriodError
from pipeline.reports.tables import shown

FORMATS: dict[str, tuple[str, ...]] = {"csv": ("csv",), "xlsx": ("xlsx",), "both": ("csv", "xlsx")}


def _period_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--board",
        metavar=BOARD,
        help="mã ban biên tập; bỏ trống được khi chỉ có một ban (board id)",
    )
    parser.add_argument(
        "--period", metavar="KỲ", help="kỳ: 2026, 2026-H1, 2026-Q3 hoặc 2026-05 (the period)"
    )
    parser.add_argument(
        "--from",
        dest="first",
        type=day,
        metavar="NGÀY",
        help="từ ngày, ví dụ 25/11/2026 hoặc 2026-11-25 (the first day)",
    )
    parser.add_argument(
        "--to", dest="last", type=day, metavar="NGÀY", help="đến hết ngày này (the last day)"
    )


def _out_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--out",
        type=Path,
        required=True,
        metavar="THƯ_MỤC",
        help="thư mục ghi các tệp (folder to write the files to)",
    )


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = command(
        sub, "report", "bảng kê nhuận bút và báo cáo hoạt động (royalty and activity reports)"
    )
    kinds = parser.add_subparsers(
        dest="report",
        required=True,
        title="loại báo cáo",
        metavar="LOẠI",
        help="hướng dẫn từng loại: bientap report LOẠI --help (help on one)",
    )
    money = command(
        kinds, "royalty", "bảng kê nhuận bút của một kỳ, CSV hoặc XLSX (the royalty statement)"
    )
    _period_options(money)
    _out_option(money)
    money.add_argument(
        "--format",
        choices=sorted(FORMATS),
        default="both",
        help="định dạng tệp, both là cả hai; mặc định %(default)s (file format)",
    )
    work = command(
        kinds, "activity", "báo cáo hoạt động của một kỳ, HTML và XLSX (the activity report)"
    )
    _period_options(work)
    _out_option(work)
    sign = command(
        kinds,
        "approve-royalty",
        "ghi nhận người có thẩm quyền phê duyệt bảng kê nhuận bút (record the approval)",
    )
    _period_options(sign)
    sign.add_argument(
        "--as",
        dest="member",
        required=True,
        metavar="THÀNH_VIÊN",
        help="mã thành viên phê duyệt (the approving member's id)",
    )
    sign.add_argument(
        "--reason",
        required=True,
        type=reason,
        metavar=REASON,
        help="vì sao ghi từ đây, để lưu hồ sơ (why it is recorded from here)",
    )
    parser.set_defaults(handler=run)


def _board(d: Deployed, wanted: str | None) -> Board:
    if wanted is None and len(d.boards) == 1:
        return d.boards[0]
    board = next((b for b in d.boards if b.id == wanted), None)
    if board is None:
        known = ", ".join(b.id for b in d.boards)
        raise ConfigError(f"--board: chọn một ban biên tập trong: {known}")
    return board


def _period(args: argparse.Namespace, board: Board) -> Period:
    if args.period and (args.first or args.last):
        raise PeriodError("dùng --period, hoặc --from và --to, không dùng cả hai")
    if args.period:
        return periods.parse(args.period, board.timezone)
    if args.first and args.last:
        return periods.days(args.first, args.last, board.timezone)
    raise PeriodError("cần --period (ví dụ 2026-H1), hoặc --from và --to")


def _vnd(amount: int) -> str:
    return shown(amount, "vnd", "UTC")


def _n(count: int) -> str:
    """A count as Vietnamese readers write it: 1.250."""
    return shown(count, "int", "UTC")


def _note(text: str | None) -> None:
    if text:
        print(f"  {text}")


def _write(out: Path, files: dict[str, bytes]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (out / name).write_bytes(data)
        print(f"  {out / name}")


def _royalty(d: Deployed, board: Board, period: Period, args: argparse.Namespace) -> int:
    with d.sessions() as session:
        s = royalty.statement(session, board, period)
        status = approval.status(session, s)
    now = utcnow()
    files = outputs.royalty_files(s, now, status, FORMATS[args.format])
    print(f"Bảng kê nhuận bút {board.name}, {outputs.span(period)}:")
    print(f"  {_n(len(s.entries))} tin, bài; tổng cộng {_vnd(s.total)}; {status}")
    _note(outputs.unfinished(board, period, now))
    _note(None if s.rates_set else royalty.NO_RATES)
    _note(s.repeated_note)
    _write(args.out, files)
    return 0


def _activity(d: Deployed, board: Board, period: Period, args: argparse.Namespace) -> int:
    with d.sessions() as session:
        report = activity.report(session, board, period)
    now = utcnow()
    files = outputs.activity_files(report, now)
    t = report.tally()
    print(f"Báo cáo hoạt động {board.name}, {outputs.span(period)}:")
    print(f"  đã nhận {_n(t.received)}, được đăng {_n(t.published)}, không duyệt {_n(t.rejected)}")
    _note(outputs.unfinished(board, period, now))
    _write(args.out, files)
    return 0


def _approve(d: Deployed, board: Board, period: Period, args: argparse.Namespace) -> int:
    with d.sessions.begin() as session:
        s = royalty.statement(session, board, period)
        try:
            event = approval.approve(
                session, s, args.member, args.reason, getpass.getuser(), utcnow()
            )
        except approval.Refused as exc:
            print(f"Không ghi nhận được: {exc}", file=sys.stderr)
            return 1
        detail = dict(event.detail)
    print(
        f"Đã ghi nhận phê duyệt bảng kê nhuận bút kỳ {detail['period']} của {board.name}: "
        f"{_n(detail['items'])} tin, bài, tổng cộng {_vnd(detail['total_vnd'])}"
    )
    print(f"  mã kiểm tra số liệu (SHA-256): {detail['sha256']}")
    return 0


Command = Callable[[Deployed, Board, Period, argparse.Namespace], int]
COMMANDS: dict[str, Command] = {
    "royalty": _royalty,
    "activity": _activity,
    "approve-royalty": _approve,
}


def run(args: argparse.Namespace) -> int:
    """The ``report`` handler: 0 done, 1 refused, 2 a configuration or period error."""
    try:
        d = deployed(args)
        board = _board(d, args.board)
        period = _period(args, board)
    except (ConfigError, PeriodError) as exc:
        print(f"lỗi: {exc}", file=sys.stderr)
        return 2
    try:
        return COMMANDS[args.report](d, board, period, args)
    finally:
        d.engine.dispose()
