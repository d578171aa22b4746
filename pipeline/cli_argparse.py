"""argparse in Vietnamese, for ``bientap`` and the daemon: its usage line, headings,
``-h``'s help and error lines, and the way every parser of the command line is built.

argparse takes each of its own words through ``gettext`` when it uses it, under the
name ``_`` in its module. A catalog in the process's gettext domain would follow the
locale, and cron and systemd run commands under ``LANG=C``; the rest of the command line
is Vietnamese whatever the locale, so argparse's ``_`` is pointed at WORDS instead. A
word not in WORDS (one a later Python adds) stays English rather than failing.
"""

from __future__ import annotations

import argparse

# argparse's words an operator meets, English as argparse asks for them → what he reads.
# Vietnamese has one form for any number: no plurals to tell apart.
WORDS: dict[str, str] = {
    "usage: ": "cách dùng: ",
    "positional arguments": "tham số",
    "options": "tùy chọn",
    "show this help message and exit": "xem hướng dẫn này rồi thoát (show this help)",
    "%(prog)s: error: %(message)s\n": "%(prog)s: lỗi: %(message)s\n",
    "argument %(argument_name)s: %(message)s": "tham số %(argument_name)s: %(message)s",
    "the following arguments are required: %s": (
        "thiếu tham số bắt buộc: %s (the following arguments are required)"
    ),
    "unrecognized arguments: %s": "không hiểu tham số: %s (unrecognized arguments)",
    "invalid choice: %(value)r (choose from %(choices)s)": (
        "không có lựa chọn %(value)r (invalid choice); chọn một trong: %(choices)s"
    ),
    "invalid %(type)s value: %(value)r": "giá trị không hợp lệ: %(value)r (invalid %(type)s)",
    "expected one argument": "cần một giá trị (expected one argument)",
    "expected at most one argument": "cần nhiều nhất một giá trị (expected at most one)",
    "expected at least one argument": "cần ít nhất một giá trị (expected at least one)",
    "ignored explicit argument %r": "tùy chọn này không nhận giá trị %r (takes no value)",
    "ambiguous option: %(option)s could match %(matches)s": (
        "tùy chọn %(option)s chưa rõ, có thể là %(matches)s (ambiguous option)"
    ),
}


def word(message: str) -> str:
    """argparse's word ``message`` as the operator reads it."""
    return WORDS.get(message, message)


def speak_vietnamese() -> None:
    """argparse speaks Vietnamese from now on, in this process (a command or the daemon);
    done before a parser is made, since ``-h``'s help and the headings are set then."""
    argparse._ = word  # type: ignore[attr-defined]  # argparse's gettext, looked up at each use


def root(prog: str, description: str) -> argparse.ArgumentParser:
    """The top parser of a command line, in Vietnamese; sub-commands are made alike."""
    speak_vietnamese()
    return argparse.ArgumentParser(prog=prog, description=description)


def command(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], name: str, about: str
) -> argparse.ArgumentParser:
    """A sub-command: ``about`` is its line in the list of commands and heads its own help."""
    return sub.add_parser(name, help=about, description=about)
