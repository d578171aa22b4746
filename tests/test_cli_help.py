"""The command line's own words: ``bientap --help``, each command's help, the daemon's,
and argparse's refusals, in Vietnamese first, whatever the operator's locale."""

from __future__ import annotations

import argparse
import inspect
import os
import subprocess
import sys
import unicodedata
from collections.abc import Iterator

import pytest

import run_pipeline
from pipeline import cli
from pipeline.cli_argparse import WORDS
from tests.helpers import REPO

# Letters only Vietnamese writes (tones, đ, ă, â, ê, ô, ơ, ư): a help text without one
# before its English bracket is English first.
VIETNAMESE = set("ăâđêôơưàảãáạằẳẵắặầẩẫấậèẻẽéẹềểễếệìỉĩíịòỏõóọồổỗốộờởỡớợùủũúụừửữứựỳỷỹýỵ")
ENGLISH = ("usage:", "positional arguments", "options:", "show this help message", "error:")


def vietnamese_first(text: str | None) -> bool:
    head = (text or "").split("(")[0].lower()
    return any(c in VIETNAMESE for c in head) and unicodedata.is_normalized("NFC", text or "")


def helped(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as exited:
        cli.main(argv)
    assert exited.value.code == 0
    return capsys.readouterr().out


def test_bientap_help_speaks_vietnamese(capsys: pytest.CaptureFixture[str]) -> None:
    top = helped(["--help"], capsys)
    assert top.startswith("cách dùng: bientap [-h] [--config CẤU_HÌNH]")
    for said in (
        "tùy chọn:",
        "lệnh:",
        "-h, --help          xem hướng dẫn này rồi thoát (show this help)",
        "list              liệt kê tin bài đã nhận, mới nhất trước",
        "backup            sao lưu cơ sở dữ liệu, tệp và cấu hình",
    ):
        assert said in top, said
    act = helped(["act", "--help"], capsys)
    assert "cách dùng: bientap act [-h] --as THÀNH_VIÊN --reason LÝ_DO" in act
    assert "tham số:" in act and "mã theo dõi của tin bài" in act
    assert "ghi nhận quyết định thành viên đưa ra ngoài thư" in act  # its own help says what
    royalty = helped(["report", "royalty", "--help"], capsys)
    assert "--period KỲ" in royalty and "bảng kê nhuận bút của một kỳ" in royalty
    for shown in (top, act, royalty):
        assert not [w for w in ENGLISH if w in shown]


def test_the_daemon_help_speaks_vietnamese(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        run_pipeline.main(["--help"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    assert (
        out.startswith("cách dùng: run_pipeline.py [-h]")
        and "Daemon bientap: đọc mọi hộp thư" in out
    )
    assert "làm mỗi việc một lần" in out and not [w for w in ENGLISH if w in out]


def test_help_is_vietnamese_under_any_locale() -> None:
    """cron and systemd run commands under LANG=C: argparse's words do not follow it."""
    env = {**os.environ, "LC_ALL": "C", "LANG": "C", "LANGUAGE": "en", "PYTHONUTF8": "0"}
    ran = subprocess.run(
        [sys.executable, "-m", "pipeline.cli", "--help"],
        cwd=REPO,
        env=env,
        capture_output=True,
        timeout=60,
    )
    assert ran.returncode == 0
    assert "cách dùng: bientap" in ran.stdout.decode("utf-8")


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        ([], "bientap: lỗi: thiếu tham số bắt buộc: LỆNH"),
        (["lsit"], "bientap: lỗi: tham số LỆNH: không có lựa chọn 'lsit' (invalid choice)"),
        (["list", "--boardd", "x"], "bientap: lỗi: không hiểu tham số: --boardd x"),
        (["list", "--board"], "bientap list: lỗi: tham số --board: cần một giá trị"),
        (["act", "BT-1", "approve"], "bientap act: lỗi: thiếu tham số bắt buộc: --as, --reason"),
        (
            ["act", "BT-1", "duyet", "--as", "truong-ban", "--reason", "qua điện thoại"],
            "tham số QUYẾT_ĐỊNH: không có lựa chọn 'duyet' (invalid choice); chọn một trong: "
            "'approve'",
        ),
        (["list", "--json=1"], "tham số --json: tùy chọn này không nhận giá trị '1'"),
        (["list", "--s", "x"], "tùy chọn --s chưa rõ, có thể là --state, --since, --search"),
        (["report", "royalty", "--out"], "bientap report royalty: lỗi: tham số --out: cần một"),
    ],
)
def test_a_mistyped_command_line_is_refused_in_vietnamese(
    argv: list[str], said: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(argv)
    assert exited.value.code == 2
    out, err = capsys.readouterr()
    assert not out and err.startswith("cách dùng: bientap") and said in err, err
    assert not [w for w in ENGLISH if w in err]


def test_the_daemon_refuses_a_mistyped_option_in_vietnamese(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exited:
        run_pipeline.main(["--once=1"])
    assert exited.value.code == 2
    assert "lỗi: tham số --once: tùy chọn này không nhận giá trị '1'" in capsys.readouterr().err


def parsers(
    parser: argparse.ArgumentParser, name: str
) -> Iterator[tuple[str, argparse.ArgumentParser]]:
    """``parser`` and every sub-command's, by the command line that reaches it."""
    yield name, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for command, sub in action.choices.items():
                yield from parsers(sub, f"{name} {command}")


def unexplained(parser: argparse.ArgumentParser, name: str) -> Iterator[str]:
    """What in ``parser`` an operator reads that is not Vietnamese first."""
    if not vietnamese_first(parser.description):
        yield f"{name}: {parser.description!r}"
    for action in parser._actions:
        shown = [action]
        if isinstance(action, argparse._SubParsersAction):
            shown += action._choices_actions  # each command's line in the list
        for one in shown:
            if one.help != argparse.SUPPRESS and not vietnamese_first(one.help):
                yield f"{name} {'/'.join(one.option_strings) or one.dest}: {one.help!r}"


def test_every_command_and_option_explains_itself_in_vietnamese() -> None:
    """A new option or command with no help, or English help, is caught here."""
    found = [
        problem
        for top, name in ((cli.parser(), "bientap"), (run_pipeline.parser(), "run_pipeline.py"))
        for prog, parser in parsers(top, name)
        for problem in unexplained(parser, prog)
    ]
    assert not found, "\n".join(found)


def test_every_word_translated_is_one_argparse_asks_for() -> None:
    """A word argparse no longer uses (a later Python rewords it) would leave its English
    back on screen without a sound: it is found here instead."""
    source = inspect.getsource(argparse)
    assert not [w for w in WORDS if repr(w) not in source and f'"{w}"' not in source]
