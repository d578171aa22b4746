"""What the ``bientap`` commands share: consoles, the database, items, local times."""

from __future__ import annotations

import argparse
import codecs
import getpass
import io
import json
import os
import sys
from collections.abc import Callable
from datetime import date, datetime, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from rich.console import Console
from rich.text import Text
from sqlalchemy import ColumnElement, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import InstrumentedAttribute, Session, sessionmaker

from pipeline.app import Deployed, open_deployment
from pipeline.config import Board, ConfigError, load_boards, load_deployment
from pipeline.db import open_database
from pipeline.models import StoredFile, Submission
from pipeline.reports.periods import YEARS

VIETNAM = ZoneInfo("Asia/Ho_Chi_Minh")  # every board's default; dates typed by staff are local

WIDE = 200  # columns when the output is not a terminal (a pipe, a log, cron's mail)


def console(stderr: bool = False) -> Console:
    """Tables and messages on stdout; problems and progress bars on stderr, so that what
    a script reads from stdout is only the answer. A stream closed when the command was
    started (``>&-``) takes nothing, as ``print`` does, and the command still runs."""
    stream = (sys.stderr if stderr else sys.stdout) or io.StringIO()
    told = stream.isatty() or os.environ.get("COLUMNS")  # rich reads COLUMNS itself
    return Console(file=stream, highlight=False, width=None if told else WIDE)


def utf8_output() -> None:
    """Vietnamese on any terminal: a stream whose locale cannot write it (``LANG=C``
    without Python's UTF-8 mode, a Latin-1 locale) writes UTF-8, as JSON must be, instead
    of failing at the first letter with a diacritic."""
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper) and codecs.lookup(stream.encoding).name != "utf-8":
            stream.reconfigure(encoding="utf-8")


def deployment_options(parser: argparse.ArgumentParser) -> None:
    """The options naming the deployment, alike for ``bientap`` and the daemon: give a
    command what the daemon was given."""
    parser.add_argument(
        "--config",
        default="config",
        metavar="CẤU_HÌNH",
        help="tệp cấu hình một ban, hoặc thư mục chứa các tệp đó; mặc định %(default)s "
        "(a board file or a folder of them)",
    )
    parser.add_argument(
        "--database-url",
        metavar="URL",
        help="cơ sở dữ liệu, thay cho database_url của deployment.toml và "
        "BIENTAP_DATABASE_URL (overrides both)",
    )
    parser.add_argument(
        "--data-dir",
        metavar="THƯ_MỤC",
        help="thư mục dữ liệu (tệp đính kèm, Maildir), thay cho data_dir của deployment.toml "
        "và BIENTAP_DATA_DIR (overrides both)",
    )


# Help and placeholder of what several commands take alike.
ITEM = "BÀI"
ITEM_HELP = (
    "số ID hoặc mã theo dõi của tin bài, ví dụ 12 hoặc BT-260315-ABCDEF (item id or tracking code)"
)
BOARD = "BAN"
REASON = "LÝ_DO"


def json_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--json", action="store_true", help="kết quả dạng JSON, cho script đọc (for scripts)"
    )


def deployed(args: argparse.Namespace) -> Deployed:
    """The deployment the global options name (``--config``, ``--database-url``,
    ``--data-dir``), as the daemon given the same options opens it."""
    made_already(load_deployment(args.config, {"database_url": args.database_url}).database_url)
    d = open_deployment(args.config, args.database_url, args.data_dir)
    files_here(d)
    return d


def files_here(d: Deployed) -> None:
    """Refuse a data folder without the attachment store while the database names stored
    files: a relative ``data_dir`` read from another folder, where a backup would leave
    every attachment out and a reprocessed message's files would go astray."""
    if d.files.root.exists():
        return
    with d.sessions() as session:
        if session.scalar(select(StoredFile.id).where(StoredFile.sha256.is_not(None)).limit(1)):
            raise ConfigError(
                f"data_dir: thư mục dữ liệu {d.data_dir.absolute()} không có tệp đính kèm nào "
                "mà cơ sở dữ liệu ghi; hãy chạy lệnh từ thư mục của daemon, hoặc cho "
                "--data-dir như daemon (no attachment store there, while the database "
                "names stored files: give the daemon's data folder)"
            )


def made_already(url: str) -> None:
    """Refuse a SQLite file that is not there: a command works on the database a daemon
    made, and a path read from the wrong folder (``var/bientap.db``, the default, is
    relative to where the command runs) would otherwise be a new, empty database."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return
    path = Path(parsed.database).absolute()
    if not path.exists():
        raise ConfigError(
            f"database_url: không có cơ sở dữ liệu {path} (no such database): đường dẫn "
            f"tương đối tính từ thư mục đang đứng ({Path.cwd()}); hãy chạy lệnh từ thư mục "
            "của daemon, hoặc cho --database-url như daemon (a relative path is read from "
            "the current folder: run bientap where the daemon runs, or give its database)"
        )


def database(args: argparse.Namespace, boards: list[Board] | None = None) -> sessionmaker[Session]:
    """Sessions on the deployment's database (``--config``, ``--database-url``). A
    ``--config`` that names no board is refused before any database is opened (a typo
    would list one made up for it as empty), and so is a ``--board`` neither configured
    nor on record. ``boards``: the configuration, when the caller has loaded it."""
    deployment = load_deployment(args.config, {"database_url": args.database_url})
    configured = [b.id for b in (load_boards(args.config) if boards is None else boards)]
    made_already(deployment.database_url)
    _engine, sessions = open_database(deployment.database_url)
    with sessions() as session:
        known_board(args, configured, session)
    return sessions


def known_board(args: argparse.Namespace, configured: list[str], session: Session) -> None:
    """Refuse a ``--board`` that is neither in the configuration nor on record (a board
    taken out of the configuration keeps its items, and they can still be listed)."""
    board = getattr(args, "board", None)
    if not board or board in configured:
        return
    if session.scalar(select(Submission.id).where(Submission.board_id == board).limit(1)):
        return
    raise ConfigError(
        f"--board: không có ban biên tập {board!r} (no such board); có: {', '.join(configured)}"
    )


# What an operator can get wrong (a setting, the database, a path, a number): a message,
# never a traceback; the daemon and ``bientap`` say it alike.
OPERATOR_ERRORS = (ConfigError, OperationalError, OSError, OverflowError)


def operator_error(exc: Exception, doing: str = "Không thực hiện được (cannot be done)") -> str:
    """The message for one of OPERATOR_ERRORS; ``doing`` heads a path's or a port's."""
    if isinstance(exc, ConfigError):
        return f"Lỗi cấu hình (configuration error):\n{exc}"
    if isinstance(exc, OperationalError):  # not the URL: it may hold a password
        return f"Không mở được cơ sở dữ liệu (database unreachable): {exc.orig}"
    if isinstance(exc, OverflowError):
        return "Số quá lớn: không có mục nào như vậy (number too large)"
    return f"{doing}: {exc}"


def reason(text: str) -> str:
    """An operator's reason (argparse type): on record, so never empty."""
    if not text.strip():
        raise argparse.ArgumentTypeError("cần ghi lý do (a reason is needed)")
    return text.strip()


def find(session: Session, key: str) -> Submission | None:
    """An item by id or tracking code."""
    return session.scalar(select(Submission).where(named(key)))


def named(key: str, by_id: InstrumentedAttribute[int] = Submission.id) -> ColumnElement[bool]:
    """The item an operator names: an id (``by_id``: the item's, or its raw message's), or
    its tracking code as he may copy or type it (" bt-261207-3ah7zl": the codes are made in
    capitals)."""
    key = key.strip()
    return by_id == int(key) if key.isdecimal() else Submission.tracking_code == key.upper()


INTERRUPTED = 130  # the shell's code for a command ended by Ctrl-C


def interrupted() -> int:
    """Ctrl-C ends a command or the daemon with a line, not a traceback."""
    print("Đã dừng (interrupted by Ctrl-C)", file=sys.stderr)
    return INTERRUPTED


DAY_FORMATS = ("%d/%m/%Y", "%Y-%m-%d")


def day(text: str) -> date:
    """A day as staff type it (argparse type): "25/11/2026" or "2026-11-25"."""
    for form in DAY_FORMATS:
        try:
            found = datetime.strptime(text.strip(), form).date()
        except ValueError:
            continue
        if found.year not in YEARS:  # 0001 or 9999: a typo, and past what a date can hold
            raise argparse.ArgumentTypeError(
                f"{text!r}: năm phải từ {YEARS.start} đến {YEARS.stop - 1} (year out of range)"
            )
        return found
    raise argparse.ArgumentTypeError(
        f"{text!r} không phải ngày, ví dụ 25/11/2026 hoặc 2026-11-25 (not a date)"
    )


def count(text: str) -> int:
    """A number of rows (argparse type): a whole number above zero."""
    if not text.strip().isdecimal() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} không phải số nguyên dương (not a count)")
    return int(text)


def operator() -> str:
    """Who runs the command, for the record."""
    return getpass.getuser()


def print_json(data: Any) -> None:
    print(json.dumps(data, ensure_ascii=False, indent=2))


def answer(data: Any, as_json: bool, render: Callable[[Any], Any]) -> int:
    """A command's answer: JSON for scripts, or rendered for people."""
    if as_json:
        print_json(data)
    else:
        console().print(render(data))
    return 0


def text(value: Any) -> Text:
    """A cell or line shown as it is: titles like "[GD] …" are not rich markup."""
    return Text("-" if value is None or value == "" else str(value))


def local(when: datetime | None, zone: ZoneInfo = VIETNAM) -> str:
    return when.astimezone(zone).strftime("%d/%m/%Y %H:%M") if when else "-"


def day_start(day: date, zone: ZoneInfo = VIETNAM) -> datetime:
    """The first instant of a local day (``--since``); ``--until`` uses the next day's."""
    return datetime.combine(day, time.min, tzinfo=zone)
