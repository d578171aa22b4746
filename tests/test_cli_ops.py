"""The operators' commands on a real database after real mail: ``status``, ``list``
filters, ``show``, ``retry --mail``, ``reprocess`` and ``config check``."""

from __future__ import annotations

import getpass
import json
import logging
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, update
from sqlalchemy import text as sql

from connectors.maildir import MaildirSource
from connectors.smtp import SmtpSender
from pipeline import backup, cli, logs, reading
from pipeline.cli_common import VIETNAM
from pipeline.db import open_database
from pipeline.models import Event, OutgoingMail, RawMessage, State, Submission, utcnow
from pipeline.runner import MAX_ATTEMPTS, retry_delay
from pipeline.samples import article_mail, demo_mails
from tests.fixtures_mail import MakeSmtpSink
from tests.helpers import CONFIG, DEMO_BOX, Clock, Rig, make_rig
from tests.test_daemon import demo_variant

SENDER = "nhung.ltt@sgddt.demo.bientap.vn"
PDF = b"%PDF-1.4\n% bientap test\n"


class Bientap:
    """``bientap --config config/demo.toml --database-url …`` run in this process."""

    def __init__(self, db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
        self.db_url, self.capsys = db_url, capsys

    def __call__(self, *args: str) -> tuple[int, str, str]:
        code = cli.main(
            ["--config", str(CONFIG / "demo.toml"), "--database-url", self.db_url, *args]
        )
        out, err = self.capsys.readouterr()
        return code, out, err

    def json(self, *args: str) -> Any:
        code, out, err = self(*args, "--json")
        assert code == 0, err
        return json.loads(out)


@pytest.fixture
def rig(tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch) -> Rig:
    monkeypatch.setenv("BIENTAP_DATA_DIR", str(tmp_path))  # the commands' file store too
    monkeypatch.setenv("BIENTAP_WORKERS", "0")  # read here, where broken_reading plants its bug
    return make_rig(tmp_path, db_url)


@pytest.fixture
def bientap(db_url: str, capsys: pytest.CaptureFixture[str]) -> Bientap:
    return Bientap(db_url, capsys)


def demo(rig: Rig) -> None:
    for _label, raw in demo_mails(DEMO_BOX):
        rig.drop(raw)
    rig.runner.run_once()


# -- status ----------------------------------------------------------------------------------
def test_status_shows_each_mailbox_and_what_waits(rig: Rig, bientap: Bientap) -> None:
    demo(rig)
    # arrived five days ago: a "tin" is due within 2 days, so it is overdue now
    rig.runner.clock = lambda: utcnow() - timedelta(days=5)
    rig.drop(article_mail(SENDER, DEMO_BOX, "Tin gửi từ tuần trước", message_id="<old@x.vn>"))
    rig.runner.run_once()
    rig.runner.clock = utcnow
    rig.drop(article_mail(SENDER, DEMO_BOX, "Tin vừa đến", message_id="<new@x.vn>"))
    rig.runner.record()  # recorded, not processed yet
    data = bientap.json("status")
    [box] = data["mailboxes"]
    assert (box["mailbox"], box["address"], box["recorded"], box["backlog"]) == (
        "hop-thu-chinh",
        DEMO_BOX,
        6,
        1,
    )
    assert box["last_poll_at"] and box["last_error"] is None
    [board] = data["boards"]
    assert board["board"] == "demo" and board["overdue"] == 1
    assert {k: v for k, v in board["items"].items() if v} == {
        "pending_review": 3,
        "quarantined": 1,
        "set_aside": 1,
    }
    assert board["publications"] == {"dead": 0, "mismatch": 0}
    assert board["mail"] == {"sent": len(rig.sent()), "pending": 0, "failed": 0, "error": None}
    code, out, _err = bientap("status")
    assert code == 0
    for shown in ("hop-thu-chinh", DEMO_BOX, "Chờ duyệt", "Quá hạn", "Thư gửi hỏng"):
        assert shown in out


# A database that refuses a row (full, failed over to a read-only standby): the same
# refusal on SQLite and PostgreSQL, for the reviewers' reply tokens.
REFUSE_NOTICES = {
    "sqlite": "CREATE TRIGGER disk_full BEFORE INSERT ON review_notice "
    "BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END",
    "postgresql": "ALTER TABLE review_notice ADD CONSTRAINT disk_full CHECK (false) NOT VALID",
}


@contextmanager
def daemon_log() -> Iterator[None]:
    """The daemon's own logging (scrubbed, on stderr) for a while."""
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    logs.setup(logging.INFO, json_format=False)
    try:
        yield
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])


def test_a_refused_row_is_reported_without_its_values(
    rig: Rig, bientap: Bientap, capsys: pytest.CaptureFixture[str]
) -> None:
    """The statement's values were in the error kept and shown by «bientap status»: a
    reviewer's reply token and the Message-ID carrying it, which approve as him."""
    with rig.sessions.begin() as s:
        s.execute(sql(REFUSE_NOTICES[s.get_bind().dialect.name]))
    rig.drop(article_mail(SENDER, DEMO_BOX, "[GD] Ngày hội tuyển sinh"))
    with daemon_log():
        rig.runner.run_once()
    logged = capsys.readouterr().err
    with rig.sessions() as s:
        [error] = s.scalars(select(RawMessage.last_error)).all()
    [box] = bientap.json("status")["mailboxes"]
    assert error and "review_notice" in error and box["last_error"] == error
    assert "recording failed" in logged and "review_notice" in logged
    for shown in (error, logged):
        assert "parameters" not in shown or "hidden" in shown
        assert not re.search(r"\br[a-z2-7]{16}\b", shown), shown  # a reply token
        assert SENDER not in shown and "uv-giao-duc" not in shown


# -- list and show ---------------------------------------------------------------------------
def test_list_filters_narrow_the_items(rig: Rig, bientap: Bientap) -> None:
    demo(rig)

    def titles(*args: str) -> list[str]:
        return [i["title"] for i in bientap.json("list", *args)]

    every = titles()
    assert len(every) == 4
    quarantined = "Báo cáo tình hình an ninh trật tự quý I"
    vaccination = "Sở Y tế triển khai chiến dịch tiêm chủng mở rộng"
    today = datetime.now(VIETNAM).date()
    assert titles("--state", "quarantined") == [quarantined]
    assert titles("--agency", "so-tu-phap") == [quarantined]
    assert titles("--search", "tiêm chủng") == [vaccination]
    assert titles("--kind", "tin") == every[1:]  # the auto-reply has no kind
    assert len(titles("--member", "uv-giao-duc")) == 2  # his field: the two articles
    assert titles("--member", "pho-ban-tt") == [every[-1]]  # his seat: the first article
    assert titles("--board", "demo") == every
    with rig.sessions.begin() as s:  # a board taken out of the configuration: still listed
        s.execute(update(Submission).where(Submission.title == quarantined).values(board_id="cu"))
    assert titles("--board", "cu") == [quarantined]
    assert titles("--since", today.isoformat()) == every
    assert titles("--until", (today - timedelta(days=1)).isoformat()) == []
    assert titles("--limit", "1") == every[:1]
    code, out, _err = bientap("list", "--state", "pending_review")
    assert code == 0 and vaccination in out and quarantined not in out


def test_show_lays_an_item_out_and_keeps_its_json(rig: Rig, bientap: Bientap) -> None:
    demo(rig)
    [item] = [i for i in rig.items() if i.legacy_encoding == "tcvn3"]
    data = bientap.json("show", item.tracking_code)
    assert set(data) == {
        *("id", "board", "tracking_code", "state", "state_label", "reason", "kind", "agency"),
        *("sender", "sender_name", "sender_member", "fields", "members", "title", "flags"),
        *("message_id", "created_at", "body_text", "body_html", "author", "unit", "source"),
        *("document", "legacy_encoding", "remote_images", "duplicate_of", "due_at", "version"),
        *("review_step", "files", "history", "publication", "review"),
    }
    assert bientap.json("show", f" {item.tracking_code.lower()} ")["id"] == item.id  # as typed
    code, out, _err = bientap("show", str(item.id))
    assert code == 0
    for shown in (item.tracking_code, item.title, "Lương Thế Vinh", "Chờ duyệt", "Lịch sử"):
        assert shown in out
    assert "Chờ ý kiến (pending)" in " ".join(out.split())  # a seat's state as staff name it
    code, _out, err = bientap("show", "BT-000000-NONE00")
    assert code == 1 and "Không có bài BT-000000-NONE00" in err


# -- retry mail ------------------------------------------------------------------------------
def test_mail_given_up_on_is_sent_again_once_the_cause_is_fixed(
    tmp_path: Path,
    db_url: str,
    bientap: Bientap,
    make_smtp_sink: MakeSmtpSink,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sink = make_smtp_sink(auth=("bientap", "right-password"), auth_required=True)
    smtp = SmtpSender(
        sink.host, sink.port, username="bientap", password="right-password", starttls=False
    )
    rig = make_rig(tmp_path, db_url, sender=smtp)
    sink.refuse["*"] = "550 5.7.1 Relaying denied"  # a relay misconfigured for the board
    rig.drop(article_mail(SENDER, DEMO_BOX))
    rig.runner.run_once()  # every recipient is refused: every mail is given up on
    status = bientap.json("status")
    given_up = [m["id"] for m in status["mail_given_up"]]
    owed = len(given_up)
    assert owed > 0 and status["boards"][0]["mail"]["failed"] == owed
    assert status["boards"][0]["mail"]["error"] is None  # given up, not waiting
    code, _out, err = bientap("retry", "--mail", "999999")
    assert code == 1 and "Không có thư đã bỏ gửi nào khớp 999999" in err
    del sink.refuse["*"]  # the relay is fixed
    assert rig.runner.deliver() == 0  # nothing is retried by itself
    assert bientap("retry", "--mail", str(given_up[-1]))[0] == 0
    assert rig.runner.deliver() == 1
    code, out, _err = bientap("retry", "--mail", "all")
    assert code == 0 and f"Đã xếp {owed - 1} thư" in out
    assert rig.runner.deliver() == owed - 1
    assert len(sink.messages) == owed
    code, out, _err = bientap("retry", "--mail", "all")  # from cron: nothing left is no error
    assert code == 0 and "Không có thư nào đã bỏ gửi" in out
    with rig.sessions() as s:
        asked = s.scalars(select(Event).where(Event.kind == "mail-retry-requested")).all()
    assert len(asked) == owed
    assert {(e.channel, e.actor) for e in asked} == {("cli", getpass.getuser())}
    sent = {"sent": owed, "pending": 0, "failed": 0, "error": None}
    assert bientap.json("status")["boards"][0]["mail"] == sent


# -- reprocess -------------------------------------------------------------------------------
def _bug(_draft: reading.Draft) -> None:
    raise ValueError("lỗi phần mềm")


@contextmanager
def broken_reading() -> Iterator[None]:
    """A bug in reading, until the upgrade that fixes it (the end of the block)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(reading, "STAGES", (("bug", _bug), *reading.STAGES))
        yield


def fail_to_read(rig: Rig, mails: list[bytes]) -> list[int]:
    """Messages a bug breaks, processed until the pipeline keeps them as failed; their
    raw ids."""
    for raw in mails:
        rig.drop(raw)
    with broken_reading():
        for _ in range(3):  # runner.MAX_ATTEMPTS passes
            rig.runner.run_once()
    items = rig.items()
    assert {i.state for i in items} == {State.FAILED}
    return [i.raw_message_id for i in items]


def with_pdf(title: str) -> bytes:
    return article_mail(
        SENDER,
        DEMO_BOX,
        title,
        attachments=[("cong-van.pdf", "application/pdf", PDF)],
    )


def items_of(rig: Rig, raw_id: int) -> list[Submission]:
    return [i for i in rig.items() if i.raw_message_id == raw_id]


def test_a_failed_message_is_reprocessed_into_one_item(rig: Rig, bientap: Bientap) -> None:
    [raw_id] = fail_to_read(rig, [with_pdf("Ngày hội tuyển sinh")])
    [failed] = items_of(rig, raw_id)
    assert "ValueError: lỗi phần mềm" in (failed.reason or "")
    assert "lỗi xử lý sau 3 lần thử" in (failed.reason or "")
    with broken_reading():  # put back while the bug is still there: it fails again
        code, out, _err = bientap("reprocess", str(raw_id))
    assert code == 1 and "Không đọc được" in out
    assert [i.state for i in items_of(rig, raw_id)] == [State.FAILED]  # still one item
    code, out, err = bientap("reprocess", failed.tracking_code.lower())  # upgraded: fixed
    assert code == 0, err
    assert "Chờ duyệt" in out and "1/1" in err
    [item] = items_of(rig, raw_id)
    assert (item.id, item.tracking_code, item.state) == (
        failed.id,
        failed.tracking_code,
        "pending_review",
    )
    assert [f.filename for f in item.files] == ["cong-van.pdf"]
    assert rig.files.get(item.files[0].sha256 or "") == PDF
    with rig.sessions() as s:
        events = s.scalars(select(Event).where(Event.submission_id == item.id).order_by(Event.id))
        kinds = [(e.kind, e.channel, e.actor) for e in events]
        raw = s.get_one(RawMessage, raw_id)
        to_sender = s.scalar(
            select(func.count())
            .select_from(OutgoingMail)
            .where(OutgoingMail.submission_id == item.id, OutgoingMail.to_address == SENDER)
        )
    assert raw.status == "done" and raw.attempts == 0
    operator = ("reprocess-requested", "cli", getpass.getuser())
    assert kinds.count(operator) == 2
    assert [k for k, _c, _a in kinds].count("pending_review") == 1
    assert to_sender == 1  # the receipt, once
    # nothing failed is left to put back; the record is intact
    code, _out, err = bientap("reprocess", str(raw_id))
    assert code == 1 and "không phải thư bị lỗi" in err
    assert len(items_of(rig, raw_id)) == 1
    assert bientap("audit", "verify")[0] == 0


def test_every_failed_message_of_a_board_is_reprocessed_with_progress(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    db_url = f"sqlite:///{tmp_path}/bientap.db"
    monkeypatch.setenv("BIENTAP_DATA_DIR", str(tmp_path))
    rig = make_rig(tmp_path, db_url)
    raw_ids = fail_to_read(rig, [with_pdf(f"Tin số {n}") for n in range(60)])
    bientap = Bientap(db_url, capsys)
    code, _out, err = bientap("reprocess", "--failed", "--board", "demo")
    assert code == 0, err
    assert "60/60" in err  # the progress bar, on stderr
    items = rig.items()
    assert sorted(i.raw_message_id for i in items) == sorted(raw_ids)  # one item each
    assert State.FAILED not in {i.state for i in items}
    assert bientap("reprocess", "--failed")[1].startswith("Không có thư lỗi")


def test_reprocessing_while_the_attachment_store_cannot_be_written_leaves_it_waiting(
    rig: Rig, bientap: Bientap
) -> None:
    """Not failed again: the message waits, unread, and the daemon's next pass after the
    disk is freed stores it, into the same item."""
    [raw_id] = fail_to_read(rig, [with_pdf("Ngày hội tuyển sinh")])
    rig.files.root.write_bytes(b"")  # the disk "full": every new file fails
    code, out, err = bientap("reprocess", str(raw_id))
    assert code == 1 and "Chờ đọc lại (waiting): attachment store" in " ".join(out.split())
    assert err.count("message(s) wait") == 1  # read once and told once, not once a pass
    [failed] = items_of(rig, raw_id)
    rig.files.root.unlink()  # the operator frees the disk
    assert rig.runner.run_once().processed == 1
    [item] = items_of(rig, raw_id)
    assert (item.id, item.state) == (failed.id, State.PENDING_REVIEW)
    assert [f.filename for f in item.files] == ["cong-van.pdf"]


STRANGER = "vanphong@ubnd-tanphu.demo.bientap.vn"  # an agency the board has not listed yet


def test_a_held_message_is_admitted_once_its_sender_is_listed(
    rig: Rig, bientap: Bientap, tmp_path: Path, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    story = "Huyện Tân Phú tổ chức ngày hội đọc sách cho học sinh tiểu học. " * 12
    rig.drop(
        article_mail(
            STRANGER,
            DEMO_BOX,
            "Ngày hội đọc sách Tân Phú",
            story + "\n\nTác giả: Lê Văn Hùng\nĐơn vị: UBND huyện Tân Phú",
            attachments=[("anh-ngay-hoi.pdf", "application/pdf", PDF)],
        )
    )
    rig.runner.run_once()
    [held] = rig.items()
    assert held.state == State.HELD and rig.sent() == []  # a stranger is not answered
    code, out, _err = bientap("reprocess", "--held")  # nothing changed: held again
    assert code == 1 and f"Vẫn tạm giữ (still held) {held.tracking_code}" in out
    # the operator lists the agency's address, then puts the message back
    listed = tmp_path / "demo.toml"
    listed.write_text(
        (CONFIG / "demo.toml")
        .read_text(encoding="utf-8")
        .replace(
            'domains = ["sgddt.demo.bientap.vn"]',
            f'domains = ["sgddt.demo.bientap.vn"]\naddresses = ["{STRANGER}"]',
        ),
        encoding="utf-8",
    )
    assert (
        cli.main(
            ["--config", str(listed), "--database-url", db_url, "reprocess", held.tracking_code]
        )
        == 0
    )
    assert "Chờ duyệt" in capsys.readouterr().out
    [item] = rig.items()
    assert (item.id, item.tracking_code, item.state) == (
        held.id,
        held.tracking_code,
        "pending_review",
    )
    assert item.agency_id == "so-gddt" and item.duplicate_of is None  # not a copy of itself
    assert [f.filename for f in item.files] == ["anh-ngay-hoi.pdf"]
    rig.runner.run_once()  # the daemon's next pass sends what the item is owed
    assert [m["To"] for m in rig.sent() if STRANGER in m["To"]] == [STRANGER]  # one receipt
    with rig.sessions() as s:
        asked = s.scalars(select(Event).where(Event.kind == "reprocess-requested")).all()
    assert [e.detail["state"] for e in asked] == ["held", "held"]
    assert bientap("audit", "verify")[0] == 0


def test_held_mail_judged_no_submission_is_dismissed_with_the_reason(
    rig: Rig, bientap: Bientap
) -> None:
    rig.drop(article_mail("khuyenmai@quangcao.example", DEMO_BOX, "Giảm giá 50% hôm nay"))
    rig.drop(article_mail(SENDER, DEMO_BOX, "Ngày hội tuyển sinh"))
    rig.runner.run_once()
    spam = next(i for i in rig.items() if i.state == State.HELD)
    news = next(i for i in rig.items() if i.state == State.PENDING_REVIEW)
    code, _out, err = bientap("dismiss", spam.tracking_code, news.tracking_code, "--reason", "x")
    assert code == 1 and f"{news.tracking_code}: không phải thư đang tạm giữ" in err
    assert {i.tracking_code: i.state for i in rig.items()}[spam.tracking_code] == State.HELD
    with pytest.raises(SystemExit):  # a reason is due
        bientap("dismiss", spam.tracking_code, "--reason", " ")
    code, out, _err = bientap("dismiss", spam.tracking_code, "--reason", "thư quảng cáo")
    assert code == 0 and "Đã bỏ qua 1 thư" in out
    shown = bientap.json("show", spam.tracking_code)
    assert shown["state"] == "set_aside" and "thư quảng cáo" in shown["reason"]
    with rig.sessions() as s:
        [event] = s.scalars(select(Event).where(Event.kind == "dismissed")).all()
    assert (event.channel, event.actor, event.detail) == (
        "cli",
        getpass.getuser(),
        {"reason": "thư quảng cáo"},
    )
    assert bientap("reprocess", "--held")[1].startswith("Không có thư lỗi hay tạm giữ")
    rig.runner.run_once()
    assert not [m for m in rig.sent() if "quangcao" in str(m["To"])]  # never answered
    assert bientap("audit", "verify")[0] == 0


# -- what an operator gets wrong ----------------------------------------------------------------
def test_operator_mistakes_get_a_message_and_exit_2_not_a_traceback(
    tmp_path: Path, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    demo = ["--config", str(CONFIG / "demo.toml")]
    open_database(db_url)  # a daemon made it
    closed = "postgresql+psycopg2://bientap:S3cretPW@127.0.0.1:1/bientap"
    assert cli.main([*demo, "--database-url", closed, "status"]) == 2
    err = capsys.readouterr().err
    assert "Không mở được cơ sở dữ liệu" in err and "S3cretPW" not in err
    assert "Traceback" not in err
    # a password with an "@" written as it is: said so, its end never shown as a host name
    at_sign = "postgresql+psycopg2://bientap:S3cret@DongNai-42@127.0.0.1:1/bientap"
    assert cli.main([*demo, "--database-url", at_sign, "status"]) == 2
    err = capsys.readouterr().err
    assert "--database-url: database_url: mật khẩu có ký tự @ chưa mã hóa" in err
    assert "%40" in err and "DongNai-42" not in err and "S3cret" not in err
    assert cli.main([*demo, "--database-url", db_url, "show", "9" * 30]) in (1, 2)
    err = capsys.readouterr().err  # no such item, in the database's words or ours
    assert err.strip() and "Traceback" not in err
    typo = ["--config", str(tmp_path / "cauhinh"), "--database-url", db_url, "list"]
    assert cli.main(typo) == 2  # not an empty list from a database made up for the typo
    said = f"{tmp_path / 'cauhinh'}: không có tệp hay thư mục này (no such file or folder)"
    assert said in capsys.readouterr().err
    (tmp_path / "trong").mkdir()  # a folder with no board file in it
    assert cli.main(["--config", str(tmp_path / "trong"), "--database-url", db_url, "list"]) == 2
    assert "thư mục không có tệp cấu hình ban nào" in capsys.readouterr().err
    on_db = [*demo, "--database-url", db_url]
    assert cli.main([*on_db, "list", "--board", "khong-co"]) == 2  # not an empty list
    assert "không có ban biên tập 'khong-co'" in capsys.readouterr().err
    assert cli.main([*on_db, "list", "--agency", "sgddt"]) == 2  # the id is so-gddt
    assert "--agency: không có cơ quan 'sgddt' (no such agency); có phải so-gddt?" in (
        capsys.readouterr().err
    )
    assert cli.main([*on_db, "list", "--member", "truongban"]) == 2
    assert "có phải truong-ban?" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exited:
        cli.main([*on_db, "list", "--kind", "tinn"])
    assert exited.value.code == 2
    for refused in (
        ["schedule", "1", "25/11/2020 08:00", "--reason", "Trưởng ban hẹn"],  # 2020 for 2026
        ["act", "1", "approve", "--as", "truong-ban", "--reason", " "],  # nothing on record
    ):
        with pytest.raises(SystemExit) as exited:
            cli.main([*on_db, *refused])
        assert exited.value.code == 2
    assert "đã qua" in capsys.readouterr().err
    a_file = tmp_path / "khong-phai-thu-muc"
    a_file.write_text("x")
    backup = [*demo, "--database-url", db_url, "backup", "--dest", str(a_file / "sao-luu")]
    assert cli.main(backup) == 2
    assert "Không thực hiện được" in capsys.readouterr().err


def test_a_command_run_from_another_folder_makes_up_no_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The default database, var/bientap.db, is read from the folder a command runs in:
    run from another (cron, a login shell), bientap says where it looked instead of
    listing a new, empty database, and makes none."""
    home, elsewhere = tmp_path / "bientap", tmp_path / "noi-khac"
    (home / "config").mkdir(parents=True)
    elsewhere.mkdir()
    shutil.copy(CONFIG / "demo.toml", home / "config")
    monkeypatch.delenv("BIENTAP_DATABASE_URL", raising=False)
    monkeypatch.chdir(home)
    open_database("sqlite:///var/bientap.db")  # the daemon's first start, here
    config = ["--config", str(home / "config")]
    assert cli.main([*config, "list"]) == 0
    monkeypatch.chdir(elsewhere)
    for command in (["list"], ["status"], ["backup"]):
        capsys.readouterr()
        assert cli.main([*config, *command]) == 2
        assert f"không có cơ sở dữ liệu {elsewhere / 'var' / 'bientap.db'}" in (
            capsys.readouterr().err
        )
    assert list(elsewhere.iterdir()) == []


# -- config check ----------------------------------------------------------------------------
def test_config_check_names_every_problem_and_no_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["config", "check", "--config", str(CONFIG / "demo.toml")]) == 0
    said = " ".join(capsys.readouterr().out.split())
    assert "Cấu hình hợp lệ" in said
    assert "reply_auth.authserv_ids: trống" in said  # a warning: replies trust their token
    folder = tmp_path / "config"
    folder.mkdir()
    shutil.copy(CONFIG / "khanhhoa.toml", folder / "khanhhoa.toml")
    bad = demo_variant(folder / "demo.toml", ('role = "thu_ky"', 'role = "boss"'))
    monkeypatch.setenv("KHANHHOA_SMTP_PASSWORD", "s3cr3t-value")
    monkeypatch.delenv("KHANHHOA_IMAP_PASSWORD", raising=False)
    monkeypatch.delenv("BIENTAP_LINK_KEY")
    assert cli.main(["--config", str(folder), "config", "check"]) == 2
    out = capsys.readouterr().out
    assert f"{bad}: members[5].role:" in out
    assert f"{folder / 'khanhhoa.toml'}: mailboxes[0].password: " in out
    assert "KHANHHOA_IMAP_PASSWORD" in out and "KHANHHOA_SMTP_PASSWORD" not in out
    assert "BIENTAP_LINK_KEY" in out
    assert "s3cr3t-value" not in out
    assert "Cấu hình có 3 lỗi" in out


def test_a_message_file_that_cannot_be_read_is_shown_kept_failed_and_reprocessed(
    tmp_path: Path, db_url: str, bientap: Bientap, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two message files in the inbox cannot be opened (links to themselves: the tests run
    as root): ``status`` says why while they are tried again, then they are failed items.
    ``reprocess`` reads the one put right into its item, and says why the other, deleted
    from the inbox meanwhile, cannot be."""
    monkeypatch.setenv("BIENTAP_DATA_DIR", str(tmp_path))
    inbox = tmp_path / "demo" / "inbox"  # where the commands' configuration reads
    rig = make_rig(tmp_path, db_url, source=MaildirSource("hop-thu-chinh", inbox))
    rig.runner.clock = clock = Clock()
    broken = [inbox / "new" / f"1700000000.M{n}P1Q{n}.broken" for n in (1, 2)]
    for path in broken:
        path.symlink_to(path.name)
    assert rig.runner.run_once().recorded == 2
    [box] = bientap.json("status")["mailboxes"]
    assert "không trả được thư" in box["last_error"] and "symbolic links" in box["last_error"]
    for attempt in range(1, MAX_ATTEMPTS):
        clock.later(retry_delay(attempt))
        rig.runner.run_once()
    failed = bientap.json("list", "--state", "failed")
    assert len(failed) == 2 and all("không trả được thư" in i["reason"] for i in failed)
    broken[0].unlink()  # put right
    broken[0].write_bytes(with_pdf("Ngày hội tuyển sinh"))
    broken[1].unlink()  # and the other deleted
    code, out, err = bientap("reprocess", "--failed")
    assert code == 1, err
    assert "Chờ duyệt" in out and "Không đọc được" in out
    assert "thư không còn ở chỗ cũ trong hộp thư" in " ".join(out.split())
    read, gone = rig.items()  # each into its own item
    assert {read.tracking_code, gone.tracking_code} == {i["tracking_code"] for i in failed}
    assert read.state == State.PENDING_REVIEW
    assert [f.filename for f in read.files] == ["cong-van.pdf"]
    assert gone.state == State.FAILED and "không còn ở chỗ cũ" in (gone.reason or "")
    assert rig.runner.run_once().filed == 1
    assert list((inbox / "new").iterdir()) == []


# -- the terminal an operator has --------------------------------------------------------------
def _bientap_process(db_url: str, *args: str, **popen: Any) -> subprocess.Popen[bytes]:
    """``bientap --config config/demo.toml --database-url …`` as its own process."""
    command = [sys.executable, "-m", "pipeline.cli", "--config", str(CONFIG / "demo.toml")]
    return subprocess.Popen(
        [*command, "--database-url", db_url, *args],
        stderr=subprocess.PIPE,
        **{"stdout": subprocess.PIPE, **popen},
    )


def test_output_reaches_any_terminal_and_a_reader_that_stops_reading(tmp_path: Path) -> None:
    """A locale that cannot write Vietnamese (LANG=C without Python's UTF-8 mode) gets UTF-8,
    not a traceback at the first diacritic; ``| head -1`` and a closed stdout (``>&-``)
    are no error to tell."""
    db_url = f"sqlite:///{tmp_path}/bientap.db"
    demo(make_rig(tmp_path, db_url))
    ascii_locale = {**os.environ, "LC_ALL": "C", "LANG": "C", "PYTHONUTF8": "0"}
    for args in (["list"], ["status"], ["audit", "verify"]):
        run = _bientap_process(db_url, *args, env=ascii_locale)
        out, err = run.communicate(timeout=120)
        assert run.returncode == 0, err.decode("utf-8", "replace")
        assert "Chờ duyệt" in out.decode("utf-8") or "toàn vẹn" in out.decode("utf-8")
    run = _bientap_process(db_url, "list", "--json", env=ascii_locale)
    out, _err = run.communicate(timeout=120)
    assert json.loads(out.decode("utf-8"))[0]["state_label"] == "Không phải bài gửi"
    for args in (["list", "--json"], ["show", "1", "--json"], ["audit", "verify"], ["list"]):
        run = _bientap_process(db_url, *args)
        assert run.stdout is not None
        run.stdout.close()  # the reader is gone before the answer is written
        _out, err = run.communicate(timeout=120)
        assert (run.returncode, err.decode()) == (1, ""), args
    run = _bientap_process(  # stdout closed when the command starts
        db_url, "list", stdout=None, preexec_fn=lambda: os.close(1)
    )
    _out, err = run.communicate(timeout=120)
    assert (run.returncode, err.decode()) == (0, "")


def test_ctrl_c_stops_a_command_with_a_line_not_a_traceback(
    tmp_path: Path, db_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    open_database(db_url)
    monkeypatch.setenv("BIENTAP_DATA_DIR", str(tmp_path))

    def interrupted(*_args: Any) -> Path:
        raise KeyboardInterrupt

    monkeypatch.setattr(backup, "create", interrupted)
    demo_config = ["--config", str(CONFIG / "demo.toml"), "--database-url", db_url]
    try:
        code = cli.main([*demo_config, "backup", "--dest", str(tmp_path / "sao-luu")])
    except KeyboardInterrupt:
        pytest.fail("Ctrl-C reached the operator as a traceback")
    assert code == 130
    assert capsys.readouterr().err == "Đã dừng (interrupted by Ctrl-C)\n"


def test_a_database_url_as_operators_write_it_or_a_file_that_is_none(
    tmp_path: Path, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """``postgresql://`` (no driver named) opens with bientap's driver; a SQLite URL naming
    a file that is no database (a board file) is refused with a message, exit 2."""
    demo_config = ["--config", str(CONFIG / "demo.toml")]
    open_database(db_url)
    plain = db_url.replace("postgresql+psycopg2://", "postgresql://")
    assert cli.main([*demo_config, "--database-url", plain, "list", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []
    not_one = Path(shutil.copy(CONFIG / "demo.toml", tmp_path / "demo.toml"))
    assert cli.main([*demo_config, "--database-url", f"sqlite:///{not_one}", "list"]) == 2
    err = capsys.readouterr().err
    assert f"{not_one} không phải cơ sở dữ liệu SQLite" in err and "Traceback" not in err


def test_days_are_read_as_staff_write_them(
    rig: Rig, bientap: Bientap, capsys: pytest.CaptureFixture[str]
) -> None:
    demo(rig)
    today = datetime.now(VIETNAM).date()
    every = bientap.json("list")
    assert bientap.json("list", "--since", f"{today:%d/%m/%Y}") == every
    assert bientap.json("list", "--until", f"{today - timedelta(days=1):%d/%m/%Y}") == []
    for option, value, said in (
        ("--since", "0001-01-01", "năm phải từ 1900 đến 9998"),  # past what a time can hold
        ("--until", "9999-12-31", "năm phải từ 1900 đến 9998"),
        ("--since", "31/02/2026", "không phải ngày, ví dụ 25/11/2026"),
        ("--limit", "-1", "không phải số nguyên dương"),  # all, or the database's error
        ("--limit", "0", "không phải số nguyên dương"),
    ):
        with pytest.raises(SystemExit) as exited:
            bientap("list", option, value)
        assert exited.value.code == 2
        err = capsys.readouterr().err
        assert said in err and "Traceback" not in err, (option, value)


def test_a_decision_recorded_by_hand_says_what_it_lacks(
    rig: Rig, bientap: Bientap, capsys: pytest.CaptureFixture[str]
) -> None:
    """A rejection or a request for changes without its text (the sender is told it), or in
    the name of a member the board does not have, is refused before anything changes."""
    demo(rig)
    [item] = [i for i in rig.items() if i.state == State.PENDING_REVIEW and i.legacy_encoding]
    before = bientap.json("show", item.tracking_code)
    for verb in ("reject", "changes"):
        for text in ([], ["--text", " "]):
            code, _out, err = bientap("act", item.tracking_code, verb, "--as", "uv-giao-duc",
                                      "--reason", "điện thoại", *text)  # fmt: skip
            assert code == 2 and f"act {verb}: cần --text" in err and "Traceback" not in err
    code, _out, err = bientap("act", str(item.id), "approve", "--as", "uvgiaoduc", "--reason", "x")
    assert code == 2 and "--as: không có thành viên 'uvgiaoduc'" in err
    assert "có phải uv-giao-duc?" in err
    assert bientap.json("show", item.tracking_code) == before
    code, _out, err = bientap("dismiss", "999", "--reason", "thư rác")
    assert code == 1 and "999: không có bài này (no such item)" in err
