"""The operators' command line, ``bientap``: one parser, one handler per command.

Each command module adds its sub-commands with ``add_commands(sub)`` and sets
``handler``, a function of the parsed arguments returning the exit code; ``main``
only dispatches. A configuration problem is reported the same way for all (exit 2).
"""

from __future__ import annotations

import argparse
import os
import sys

from pipeline import (
    cli_backup,
    cli_config,
    cli_items,
    cli_ops,
    cli_reports,
    cli_reprocess,
    cli_schedule,
    cli_status,
)
from pipeline.cli_argparse import root
from pipeline.cli_common import (
    OPERATOR_ERRORS,
    deployment_options,
    interrupted,
    operator_error,
    utf8_output,
)
from pipeline.cli_items import item_dict, publication_dict

__all__ = ["item_dict", "main", "parser", "publication_dict"]

# The command modules, in the order their commands are listed in --help.
COMMANDS = (
    cli_status,
    cli_items,
    cli_ops,
    cli_schedule,
    cli_reprocess,
    cli_reports,
    cli_backup,
    cli_config,
)


def parser() -> argparse.ArgumentParser:
    out = root(
        "bientap",
        "bientap: lệnh của người quản trị cho tin bài đã nhận, duyệt, đăng, báo cáo và sao lưu "
        "(the operators' command line)",
    )
    deployment_options(out)
    sub = out.add_subparsers(
        dest="command",
        required=True,
        title="lệnh",
        metavar="LỆNH",
        help="hướng dẫn từng lệnh: bientap LỆNH --help (help on a command)",
    )
    for module in COMMANDS:
        module.add_commands(sub)
    return out


def main(argv: list[str] | None = None) -> int:
    utf8_output()
    args = parser().parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is None:  # a command module that forgot set_defaults(handler=…)
        print(
            f"bientap {args.command}: lệnh chưa có phần xử lý (this command has no handler)",
            file=sys.stderr,
        )
        return 2
    try:
        code = int(handler(args))
        if sys.stdout:
            sys.stdout.flush()  # a reader gone (| head) is found here, not at exit
        return code
    except BrokenPipeError:
        return reader_gone()
    except KeyboardInterrupt:
        return interrupted()
    except OPERATOR_ERRORS as exc:
        print(operator_error(exc), file=sys.stderr)
        return 2


def reader_gone() -> int:
    """What reads the answer stopped reading (``bientap list | head -1``): no error to
    tell, as rich does for its tables; the rest of the output goes nowhere, so that
    Python's last flush at exit does not complain either."""
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 1


if __name__ == "__main__":
    sys.exit(main())
