"""``bientap config check``: will the daemon start with this configuration, and why not.

Loads and validates the deployment settings and every board file (each file on its
own, so every broken file is named), then what the daemon reads from the environment:
the variable of every ``env:NAME`` secret and the link key. A problem names the file,
the key and the variable, never a value. Exit 0 when all is well, 2 otherwise.
"""

from __future__ import annotations

import argparse
import os

from rich.markup import escape

from pipeline.app import served_site
from pipeline.cli_argparse import command
from pipeline.cli_common import console
from pipeline.config import (
    Board,
    ConfigError,
    Deployment,
    board_conflicts,
    board_files,
    load_board,
    load_deployment,
    secret_refs,
)
from pipeline.tokens import DEFAULT_KEY_ENV, TokenKeyError, load_key


def _deployment(config: str) -> tuple[Deployment | None, list[str]]:
    try:
        return load_deployment(config), []
    except ConfigError as exc:
        return None, str(exc).splitlines()


def _site(deployment: Deployment | None, boards: list[Board]) -> list[str]:
    """The static site the daemon serves itself: one folder at most."""
    try:
        if deployment is not None:
            served_site(deployment, boards)
    except ConfigError as exc:
        return [str(exc)]
    return []


def _boards(config: str) -> tuple[list[Board], list[str]]:
    try:
        files = board_files(config)
    except ConfigError as exc:
        return [], [str(exc)]
    boards: list[Board] = []
    problems: list[str] = []
    for path in files:
        try:
            boards.append(load_board(path))
        except ConfigError as exc:
            problems += str(exc).splitlines()
    return boards, problems + board_conflicts(boards)


def _secrets(boards: list[Board]) -> list[str]:
    """Every secret the daemon could not read, as the daemon would say it."""
    problems = []
    for board in boards:
        for key, secret in secret_refs(board):
            try:
                secret.reveal()
            except ConfigError as exc:
                empty = os.environ.get(secret.env_name) == ""
                told = "để trống" if empty else "chưa được đặt"
                problems.append(
                    f"{board.source_file}: {key}: biến môi trường {secret.env_name} {told} ({exc})"
                )
    return problems


def _link_key() -> list[str]:
    try:
        load_key()
    except TokenKeyError as exc:
        return [f"{DEFAULT_KEY_ENV}: khóa ký liên kết không dùng được ({exc})"]
    return []


def _warnings(boards: list[Board]) -> list[str]:
    """What starts, but is weaker than it could be."""
    return [
        f"{board.source_file}: review.reply_auth.authserv_ids: trống — thư trả lời chỉ được "
        "tin theo mã riêng trong thư duyệt (như liên kết), không kiểm tra người gửi "
        "(replies are trusted on their token alone: list the board's mail server)"
        for board in boards
        if not board.review.reply_auth.authserv_ids
    ]


def check(args: argparse.Namespace) -> int:
    config = args.check_config or args.config
    boards, problems = _boards(config)
    deployment, unusable = _deployment(config)
    problems = unusable + problems + _site(deployment, boards) + _secrets(boards) + _link_key()
    out = console()
    for board in boards:
        out.print(
            f"[green]✓[/] {escape(board.source_file)}: {escape(board.id)} — {escape(board.name)} "
            f"({len(board.mailboxes)} hộp thư, {len(board.members)} thành viên)"
        )
    for warning in _warnings(boards):
        out.print(f"[yellow]![/] {escape(warning)}")
    for problem in problems:
        out.print(f"[red]✗[/] {escape(problem)}")
    if problems:
        out.print(
            f"[bold red]Cấu hình có {len(problems)} lỗi: daemon sẽ không khởi động được.[/] "
            f"(configuration has {len(problems)} problem(s): the daemon would not start)"
        )
        return 2
    out.print(
        f"[bold green]Cấu hình hợp lệ: {len(boards)} ban, đủ các biến bí mật và khóa ký.[/] "
        f"(configuration OK: {len(boards)} board(s), every secret and the link key set)"
    )
    return 0


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    checker = command(
        sub,
        "config",
        "kiểm tra cấu hình trước khi khởi động daemon (check the configuration before starting)",
    )
    checker.add_argument(
        "action", choices=["check"], help="kiểm tra (check) các ban, biến bí mật và khóa ký"
    )
    checker.add_argument(
        "--config",
        dest="check_config",
        metavar="CẤU_HÌNH",
        help="tệp hoặc thư mục cấu hình cần kiểm tra; mặc định --config của bientap "
        "(a board file or folder)",
    )
    checker.set_defaults(handler=check)
