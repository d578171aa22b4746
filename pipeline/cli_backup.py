"""``bientap backup``, ``restore`` and ``purge``: the operators' side of pipeline/backup.py
and pipeline/retention.py. Messages for board staff in Vietnamese, with the English."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from rich.console import Console
from rich.progress import Progress, TaskID

from pipeline import backup, restore, retention
from pipeline.cli_argparse import command
from pipeline.cli_common import BOARD, deployed, operator_error
from pipeline.config import ConfigError, load_deployment
from pipeline.models import utcnow

COUNT_LABELS = (
    ("held", "thư tạm giữ quá hạn, đã loại bỏ (held mail set aside)"),
    ("submissions", "bài gửi (items)"),
    ("raw_messages", "thư gốc (raw mails)"),
    ("outgoing_mails", "thư đã gửi đi (sent mails)"),
    ("notices", "địa chỉ trong nhật ký thông báo (notice log)"),
    ("versions", "phiên bản (versions)"),
    ("events", "sự kiện nhật ký (record events)"),
    ("files", "tệp đính kèm (attachments)"),
)


class _Bar:
    """A rich progress bar on a terminal's stderr."""

    def __init__(self) -> None:
        self.progress = Progress(console=Console(stderr=True), transient=True)
        self.task: TaskID | None = None

    def begin(self, label: str, total: int) -> None:
        if self.task is not None:
            self.progress.remove_task(self.task)
        self.task = self.progress.add_task(label, total=total)

    def advance(self, amount: int = 1) -> None:
        if self.task is not None:
            self.progress.advance(self.task, amount)


@contextmanager
def _progress() -> Iterator[backup.Progress | None]:
    """A bar when a person watches; nothing in a log or a pipe."""
    if not sys.stderr.isatty():
        yield None
        return
    bar = _Bar()
    with bar.progress:
        yield bar


ARCHIVE = "BẢN_SAO_LƯU"  # what --verify and restore take


def _archive(text: str) -> str:
    """An archive named on the command line (argparse type): a path that is not there, or
    is a folder, is a mistake in typing it, not a damaged backup."""
    path = Path(text)
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text}: là thư mục, không phải bản sao lưu (a folder)")
    if not path.exists():
        raise argparse.ArgumentTypeError(f"{text}: không có tệp này (no such file)")
    return text


def _guarded(handler: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        try:
            return handler(args)
        except ConfigError as exc:
            print(operator_error(exc), file=sys.stderr)
            return 2
        except backup.BackupError as exc:
            print(str(exc), file=sys.stderr)
            return 1

    return run


def _backup(args: argparse.Namespace) -> int:
    if args.verify:
        problems = backup.verify(Path(args.verify))
        for problem in problems:
            print(problem)
        if problems:
            print(f"{args.verify}: BẢN SAO LƯU HỎNG (damaged): {len(problems)} lỗi")
            return 1
        print(f"{args.verify}: bản sao lưu toàn vẹn (intact)")
        return 0
    d = deployed(args)
    dest = Path(args.dest) if args.dest else backup.backup_dir(d)
    with _progress() as bar:
        path = backup.create(d, dest, utcnow(), bar)
    manifest = backup.read_manifest(path)
    rows = sum(manifest["tables"].values())
    files = sum(1 for name in manifest["files"] if name.startswith(f"{backup.DATA}/"))
    print(f"Đã sao lưu (backup written): {path}")
    print(
        f"  {rows} dòng dữ liệu (rows), {files} tệp (files), lược đồ (schema) "
        f"{manifest['alembic_revision']}"
    )
    return 0


def _restore(args: argparse.Namespace) -> int:
    settings = load_deployment(
        args.config,
        {
            "database_url": args.target_database_url or args.database_url,
            "data_dir": args.target_data_dir or args.data_dir,
        },
    )
    with _progress() as bar:
        done = restore.restore(
            Path(args.archive),
            settings.database_url,
            Path(settings.data_dir),
            config_dir=Path(args.target_config_dir) if args.target_config_dir else None,
            force=args.force,
            progress=bar,
        )
    print(f"Đã phục hồi (restored) {args.archive}:")
    print(f"  {sum(done.tables.values())} dòng dữ liệu (rows), {done.files} tệp (files)")
    print(f"  tệp cấu hình (configuration) ở {done.config_dir}: xem lại trước khi dùng")
    return 0


def _purge(args: argparse.Namespace) -> int:
    d = deployed(args)
    boards = [b for b in d.boards if args.board in (None, b.id)]
    if not boards:  # as every command says it (exit 2)
        known = ", ".join(b.id for b in d.boards)
        raise ConfigError(
            f"--board: không có ban biên tập {args.board!r} (no such board); có: {known}"
        )
    for board in boards:
        with d.sessions() as session:
            counts = retention.purge(session, board, utcnow(), d.files)
            if args.dry_run:
                session.rollback()
            else:
                session.commit()
        what = "sẽ ẩn danh (would anonymise)" if args.dry_run else "đã ẩn danh (anonymised)"
        print(f"{board.id}: dữ liệu cá nhân quá {board.retention_days} ngày, {what}:")
        for key, label in COUNT_LABELS:
            print(f"  {counts[key]:>6}  {label}")
    return 0


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``backup``, ``restore`` and ``purge`` to the ``bientap`` command line."""
    maker = command(
        sub, "backup", "sao lưu cơ sở dữ liệu, tệp và cấu hình (back up the deployment)"
    )
    maker.add_argument(
        "--dest", metavar="THƯ_MỤC", help="thư mục lưu; mặc định backup_dir (folder)"
    )
    maker.add_argument(
        "--verify",
        metavar=ARCHIVE,
        type=_archive,
        help="chỉ kiểm tra một bản sao lưu, không sao lưu (only check an archive)",
    )
    maker.set_defaults(handler=_guarded(_backup))

    restorer = command(
        sub, "restore", "phục hồi một bản sao lưu vào triển khai trống (restore a backup)"
    )
    restorer.add_argument(
        "archive", type=_archive, metavar=ARCHIVE, help="tệp sao lưu cần phục hồi (the archive)"
    )
    restorer.add_argument(
        "--database-url",
        dest="target_database_url",
        metavar="URL",
        help="cơ sở dữ liệu phục hồi vào; mặc định như bientap --database-url (the target)",
    )
    restorer.add_argument(
        "--data-dir",
        dest="target_data_dir",
        metavar="THƯ_MỤC",
        help="thư mục dữ liệu phục hồi vào; mặc định như bientap --data-dir (the target)",
    )
    restorer.add_argument(
        "--config-dir",
        dest="target_config_dir",
        metavar="THƯ_MỤC",
        help="nơi ghi tệp cấu hình (board files)",
    )
    restorer.add_argument(
        "--force", action="store_true", help="thay thế dữ liệu đang có (replace what is there)"
    )
    restorer.set_defaults(handler=_guarded(_restore))

    purger = command(
        sub, "purge", "ẩn danh dữ liệu cá nhân quá hạn lưu giữ (anonymise old personal data)"
    )
    purger.add_argument("--board", metavar=BOARD, help="chỉ một ban (one board only)")
    purger.add_argument(
        "--dry-run", action="store_true", help="chỉ đếm, không thay đổi (count, change nothing)"
    )
    purger.set_defaults(handler=_guarded(_purge))
