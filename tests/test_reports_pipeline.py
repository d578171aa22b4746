"""Reports on items that went through the pipeline: mailed in, reviewed, published on the
static site and withdrawn or corrected there, each step at a time set by the test.

Every expected figure was worked out by hand from the steps written next to it.
"""

from __future__ import annotations

import tomllib
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import openpyxl
import pytest
import tomli_w
from sqlalchemy import select

from connectors.factory import cms
from pipeline import publishing, review
from pipeline.cli import parser
from pipeline.commands import Verb
from pipeline.config import Board
from pipeline.models import ReviewTask, State, Submission, TaskState
from pipeline.publishing import Publisher
from pipeline.review import Decision, Desk, Evidence
from pipeline.samples import article_mail
from tests.helpers import CONFIG, DEMO_BOX, LINKS, Clock, Rig, make_rig

VN = ZoneInfo("Asia/Ho_Chi_Minh")
GD_SENDER = ("chau.lm@sgddt.demo.bientap.vn", "Lê Minh Châu")
YT_SENDER = ("dung.pt@syt.demo.bientap.vn", "Phạm Thu Dung")
RATES: dict[str, Any] = {
    # per item: tin 150.000, bài 300.000, ảnh 100.000, video 200.000, văn bản 50.000
    "royalties": {
        "unit_vnd": 100_000,
        "coefficients": {"tin": 1.5, "bai": 3, "anh": 1, "video": 2, "van_ban": 0.5},
    }
}
HOA = "Nguyễn Thị Hoa"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=VN)


def news(topic: str, author: str | None) -> str:
    """A short piece of news on ``topic`` (a phrase naming the field), with its byline."""
    text = (
        f"Sáng nay, Sở tổ chức hội nghị tổng kết {topic} năm 2026, với sự tham dự của "
        "lãnh đạo các đơn vị trên địa bàn tỉnh và nhiều đại biểu.\n\n"
    )
    return text + (f"Tin, ảnh: {author}\n" if author else "")


class Newsroom:
    """The demo board's pipeline, on a clock the test sets: mail in, review, publish."""

    def __init__(self, tmp: Path, db_url: str, reports: dict[str, Any]) -> None:
        with (CONFIG / "demo.toml").open("rb") as fh:
            data = tomllib.load(fh)
        data["publish"] = {"static": {"path": str(tmp / "site")}}
        data["reports"] = reports
        self.board = Board.model_validate(data)
        self.clock = Clock()
        self.rig: Rig = make_rig(tmp, db_url, self.board)
        self.rig.runner.clock = self.clock
        site = cms(self.board.publish, tmp)
        self.publisher = Publisher(
            self.board, self.rig.sessions, site, self.rig.files, LINKS, clock=self.clock
        )
        self.config = tmp / "config"
        self.config.mkdir()
        (self.config / "demo.toml").write_text(tomli_w.dumps(data), encoding="utf-8")
        (self.config / "deployment.toml").write_text(
            tomli_w.dumps({"database_url": db_url, "data_dir": str(tmp / "var")})
        )

    def mail(self, when: str, sender: tuple[str, str], title: str, body: str) -> int:
        self.clock.now = at(when)
        self.rig.drop(article_mail(sender[0], DEMO_BOX, title, body, sender_name=sender[1]))
        self.rig.runner.run_once()
        return self.rig.items()[-1].id

    def decide(self, when: str, item_id: int, decision: Decision) -> None:
        """Every open seat of the item decides ``decision``, one step after another."""
        self.clock.now = at(when)
        for _ in range(6):
            with self.rig.sessions.begin() as s:
                task = s.scalars(
                    select(ReviewTask)
                    .where(
                        ReviewTask.submission_id == item_id,
                        ReviewTask.state == TaskState.PENDING,
                    )
                    .order_by(ReviewTask.id)
                ).first()
                item = s.get(Submission, item_id)
                assert item is not None
                if task is None or item.state not in (State.PENDING_REVIEW, State.PUBLISHED):
                    return
                d = Desk(self.board, s, LINKS, self.rig.files, self.clock.now)
                seen = item.content_hash or ""
                review.act(d, task.id, task.member_id, decision, seen, Evidence("cli"))
            if decision.verb is not Verb.APPROVE or decision.edit is not None:
                return

    def publish(self, when: str) -> None:
        self.clock.now = at(when)
        self.publisher.run_once()

    def live(self, arrived: str, sender: tuple[str, str], title: str, body: str, at_: str) -> int:
        """An item mailed at ``arrived``, approved and published at ``at_``."""
        item = self.mail(arrived, sender, title, body)
        self.decide(at_, item, Decision(Verb.APPROVE))
        self.publish(at_)
        return item

    def report(self, *argv: str) -> int:
        args = parser().parse_args(["--config", str(self.config), "report", *argv])
        code: int = args.handler(args)
        return code


@pytest.fixture()
def room(tmp_path: Path, db_url: str) -> Newsroom:
    return Newsroom(tmp_path, db_url, RATES)


def rows(path: Path, sheet: str) -> list[tuple[Any, ...]]:
    book = openpyxl.load_workbook(path)
    return [tuple(r) for r in book[sheet].iter_rows(values_only=True)]


def test_an_author_is_one_line_whatever_invisible_characters_her_byline_carries(
    room: Newsroom, tmp_path: Path
) -> None:
    # The same person, typed three ways: plainly; with a bell and a soft hyphen pasted in;
    # behind a byte-order mark and followed by a zero-width space.
    bylines = (HOA, "Nguyễn Thị\x07 Hoa\u00ad", "\ufeffNguyễn Thị Hoa\u200b")
    for n, byline in enumerate(bylines):
        room.live(
            f"2026-03-0{n + 2} 09:00",
            GD_SENDER,
            f"Trường học thứ {n + 1} tổ chức ngày hội tuyển sinh",
            news("công tác tuyển sinh của các trường học", byline),
            f"2026-03-0{n + 2} 15:00",
        )
    out = tmp_path / "out"
    assert room.report("royalty", "--period", "2026-03", "--out", str(out)) == 0

    # One line, three news items at 150.000 đồng each.
    assert rows(out / "nhuan-but-demo-2026-03.xlsx", "Theo tác giả")[1:] == [
        (1, HOA, "Sở Giáo dục và Đào tạo", 3, 0, 0, 0, 0, 3, 450_000),
        ("Tổng cộng", None, None, 3, 0, 0, 0, 0, 3, 450_000),
    ]
    detail = rows(out / "nhuan-but-demo-2026-03.xlsx", "Chi tiết")
    assert [r[4] for r in detail[1:-1]] == [HOA, HOA, HOA]


def test_a_board_without_rates_is_told_so_and_its_statement_not_approved(
    tmp_path: Path, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    room = Newsroom(tmp_path, db_url, {})  # no [reports.royalties]: the rates are 0
    room.live(
        "2026-03-02 09:00",
        GD_SENDER,
        "Trường học tổ chức ngày hội tuyển sinh",
        news("công tác tuyển sinh của các trường học", HOA),
        "2026-03-02 15:00",
    )
    out = tmp_path / "out"
    assert room.report("royalty", "--period", "2026-03", "--out", str(out)) == 0
    printed = capsys.readouterr().out
    assert "1 tin, bài; tổng cộng 0 ₫" in printed
    assert "  Chưa đặt đơn giá nhuận bút: mọi khoản là 0 ₫ (đặt unit_vnd" in printed
    about = dict(rows(out / "nhuan-but-demo-2026-03.xlsx", "Thông tin"))
    assert str(about["Đơn giá"]).startswith("Chưa đặt đơn giá nhuận bút")

    approve = ("approve-royalty", "--period", "2026-03", "--as", "truong-ban", "--reason", "ok")
    assert room.report(*approve) == 1
    assert "chưa đặt đơn giá nhuận bút" in capsys.readouterr().err


def test_an_article_published_again_is_marked_for_the_accountant(
    room: Newsroom, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    title = "Trường học tổ chức ngày hội tuyển sinh"
    text = news("công tác tuyển sinh của các trường học", HOA)
    first = room.live("2026-03-02 09:00", GD_SENDER, title, text, "2026-03-02 15:00")
    # A month later the school mails the same article again; it is approved again.
    again = room.live("2026-04-06 09:00", GD_SENDER, title, text, "2026-04-06 15:00")
    codes = {i.id: i.tracking_code for i in room.rig.items()}
    out = tmp_path / "out"
    assert room.report("royalty", "--period", "2026-03", "--out", str(out)) == 0
    assert room.report("royalty", "--period", "2026-Q2", "--out", str(out)) == 0
    printed = capsys.readouterr().out
    assert printed.count("trùng nội dung") == 1
    assert "  1 tin, bài trùng nội dung với tin, bài đã đăng trước (xem cột Ghi chú" in printed

    assert rows(out / "nhuan-but-demo-2026-03.xlsx", "Chi tiết")[1][9] is None
    detail = rows(out / "nhuan-but-demo-2026-Q2.xlsx", "Chi tiết")
    assert (detail[1][1], detail[1][8]) == (codes[again], 150_000)  # still on the statement
    assert detail[1][9] == f"Trùng nội dung với {codes[first]} (đăng ngày 02/03/2026)"
    about = dict(rows(out / "nhuan-but-demo-2026-Q2.xlsx", "Thông tin"))
    assert str(about["Trùng nội dung"]).startswith("1 tin, bài trùng nội dung")


def test_month_ends_at_midnight_in_vietnam_and_each_item_counts_once(
    room: Newsroom, tmp_path: Path
) -> None:
    yt = "công tác khám chữa bệnh tại bệnh viện"
    # a: mailed 31/1 20:00, approved and live 31/1 23:30 (16:30 UTC): January.
    a = room.live(
        "2026-01-31 20:00",
        GD_SENDER,
        "Tin a về tuyển sinh",
        news("tuyển sinh", HOA),
        "2026-01-31 23:30",
    )
    # b: mailed 31/1 23:59:59, live 1/2 00:00: received in January, published in February.
    room.live(
        "2026-01-31 23:59:59",
        GD_SENDER,
        "Tin b về học sinh",
        news("học sinh", HOA),
        "2026-02-01 00:00",
    )
    # c: live 12/1, corrected on 5/2 (the portal updated again): January only.
    c = room.live(
        "2026-01-11 09:00",
        YT_SENDER,
        "Tin c về bệnh viện",
        news(yt, "Trần Văn Khoa"),
        "2026-01-12 09:00",
    )
    item = next(i for i in room.rig.items() if i.id == c)
    edit = (item.title + " (đính chính)", item.body_html.replace("2026", "2027"))
    room.decide("2026-02-05 09:00", c, Decision(Verb.APPROVE, "Đính chính", edit=edit))
    room.publish("2026-02-05 09:10")
    # a is withdrawn on 3/2: still January's, marked.
    room.decide("2026-02-03 09:00", a, Decision(Verb.WITHDRAW, "Số liệu chưa xác nhận"))
    room.publish("2026-02-03 09:10")
    # d: mailed 30/1, refused 2/2.
    d = room.mail("2026-01-30 09:00", YT_SENDER, "Tin d về bệnh viện", news(yt, "Trần Văn Khoa"))
    room.decide("2026-02-02 09:00", d, Decision(Verb.REJECT, "Trùng nội dung đã đăng"))

    out = tmp_path / "out"
    for month in ("2026-01", "2026-02"):
        assert room.report("royalty", "--period", month, "--out", str(out)) == 0
        assert room.report("activity", "--period", month, "--out", str(out)) == 0
    jan = rows(out / "nhuan-but-demo-2026-01.xlsx", "Chi tiết")
    assert [(r[3], r[4], r[8], r[9]) for r in jan[1:]] == [
        ("Tin", "Trần Văn Khoa", 150_000, None),  # c
        ("Tin", HOA, 150_000, "Đã gỡ khỏi cổng"),  # a
        (None, None, 300_000, None),  # the totals row
    ]
    assert jan[2][6] == datetime(2026, 1, 31, 23, 30)  # the board's wall clock
    feb = rows(out / "nhuan-but-demo-2026-02.xlsx", "Chi tiết")
    assert [(r[4], r[6], r[8]) for r in feb[1:-1]] == [(HOA, datetime(2026, 2, 1, 0, 0), 150_000)]
    # Received, published, refused; on time: a, b, c were published within their 2 days.
    assert rows(out / "bao-cao-hoat-dong-demo-2026-01.xlsx", "Theo cơ quan")[1:] == [
        ("Sở Giáo dục và Đào tạo", 2, 1, 0, 1.0),  # a b received; a published
        ("Sở Y tế", 2, 1, 0, 1.0),  # c d received; c published
        ("Sở Tư pháp", 0, 0, 0, None),
        ("Tổng cộng", 4, 2, 0, 1.0),
    ]
    assert rows(out / "bao-cao-hoat-dong-demo-2026-02.xlsx", "Theo cơ quan")[1:] == [
        ("Sở Giáo dục và Đào tạo", 0, 1, 0, 1.0),  # b published
        ("Sở Y tế", 0, 0, 1, None),  # d refused
        ("Sở Tư pháp", 0, 0, 0, None),
        ("Tổng cộng", 0, 1, 1, 1.0),
    ]


def test_an_item_the_board_scheduled_past_its_deadline_is_on_time_when_live_then(
    room: Newsroom, tmp_path: Path
) -> None:
    # Both news items are due two days after they arrive (Monday 2/3 09:00 → 4/3 09:00).
    text = news("công tác tuyển sinh của các trường học", HOA)
    waited = room.mail("2026-03-02 09:00", GD_SENDER, "Ngày hội tuyển sinh", text)
    # The head sets the first to go live on Saturday 7/3 08:00, the day of the event
    # (bientap schedule), on Tuesday, before its deadline.
    room.clock.now = at("2026-03-03 10:00")
    with room.rig.sessions.begin() as s:
        item = s.get(Submission, waited)
        assert item is not None
        d = Desk(room.board, s, LINKS, room.rig.files, room.clock.now)
        publishing.schedule(d, item, at("2026-03-07 08:00"), "truong-ban", "cli", "đăng đúng ngày")
    room.decide("2026-03-03 11:00", waited, Decision(Verb.APPROVE))
    room.publish("2026-03-07 08:00")
    # The second was merely left waiting, and went live on Saturday too: late.
    room.live("2026-03-02 09:00", GD_SENDER, "Khai giảng lớp học", text, "2026-03-07 08:00")

    out = tmp_path / "out"
    assert room.report("activity", "--period", "2026-03", "--out", str(out)) == 0
    tally = rows(out / "bao-cao-hoat-dong-demo-2026-03.xlsx", "Đúng hạn")[1]
    assert tally[:6] == ("Tin", 2, 2, 1, 1, 0.5)  # published, timed, on time, late, share
