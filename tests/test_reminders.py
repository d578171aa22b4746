"""Deadlines at work, on a fixed clock around Tết 2026: an official document arriving the
Friday before the holiday is due on the second working day after it, the reviewer is
reminded before that, and the seat is escalated once it is overdue."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from email.message import EmailMessage
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from pipeline import reminders, review
from pipeline.commands import Verb
from pipeline.config import Board, Member, Role, load_board
from pipeline.models import Event, ReviewTask, Submission, TaskState
from pipeline.review import Decision, Desk, Evidence
from pipeline.samples import NEWS_BODY, article_mail
from tests.helpers import CONFIG, DEMO_BOX, Clock, Rig, make_rig

VN = ZoneInfo("Asia/Ho_Chi_Minh")
SENDER = "nhung.ltt@sgddt.demo.bientap.vn"
ARRIVED = datetime(2026, 2, 13, 10, 0, tzinfo=VN)  # Friday; Tết holidays 16–20 Feb
CLI = Evidence("cli", {"operator": "test"})


def days(first: date, last: date) -> list[date]:
    return [first + timedelta(n) for n in range((last - first).days + 1)]


def sweep(rig: Rig, now: datetime) -> reminders.SweepResult:
    with rig.sessions.begin() as s:
        return reminders.sweep(Desk(rig.board, s, rig.runner.links, rig.files, now))


def mails_to(rig: Rig, address: str, marker: str) -> int:
    return sum(1 for m in rig.sent() if address in str(m["To"]) and marker in str(m["Subject"]))


def approval_reply(member: Member, request: EmailMessage) -> bytes:
    """``member``'s «Duyệt», answering ``request`` from his mail client."""
    return article_mail(
        member.email,
        str(request["Reply-To"]),
        "Re: " + str(request["Subject"]),
        "Duyệt",
        sender_name=member.name,
        extra_headers={"In-Reply-To": str(request["Message-ID"])},
    )


def kinds(rig: Rig) -> list[str]:
    with rig.sessions() as s:
        return list(s.scalars(select(Event.kind).order_by(Event.id)))


def test_deadline_reminder_and_escalation_around_tet(tmp_path: Path, db_url: str) -> None:
    rig = make_rig(tmp_path, db_url)
    rig.runner.clock = lambda: ARRIVED
    rig.drop(article_mail(SENDER, DEMO_BOX, "[Văn bản] [GD] Kế hoạch tuyển sinh lớp 10", NEWS_BODY))
    rig.runner.run_once()
    [item] = rig.items()
    assert item.kind == "van_ban"
    # 2 working days: Mon 16 – Fri 20 Feb are Tết, 21–22 a weekend: Mon 23, Tue 24.
    assert item.due_at is not None
    assert item.due_at.astimezone(VN) == datetime(2026, 2, 24, 17, 0, tzinfo=VN)
    reviewer = rig.board.member("uv-giao-duc")

    # During Tết and until shortly before the deadline: nothing to send.
    for now in (datetime(2026, 2, 17, 9, 0, tzinfo=VN), datetime(2026, 2, 24, 12, 0, tzinfo=VN)):
        assert sweep(rig, now) == reminders.SweepResult()
    assert mails_to(rig, reviewer.email, "[Nhắc duyệt]") == 0

    # Four hours before the deadline: one reminder, and only one.
    assert sweep(rig, datetime(2026, 2, 24, 13, 5, tzinfo=VN)).reminded == 1
    assert sweep(rig, datetime(2026, 2, 24, 15, 0, tzinfo=VN)).reminded == 0
    rig.runner.deliver()
    assert mails_to(rig, reviewer.email, "[Nhắc duyệt]") == 1

    # Once overdue, the seat goes up to the standing deputy, once.
    assert sweep(rig, datetime(2026, 2, 24, 16, 59, tzinfo=VN)).escalated == 0
    assert sweep(rig, datetime(2026, 2, 24, 17, 30, tzinfo=VN)).escalated == 1
    assert sweep(rig, datetime(2026, 2, 25, 10, 0, tzinfo=VN)).escalated == 0
    rig.runner.deliver()
    deputy = rig.board.member("pho-ban-tt")
    assert mails_to(rig, deputy.email, item.tracking_code) == 1
    # why he is asked comes first: it read «[Duyệt tin bài]», as a routine request does
    assert mails_to(rig, deputy.email, "[Quá hạn, đề nghị duyệt thay]") == 1
    with rig.sessions() as s:
        [task] = s.scalars(select(ReviewTask).where(ReviewTask.state == TaskState.PENDING)).all()
        assert task.member_id == reviewer.id and task.escalated_to == deputy.id
    assert kinds(rig).count("reminded") == 1 and kinds(rig).count("escalated") == 1


def test_daily_digest_for_a_reviewer_with_several_items(tmp_path: Path, db_url: str) -> None:
    rig = make_rig(tmp_path, db_url)
    rig.runner.clock = lambda: ARRIVED
    for n in range(3):
        rig.drop(article_mail(SENDER, DEMO_BOX, f"[GD] Tin số {n + 1} về tuyển sinh", NEWS_BODY))
    rig.runner.run_once()
    with rig.sessions() as s:
        titles = s.scalars(select(Submission.title)).all()
    assert len(titles) == 3
    early = datetime(2026, 2, 13, 7, 0, tzinfo=VN)
    assert sweep(rig, early).digests == 0  # before the board's digest hour
    morning = datetime(2026, 2, 13, 8, 15, tzinfo=VN)
    assert sweep(rig, morning).digests == 1
    assert sweep(rig, datetime(2026, 2, 13, 16, 0, tzinfo=VN)).digests == 0  # once a day
    rig.runner.deliver()
    reviewer = rig.board.member("uv-giao-duc")
    [digest] = [
        m
        for m in rig.sent()
        if reviewer.email in str(m["To"]) and "chờ" in str(m["Subject"]).lower()
    ]
    text = digest.get_body(("plain",))
    assert text is not None
    body = text.get_content()
    assert all(t in body for t in titles)
    # none on the weekend and the Tết days after it; the next working day, one
    for day in days(date(2026, 2, 14), date(2026, 2, 22)):
        assert sweep(rig, datetime.combine(day, time(8, 15), VN)).digests == 0, day
    assert sweep(rig, datetime(2026, 2, 23, 8, 15, tzinfo=VN)).digests == 1


def test_the_member_a_seat_was_escalated_to_may_decide_by_reply(
    tmp_path: Path, db_url: str
) -> None:
    rig = make_rig(tmp_path, db_url)
    rig.runner.clock = lambda: ARRIVED
    rig.drop(article_mail(SENDER, DEMO_BOX, "[Văn bản] [GD] Kế hoạch tuyển sinh lớp 10", NEWS_BODY))
    rig.runner.run_once()
    assert sweep(rig, datetime(2026, 2, 25, 9, 0, tzinfo=VN)).escalated == 1
    rig.runner.deliver()
    deputy = rig.board.member("pho-ban-tt")
    [request] = [m for m in rig.sent() if deputy.email in str(m["To"])]
    rig.drop(approval_reply(deputy, request))
    rig.runner.run_once()
    with rig.sessions() as s:
        ev = s.scalars(select(Event).where(Event.kind == "approve")).one()
        assert (ev.actor, ev.detail["capacity"]) == (deputy.id, "escalated")
        open_seats = s.scalars(select(ReviewTask).where(ReviewTask.state == TaskState.PENDING))
        assert [t.step_id for t in open_seats] == ["pho-truong-ban-thuong-truc"]


STRANGER = "banbientap.tanphu@gmail.com"  # a district's clerk, from an address not listed


def test_the_secretary_is_told_once_a_working_day_of_mail_held_from_unknown_senders(
    tmp_path: Path, db_url: str
) -> None:
    rig = make_rig(tmp_path, db_url)
    rig.runner.clock = lambda: ARRIVED
    rig.drop(article_mail(SENDER, DEMO_BOX, "[GD] Tin tuyển sinh", NEWS_BODY))
    hostile = "Hội thi <img src=x onerror=alert(1)> văn nghệ"
    rig.drop(article_mail(STRANGER, DEMO_BOX, hostile, NEWS_BODY))
    rig.runner.run_once()
    [held] = [i for i in rig.items() if i.state == "held"]
    assert sweep(rig, datetime(2026, 2, 13, 7, 0, tzinfo=VN)).held == 0  # before 8:00
    assert sweep(rig, datetime(2026, 2, 13, 16, 0, tzinfo=VN)).held == 1
    assert sweep(rig, datetime(2026, 2, 13, 17, 0, tzinfo=VN)).held == 0  # once a day
    rig.runner.deliver()
    secretary = rig.board.member("thu-ky")
    [notice] = [m for m in rig.sent() if "[Thư tạm giữ]" in str(m["Subject"])]
    assert secretary.email in str(notice["To"])
    text = notice.get_body(("plain",))
    html = notice.get_body(("html",))
    assert text is not None and html is not None
    body = " ".join(text.get_content().split())
    assert held.tracking_code in body and STRANGER in body and hostile in body
    assert "bientap reprocess" in body and "tổng cộng 1 thư đang tạm giữ" in body
    assert "<img" not in html.get_content()  # the sender's markup is text
    assert not [m for m in rig.sent() if STRANGER in str(m["To"])]  # a stranger: no answer
    assert sweep(rig, datetime(2026, 2, 14, 9, 0, tzinfo=VN)).held == 0  # a Saturday
    # the next day's new ones are listed alone, the count covers all; one that arrived
    # before the first notice but was read after it (a backlog) is not passed over
    second_day = datetime(2026, 2, 14, 10, 0, tzinfo=VN)
    for arrived, title in ((second_day, "Tin thứ hai"), (ARRIVED, "Tin cũ")):
        rig.runner.clock = clock = Clock()
        clock.now = arrived
        rig.drop(article_mail(STRANGER, DEMO_BOX, f"{title} từ Tân Phú", NEWS_BODY))
        rig.runner.run_once()
    assert sweep(rig, datetime(2026, 2, 15, 9, 0, tzinfo=VN)).held == 0  # Sunday: Monday's
    assert sweep(rig, datetime(2026, 2, 23, 9, 0, tzinfo=VN)).held == 1  # Tết over
    assert sweep(rig, datetime(2026, 2, 24, 9, 0, tzinfo=VN)).held == 0  # nothing new
    rig.runner.deliver()
    second = [m for m in rig.sent() if "[Thư tạm giữ]" in str(m["Subject"])][-1]
    part = second.get_body(("plain",))
    assert part is not None
    body = " ".join(part.get_content().split())
    assert "Tin thứ hai từ Tân Phú" in body and "Tin cũ từ Tân Phú" in body
    assert held.tracking_code not in body and "tổng cộng 3 thư đang tạm giữ" in body


# The demo board's new education member, once uv-giao-duc has left.
SUCCESSOR = Member(
    id="uv-giao-duc-moi",
    name="Đỗ Thị Hạnh",
    email="hanh.dt@sgddt.demo.bientap.vn",
    role=Role.THANH_VIEN,
)


def replace(rig: Rig, old: str, new: Member) -> None:
    """The daemon restarted on the board's file after ``old`` left: ``new`` holds his
    role and fields."""
    data = rig.board.model_dump(exclude={"source_file"})
    gone = next(m for m in data["members"] if m["id"] == old)
    data["members"] = [m for m in data["members"] if m["id"] != old]
    data["members"].append(new.model_dump() | {"role": gone["role"], "fields": gone["fields"]})
    rig.board = rig.runner.board = Board.model_validate(data)


def waiting_seats(rig: Rig, item_id: int) -> list[tuple[str, str]]:
    """(step, member) of the item's seats waiting for an answer."""
    with rig.sessions() as s:
        rows = s.execute(
            select(ReviewTask.step_id, ReviewTask.member_id).where(
                ReviewTask.submission_id == item_id, ReviewTask.state == TaskState.PENDING
            )
        )
        return [(step, member) for step, member in rows]


def decide(
    rig: Rig, member_id: str, now: datetime, item_id: int | None = None, verb: Verb = Verb.APPROVE
) -> None:
    """``member_id`` decides ``verb`` (approves) in the seat he holds (on ``item_id``)."""
    with rig.sessions.begin() as s:
        query = select(ReviewTask).where(
            ReviewTask.member_id == member_id, ReviewTask.state == TaskState.PENDING
        )
        if item_id is not None:
            query = query.where(ReviewTask.submission_id == item_id)
        [task] = s.scalars(query)
        item = s.get(Submission, task.submission_id)
        assert item is not None
        desk = Desk(rig.board, s, rig.runner.links, rig.files, now)
        decision = Decision(verb, None if verb is Verb.APPROVE else "Chưa phù hợp")
        review.act(desk, task.id, member_id, decision, item.content_hash or "", CLI)


def test_a_seat_of_a_member_taken_off_the_roster_goes_to_his_successor(
    tmp_path: Path, db_url: str
) -> None:
    rig = make_rig(tmp_path, db_url)
    rig.runner.clock = lambda: ARRIVED
    rig.drop(article_mail(SENDER, DEMO_BOX, "[Văn bản] [GD] Kế hoạch tuyển sinh lớp 10", NEWS_BODY))
    rig.drop(article_mail(SENDER, DEMO_BOX, "[Văn bản] [GD] Lịch thi học sinh giỏi", NEWS_BODY))
    rig.runner.run_once()
    waiting, passed = rig.items()
    decide(rig, "uv-giao-duc", ARRIVED, passed.id)  # one before he left; the other waits
    replace(rig, "uv-giao-duc", SUCCESSOR)

    # The daemon restarted on the new file: at the reminder's time, his waiting seat is
    # his successor's, and the seat after his decision is reminded as usual.
    result = sweep(rig, datetime(2026, 2, 24, 13, 5, tzinfo=VN))
    assert (result.reseated, result.reminded) == (1, 1)
    assert sweep(rig, datetime(2026, 2, 24, 13, 10, tzinfo=VN)) == reminders.SweepResult()
    rig.runner.deliver()
    assert mails_to(rig, SUCCESSOR.email, waiting.tracking_code) == 1
    [reminder] = [m for m in rig.sent() if "[Nhắc duyệt]" in str(m["Subject"])]
    assert rig.board.member("pho-ban-tt").email in str(reminder["To"])
    assert passed.tracking_code in str(reminder["Subject"])
    assert waiting_seats(rig, waiting.id) == [("uy-vien-linh-vuc", SUCCESSOR.id)]
    decide(rig, SUCCESSOR.id, datetime(2026, 2, 24, 14, 0, tzinfo=VN))  # she may decide
    assert waiting_seats(rig, waiting.id) == [("pho-truong-ban-thuong-truc", "pho-ban-tt")]


def test_a_reviewer_asked_late_is_not_reminded_at_once_nor_escalated_before_he_could_answer(
    tmp_path: Path, db_url: str
) -> None:
    rig = make_rig(tmp_path, db_url)
    rig.runner.clock = lambda: ARRIVED
    rig.drop(article_mail(SENDER, DEMO_BOX, "[Văn bản] [GD] Kế hoạch tuyển sinh lớp 10", NEWS_BODY))
    rig.runner.run_once()
    [item] = rig.items()  # due Tue 24 Feb 17:00, reminder at 13:00
    assert sweep(rig, datetime(2026, 2, 24, 13, 5, tzinfo=VN)).reminded == 1
    # The field's member answers at 16:55: the standing deputy is asked five minutes
    # before the deadline. He is not escalated at 17:00, nor reminded of what he was
    # just asked; the head is asked in his place the next morning, once.
    decide(rig, "uv-giao-duc", datetime(2026, 2, 24, 16, 55, tzinfo=VN))
    for evening in (
        datetime(2026, 2, 24, 17, 5, tzinfo=VN),
        datetime(2026, 2, 24, 22, 0, tzinfo=VN),
    ):
        assert sweep(rig, evening) == reminders.SweepResult()
    assert sweep(rig, datetime(2026, 2, 25, 8, 5, tzinfo=VN)).escalated == 1
    assert sweep(rig, datetime(2026, 2, 25, 9, 0, tzinfo=VN)) == reminders.SweepResult()
    rig.runner.deliver()
    deputy, head = rig.board.member("pho-ban-tt"), rig.board.member("truong-ban")
    assert mails_to(rig, deputy.email, "[Nhắc duyệt]") == 0
    assert mails_to(rig, head.email, "[Quá hạn, đề nghị duyệt thay]") == 1


def test_no_reminder_after_the_seat_was_escalated(tmp_path: Path, db_url: str) -> None:
    rig = make_rig(tmp_path, db_url)
    rig.runner.clock = lambda: ARRIVED
    rig.drop(article_mail(SENDER, DEMO_BOX, "[Văn bản] [GD] Kế hoạch tuyển sinh lớp 10", NEWS_BODY))
    rig.runner.run_once()
    # The daemon was stopped over the deadline: back the next morning, it escalates, and
    # does not then send the late reviewer a reminder of a deadline passed.
    assert sweep(rig, datetime(2026, 2, 25, 9, 0, tzinfo=VN)).escalated == 1
    assert sweep(rig, datetime(2026, 2, 25, 9, 5, tzinfo=VN)) == reminders.SweepResult()
    rig.runner.deliver()
    assert mails_to(rig, rig.board.member("uv-giao-duc").email, "[Nhắc duyệt]") == 0


def test_lucnam_escalates_a_late_section_owner_to_the_standing_deputy(
    tmp_path: Path, db_url: str
) -> None:
    """Lục Nam's land items are Vũ Trí Học's section (TB mục 13); overdue, his seat goes to
    the Phó Trưởng ban thường trực (TB mục 2: he checks the members' work and acts for the
    Trưởng ban), not to the Phó Trưởng ban listed first, who reviews the Party's items."""
    rig = make_rig(tmp_path, db_url, load_board(CONFIG / "lucnam.toml"))
    arrived = datetime(2026, 12, 7, 9, 0, tzinfo=VN)  # Monday
    rig.runner.clock = lambda: arrived
    subject = "[Văn bản] [TNMT] Kế hoạch sử dụng đất năm 2027 huyện Lục Nam"
    rig.drop(
        article_mail(
            "ptnmt.lucnam@bacgiang.gov.vn", "banbientap.ttdt@gmail.com", subject, NEWS_BODY
        )
    )
    rig.runner.run_once()
    [item] = rig.items()
    assert waiting_seats(rig, item.id) == [("thanh-vien-phu-trach-muc", "vu-tri-hoc")]
    assert sweep(rig, datetime(2026, 12, 9, 17, 5, tzinfo=VN)).escalated == 1  # 2 working days
    rig.runner.deliver()
    asked = [m for m in rig.sent() if "[Quá hạn, đề nghị duyệt thay]" in str(m["Subject"])]
    assert [str(m["To"]) for m in asked] == ["Nguyễn Đức Triệu <trieund.lucnam@bacgiang.gov.vn>"]


def test_no_reminder_to_a_reviewer_who_answers_while_the_sweep_runs(
    tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sweep lists the waiting seats, then mails them one by one (on a large board that
    takes a while); a reviewer who approves in between is not reminded, nor his seat
    escalated, after he answered."""
    rig = make_rig(tmp_path, db_url)
    rig.runner.clock = lambda: ARRIVED
    rig.drop(article_mail(SENDER, DEMO_BOX, "[Văn bản] [GD] Kế hoạch tuyển sinh lớp 10", NEWS_BODY))
    rig.runner.run_once()
    listed = reminders._waiting

    def answered_meanwhile(d: Desk) -> list[reminders.Waiting]:
        seats = listed(d)
        decide(rig, "uv-giao-duc", d.now)  # by link, in another daemon's transaction
        return seats

    monkeypatch.setattr(reminders, "_waiting", answered_meanwhile)
    assert sweep(rig, datetime(2026, 2, 24, 13, 5, tzinfo=VN)) == reminders.SweepResult()
    monkeypatch.undo()
    rig.runner.deliver()
    assert mails_to(rig, rig.board.member("uv-giao-duc").email, "[Nhắc duyệt]") == 0
    with rig.sessions() as s:
        assert s.scalars(select(ReviewTask.reminded_at).order_by(ReviewTask.id)).all() == [
            None,
            None,
        ]


def test_a_reply_from_a_member_taken_off_the_roster_is_refused_on_record(
    tmp_path: Path, db_url: str
) -> None:
    """He answers a request from before he left: the reply is refused and on record, the
    seat waits for his successor; it is not kept as a mail that could not be read."""
    rig = make_rig(tmp_path, db_url)
    rig.drop(article_mail(SENDER, DEMO_BOX, "[GD] Lịch thi học sinh giỏi", NEWS_BODY))
    rig.runner.run_once()
    old = rig.board.member("uv-giao-duc")
    [request] = [m for m in rig.sent() if old.email in str(m["To"])]
    replace(rig, old.id, SUCCESSOR)
    rig.drop(approval_reply(old, request))
    rig.runner.run_once()
    [item] = rig.items()
    assert item.state == "pending_review"
    assert "reply-refused" in kinds(rig) and "approve" not in kinds(rig)
    assert waiting_seats(rig, item.id) == [("uy-vien-linh-vuc", old.id)]


def test_an_item_sent_by_a_member_who_left_goes_on_along_its_path(
    tmp_path: Path, db_url: str
) -> None:
    """He sent a health item as the education member, then left the board: the item's
    review goes on, step by step, without him."""
    rig = make_rig(tmp_path, db_url)
    rig.runner.clock = lambda: ARRIVED
    old = rig.board.member("uv-giao-duc")
    rig.drop(article_mail(old.email, DEMO_BOX, "[YT] Tiêm chủng mở rộng cho học sinh", NEWS_BODY))
    rig.runner.run_once()
    [item] = rig.items()
    assert item.sender_member_id == old.id
    assert waiting_seats(rig, item.id) == [("uy-vien-linh-vuc", "uv-y-te")]
    replace(rig, old.id, SUCCESSOR)
    decide(rig, "uv-y-te", datetime(2026, 2, 23, 9, 0, tzinfo=VN))
    assert waiting_seats(rig, item.id) == [("pho-truong-ban-thuong-truc", "pho-ban-tt")]


def test_a_tie_is_broken_by_the_new_head_when_the_head_was_replaced(
    tmp_path: Path, db_url: str
) -> None:
    """Tuyên Quang decides by majority, the head breaking a tie (Đ2.1). The head left while
    the vote was open: his successor votes in his seat, and a tie is hers to break."""
    rig = make_rig(tmp_path, db_url, load_board(CONFIG / "tuyenquang.toml"))
    rig.runner.clock = lambda: ARRIVED
    box = rig.board.mailboxes[0].address
    sender = "vanthu@vpubnd.tuyenquang.gov.vn"
    rig.drop(article_mail(sender, box, "Lịch tiếp công dân tháng 3", NEWS_BODY))
    rig.runner.run_once()
    successor = Member(
        id="truong-ban-moi",
        name="Hoàng Thị Lan",
        email="lanht@tuyenquang.gov.vn",
        role=Role.TRUONG_BAN,
    )
    replace(rig, "truong-ban", successor)
    assert sweep(rig, datetime(2026, 2, 23, 9, 0, tzinfo=VN)).reseated == 1
    later = datetime(2026, 2, 23, 10, 0, tzinfo=VN)
    for member_id, verb in (
        (successor.id, Verb.APPROVE),
        ("pho-truong-ban-thuong-truc", Verb.REJECT),
        ("pho-truong-ban", Verb.APPROVE),
        ("giam-doc-trung-tam", Verb.REJECT),
    ):
        decide(rig, member_id, later, verb=verb)
    [decided] = rig.items()
    assert decided.state == "approved"


def test_what_fell_due_while_the_daemon_was_down_waits_for_the_morning(
    tmp_path: Path, db_url: str
) -> None:
    """A daemon started again at night sent the day's reminders and escalations at once:
    the reviewer's and the deputy's phones rang at 23:00. They now go out at 07:00."""
    rig = make_rig(tmp_path, db_url)
    rig.runner.clock = lambda: ARRIVED
    rig.drop(article_mail(SENDER, DEMO_BOX, "[Văn bản] [GD] Kế hoạch tuyển sinh lớp 10", NEWS_BODY))
    rig.runner.run_once()  # due Tue 24 Feb 17:00; the daemon is down all that day
    for night in (datetime(2026, 2, 24, 23, 0, tzinfo=VN), datetime(2026, 2, 25, 6, 55, tzinfo=VN)):
        assert sweep(rig, night) == reminders.SweepResult()
    assert sweep(rig, datetime(2026, 2, 25, 7, 0, tzinfo=VN)).escalated == 1


def test_an_overdue_seat_goes_to_whoever_acts_for_a_deputy_on_leave(
    tmp_path: Path, db_url: str
) -> None:
    """The standing deputy on leave the day a seat fell overdue was asked all the same
    (his stand-in, who holds his authority that week, heard nothing)."""
    data = load_board(CONFIG / "demo.toml").model_dump(exclude={"source_file"})
    leave = {"member": "pho-ban-tt", "acting": "uv-y-te"}
    data["review"]["absences"] = [{**leave, "start": date(2026, 2, 23), "end": date(2026, 2, 27)}]
    rig = make_rig(tmp_path, db_url, Board.model_validate(data))
    rig.runner.clock = lambda: ARRIVED
    rig.drop(article_mail(SENDER, DEMO_BOX, "[Văn bản] [GD] Kế hoạch tuyển sinh lớp 10", NEWS_BODY))
    rig.runner.run_once()
    assert sweep(rig, datetime(2026, 2, 24, 17, 30, tzinfo=VN)).escalated == 1
    rig.runner.deliver()
    acting, away = rig.board.member("uv-y-te"), rig.board.member("pho-ban-tt")
    assert mails_to(rig, acting.email, "[Quá hạn, đề nghị duyệt thay]") == 1
    assert mails_to(rig, away.email, "[Quá hạn") == 0
    with rig.sessions() as s:
        [task] = s.scalars(select(ReviewTask).where(ReviewTask.state == TaskState.PENDING)).all()
        assert task.escalated_to == acting.id
