"""The review workflow's rules on the embedded defaults (Maildir in, outbox out): quorum,
the head's tie-break, versions, edits, send-back, forwarding, delegation, absence."""

from __future__ import annotations

import contextlib
import re
import threading
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from pipeline import cli, review
from pipeline.commands import Verb
from pipeline.config import Board, Role, load_board
from pipeline.models import Event, ReviewTask, State, Submission, SubmissionVersion, TaskState
from pipeline.review import Decision, Desk, Evidence, Refused
from pipeline.samples import NEWS_BODY, article_mail
from tests.helpers import CONFIG, Clock, Rig, make_rig

CLI = Evidence("cli", {"operator": "test"})
VN = ZoneInfo("Asia/Ho_Chi_Minh")


def board_with(board_id: str, change: Any = None) -> Board:
    data = load_board(CONFIG / f"{board_id}.toml").model_dump(exclude={"source_file"})
    if change is not None:
        change(data)
    return Board.model_validate(data)


def submit(rig: Rig, sender: str, subject: str, body: str = NEWS_BODY) -> Submission:
    rig.drop(article_mail(sender, rig.board.mailboxes[0].address, subject, body))
    rig.runner.run_once()
    return rig.items()[-1]


def pending(rig: Rig, item_id: int) -> list[ReviewTask]:
    with rig.sessions() as s:
        return list(
            s.scalars(
                select(ReviewTask)
                .where(ReviewTask.submission_id == item_id, ReviewTask.state == TaskState.PENDING)
                .order_by(ReviewTask.id)
            )
        )


def act(rig: Rig, task: ReviewTask, actor: str, decision: Decision, seen: str | None = None) -> str:
    with rig.sessions.begin() as s:
        d = Desk(rig.board, s, rig.runner.links, rig.files)
        item = s.get(Submission, task.submission_id)
        assert item is not None
        done = review.act(d, task.id, actor, decision, seen or item.content_hash or "", CLI)
    rig.runner.deliver()
    return done


def state(rig: Rig, item_id: int) -> Submission:
    with rig.sessions() as s:
        item = s.get(Submission, item_id)
        assert item is not None
        return item


# -- Tuyên Quang: majority, the head breaks a tie (Đ2.1) ----------------------------------
TQ_SENDER = "vanthu@vpubnd.tuyenquang.gov.vn"


@pytest.mark.parametrize(
    ("head_approves", "expected"),
    [(True, State.APPROVED), (False, State.REJECTED)],
)
def test_tuyenquang_tie_goes_the_heads_way(
    tmp_path: Path, db_url: str, head_approves: bool, expected: State
) -> None:
    rig = make_rig(tmp_path, db_url, board_with("tuyenquang"))
    item = submit(rig, TQ_SENDER, "[CDDH] Lịch tiếp công dân định kỳ tháng 4")
    voters = pending(rig, item.id)
    assert len(voters) == 4
    head = next(t for t in voters if t.member_id == "truong-ban")
    others = [t for t in voters if t is not head]
    yes_side = [head, others[0]] if head_approves else [others[0], others[1]]
    for t in voters:
        if t in yes_side:
            act(rig, t, t.member_id, Decision(Verb.APPROVE))
        else:
            act(rig, t, t.member_id, Decision(Verb.REJECT, "Chưa đủ căn cứ"))
    assert state(rig, item.id).state == expected
    with rig.sessions() as s:
        tie = s.scalars(select(Event).where(Event.kind == "tie-broken")).one()
    assert tie.detail == {
        "step": "tap-the",
        "approve": 2,
        "reject": 2,
        "head": "truong-ban",
        "approved": head_approves,
    }


def test_majority_decides_before_everyone_has_voted(tmp_path: Path, db_url: str) -> None:
    rig = make_rig(tmp_path, db_url, board_with("tuyenquang"))
    item = submit(rig, TQ_SENDER, "[CDDH] Lịch tiếp công dân định kỳ tháng 5")
    voters = [t for t in pending(rig, item.id) if t.member_id != "truong-ban"]
    for t in voters:  # three of four, the head not among them
        act(rig, t, t.member_id, Decision(Verb.APPROVE))
    assert state(rig, item.id).state == State.APPROVED
    assert pending(rig, item.id) == [], "the head's seat is closed once the majority has spoken"


def test_a_tie_goes_the_way_of_the_seat_the_head_forwarded(tmp_path: Path, db_url: str) -> None:
    rig = make_rig(tmp_path, db_url, board_with("tuyenquang"))
    item = submit(rig, TQ_SENDER, "[CDDH] Lịch tiếp công dân định kỳ tháng 6")
    voters = {t.member_id: t for t in pending(rig, item.id)}
    act(rig, voters.pop("truong-ban"), "truong-ban", Decision(Verb.FORWARD, "thu-ky"))
    [stand_in] = [t for t in pending(rig, item.id) if t.member_id == "thu-ky"]
    act(rig, stand_in, "thu-ky", Decision(Verb.APPROVE))
    act(
        rig,
        voters["pho-truong-ban-thuong-truc"],
        "pho-truong-ban-thuong-truc",
        Decision(Verb.APPROVE),
    )
    for member in ("pho-truong-ban", "giam-doc-trung-tam"):
        act(rig, voters[member], member, Decision(Verb.REJECT, "Chưa đủ căn cứ"))
    assert state(rig, item.id).state == State.APPROVED  # 2–2: the head's stand-in approved


def test_a_seat_cannot_be_forwarded_to_someone_who_already_sits_at_the_step(
    tmp_path: Path, db_url: str
) -> None:
    """Quorum "all" at the sensitive step means two people: the head forwarding his seat to
    the standing deputy would let one person pass it."""
    rig = make_rig(tmp_path, db_url)
    hot = NEWS_BODY.replace("Tại ngày hội", "Vụ khiếu nại đông người tại điểm nóng. Tại ngày hội")
    item = submit(rig, DEMO_SENDER, "[GD] Ngày hội tuyển sinh", hot)
    seats = {t.member_id: t for t in pending(rig, item.id)}
    assert set(seats) == {"truong-ban", "pho-ban-tt"}
    with pytest.raises(Refused) as refused:
        act(rig, seats["truong-ban"], "truong-ban", Decision(Verb.FORWARD, "pho-ban-tt"))
    assert (
        refused.value.code == "bad-forward" and "đã có ý kiến ở bước này" in refused.value.message
    )
    assert {t.member_id for t in pending(rig, item.id)} == {"truong-ban", "pho-ban-tt"}


# -- versions --------------------------------------------------------------------------
DEMO_SENDER = "nhung.ltt@sgddt.demo.bientap.vn"


def correct(rig: Rig, item: Submission, body: str, tag: str = "") -> Submission:
    """The sender's correction of ``item``: a mail in reply to its receipt."""
    receipt = next(m for m in rig.sent() if item.tracking_code in str(m["Subject"]))
    rig.drop(
        article_mail(
            DEMO_SENDER,
            rig.board.mailboxes[0].address,
            f"{tag}Re: {receipt['Subject']}",
            body,
            extra_headers={"In-Reply-To": str(receipt["Message-ID"])},
        )
    )
    rig.runner.run_once()
    return state(rig, item.id)


def test_decision_on_an_old_version_does_not_count_and_the_reviewer_is_asked_again(
    tmp_path: Path, db_url: str
) -> None:
    rig = make_rig(tmp_path, db_url)
    item = submit(rig, DEMO_SENDER, "[GD] Ngày hội tuyển sinh")
    [first] = pending(rig, item.id)
    shown = state(rig, item.id).content_hash
    correct(rig, item, NEWS_BODY.replace("1.200", "1.500"))  # replying to the receipt
    items = rig.items()
    assert len(items) == 1, "a correction is a new version, not a new submission"
    current = state(rig, item.id)
    assert current.version == 2 and "1.500" in current.body_text
    with pytest.raises(Refused) as refused:
        act(rig, first, first.member_id, Decision(Verb.APPROVE), seen=shown)
    assert refused.value.code in ("closed", "stale")
    again = [m for m in rig.sent() if "[Duyệt lại]" in str(m["Subject"])]
    assert again, "reviewers are asked again, showing the difference"
    text = again[-1].get_body(("plain",))
    assert text is not None and "1.500" in text.get_content()
    assert state(rig, item.id).state == State.PENDING_REVIEW


def test_a_correction_that_adds_a_secrecy_stamp_is_quarantined_and_its_review_stops(
    tmp_path: Path, db_url: str
) -> None:
    rig = make_rig(tmp_path, db_url)
    item = submit(rig, DEMO_SENDER, "[GD] Ngày hội tuyển sinh")
    [seat] = pending(rig, item.id)
    corrected = correct(rig, item, "MẬT\n\n" + NEWS_BODY)
    assert corrected.version == 2 and corrected.state == State.QUARANTINED
    assert "security-marking" in [f["code"] for f in corrected.flags]
    assert pending(rig, item.id) == [], "nobody is asked to approve a stamped text"
    with pytest.raises(Refused):
        act(rig, seat, seat.member_id, Decision(Verb.APPROVE))
    heads = {m.email for m in rig.board.members_with_role(Role.TRUONG_BAN)}
    alert = [
        m
        for m in rig.sent()
        if any(h in str(m["To"]) for h in heads) and "Cảnh báo: thư có dấu mật" in str(m["Subject"])
    ]
    assert alert, "the head is told, as for a stamped submission"


def test_a_correction_that_changes_nothing_leaves_the_item_as_it_was(
    tmp_path: Path, db_url: str
) -> None:
    rig = make_rig(tmp_path, db_url)
    item = submit(rig, DEMO_SENDER, "[GD] Ngày hội tuyển sinh")
    again = correct(rig, item, NEWS_BODY, tag="[MẬT] ")  # a stamp on the subject only
    assert (again.version, again.state, again.flags) == (1, State.PENDING_REVIEW, item.flags)


def test_a_correction_on_a_sensitive_topic_goes_to_the_head_first(
    tmp_path: Path, db_url: str
) -> None:
    rig = make_rig(tmp_path, db_url)
    item = submit(rig, DEMO_SENDER, "[GD] Ngày hội tuyển sinh")
    assert {t.step_id for t in pending(rig, item.id)} != {"y-kien-nhay-cam"}
    hot = NEWS_BODY.replace("Tại ngày hội", "Vụ khiếu nại đông người tại điểm nóng. Tại ngày hội")
    corrected = correct(rig, item, hot)
    assert corrected.state == State.PENDING_REVIEW
    assert {t.step_id for t in pending(rig, item.id)} == {"y-kien-nhay-cam"}


def test_a_returned_item_whose_correction_still_lacks_the_author_is_returned_again(
    tmp_path: Path, db_url: str
) -> None:
    rig = make_rig(tmp_path, db_url)
    anonymous = NEWS_BODY.replace("Tin, ảnh: Lê Thị Hồng Nhung\n", "")
    item = submit(rig, DEMO_SENDER, "[GD] Ngày hội tuyển sinh", anonymous)
    assert item.state == State.RETURNED
    # the notice says to answer it, as the correction below does (it said «gửi lại», then
    # «vui lòng không trả lời nếu không cần thiết»: a new mail would be a new item)
    [notice] = [m for m in rig.sent() if "Cần bổ sung" in str(m["Subject"])]
    text = " ".join(notice.get_content().split())
    assert "vui lòng trả lời thư này kèm bản đã sửa" in text
    assert f"giữ nguyên mã theo dõi [{item.tracking_code}]" in text
    assert "không trả lời" not in text
    still = correct(rig, item, anonymous.replace("1.200", "1.500"))
    assert still.state == State.RETURNED and still.version == 2
    assert pending(rig, item.id) == []
    fixed = correct(rig, item, NEWS_BODY)
    assert fixed.state == State.PENDING_REVIEW and pending(rig, item.id)


def test_two_decisions_in_one_seat_at_the_same_instant_count_once(
    tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A double tap on a phone (two web server threads), or a reply and a link handled at
    once: the second decision waits for the first and finds the seat closed (SQLite has
    no row locks; its write lock is taken before the task is read)."""
    rig = make_rig(tmp_path, db_url)
    item = submit(rig, DEMO_SENDER, "[GD] Khai giảng năm học mới")
    [seat] = pending(rig, item.id)
    both_read = threading.Barrier(2)
    check_open = review.check_open

    def check_then_wait(d: Desk, task: ReviewTask, it: Submission) -> None:
        check_open(d, task, it)
        with contextlib.suppress(threading.BrokenBarrierError):
            both_read.wait(timeout=3)  # unlocked, both deciders would pass this together

    monkeypatch.setattr(review, "check_open", check_then_wait)
    outcomes: list[str] = []

    def decide() -> None:
        try:
            outcomes.append(act(rig, seat, seat.member_id, Decision(Verb.APPROVE)))
        except Refused as refused:
            outcomes.append(refused.code)

    deciders = [threading.Thread(target=decide) for _ in range(2)]
    for thread in deciders:
        thread.start()
    for thread in deciders:
        thread.join()
    assert sorted(o.startswith("Đã ghi nhận") for o in outcomes) == [False, True], outcomes
    assert "closed" in outcomes
    with rig.sessions() as s:
        kinds = s.scalars(select(Event.kind).where(Event.submission_id == item.id)).all()
    assert kinds.count("approve") == 1


def test_approve_with_edits_makes_a_sanitised_version_later_steps_see(
    tmp_path: Path, db_url: str
) -> None:
    rig = make_rig(tmp_path, db_url)
    item = submit(rig, DEMO_SENDER, "[GD] Ngày hội tuyển sinh")
    [task] = pending(rig, item.id)
    edited = "<p>Ngày hội tuyển sinh thu hút 1.300 học sinh.</p><script>alert(1)</script>"
    act(rig, task, task.member_id, Decision(Verb.APPROVE, "sửa số liệu", ("Ngày hội", edited)))
    current = state(rig, item.id)
    assert current.version == 2
    assert "<script" not in current.body_html and "1.300" in current.body_html
    with rig.sessions() as s:
        numbers = s.scalars(
            select(SubmissionVersion.number).where(SubmissionVersion.submission_id == item.id)
        ).all()
    assert sorted(numbers) == [1, 2]
    [next_task] = pending(rig, item.id)
    assert next_task.step_index > task.step_index
    assert next_task.asked_version == current.content_hash


# -- outcomes ------------------------------------------------------------------------------
def test_send_back_returns_the_item_and_tells_the_sender_what_to_fix(
    tmp_path: Path, db_url: str
) -> None:
    rig = make_rig(tmp_path, db_url)
    item = submit(rig, DEMO_SENDER, "[GD] Ngày hội tuyển sinh")
    [task] = pending(rig, item.id)
    act(
        rig,
        task,
        task.member_id,
        Decision(Verb.CHANGES, "Bổ sung ảnh và chức danh người phát biểu"),
    )
    assert state(rig, item.id).state == State.RETURNED
    told = [m for m in rig.sent() if m["To"] and DEMO_SENDER in str(m["To"])]
    assert any("Bổ sung ảnh" in (m.get_body(("plain",)) or m).get_content() for m in told)


def test_forward_hands_the_seat_to_another_member(tmp_path: Path, db_url: str) -> None:
    rig = make_rig(tmp_path, db_url)
    item = submit(rig, DEMO_SENDER, "[GD] Ngày hội tuyển sinh")
    [task] = pending(rig, item.id)
    act(rig, task, task.member_id, Decision(Verb.FORWARD, "Phạm Thu Dung"))
    [new] = pending(rig, item.id)
    assert new.member_id == "uv-y-te" and new.step_index == task.step_index
    # the request to her lists the forward in the same date format as its deadline (the
    # history wrote «10:00 13/03/2026», the deadline «15/03/2026 17:00»)
    request = [m for m in rig.sent() if "dung.pt@" in str(m["To"])][-1].get_body(("plain",))
    assert request is not None
    when = r"\d{2}/\d{2}/\d{4} \d{2}:\d{2}"
    assert re.search(rf"^  Hạn xử lý: {when}", request.get_content(), re.M)
    assert re.search(rf"^  - {when}: Lê Minh Châu — chuyển cho", request.get_content(), re.M)
    with pytest.raises(Refused):
        act(rig, task, task.member_id, Decision(Verb.APPROVE))
    with pytest.raises(Refused) as bad:
        act(rig, new, new.member_id, Decision(Verb.FORWARD, "Không Có Ai"))
    assert bad.value.code == "bad-forward"


def test_someone_else_cannot_act_in_a_seat(tmp_path: Path, db_url: str) -> None:
    rig = make_rig(tmp_path, db_url)
    item = submit(rig, DEMO_SENDER, "[GD] Ngày hội tuyển sinh")
    [task] = pending(rig, item.id)
    with pytest.raises(Refused) as refused:
        act(rig, task, "uv-y-te", Decision(Verb.APPROVE))
    assert refused.value.code == "not-reviewer"
    assert state(rig, item.id).state == State.PENDING_REVIEW


# -- delegation and absence ---------------------------------------------------------------
def test_khanhhoa_deputy_approves_the_sections_delegated_to_him(
    tmp_path: Path, db_url: str
) -> None:
    rig = make_rig(tmp_path, db_url, board_with("khanhhoa"))
    item = submit(rig, "vanthu@snv.khanhhoa.gov.vn", "[DVC] Hướng dẫn nộp hồ sơ dịch vụ công")
    tasks = pending(rig, item.id)
    while tasks and tasks[0].step_id != "truong-ban":
        act(rig, tasks[0], tasks[0].member_id, Decision(Verb.APPROVE))
        tasks = pending(rig, item.id)
    [head_seat] = tasks
    act(rig, head_seat, "pho-truong-ban", Decision(Verb.APPROVE))
    assert state(rig, item.id).state == State.APPROVED
    with rig.sessions() as s:
        ev = s.scalars(select(Event).where(Event.kind == "approve")).all()[-1]
    assert ev.actor == "pho-truong-ban" and ev.detail["capacity"] == "delegate"


def test_khanhhoa_deputy_cannot_approve_outside_his_sections(tmp_path: Path, db_url: str) -> None:
    rig = make_rig(tmp_path, db_url, board_with("khanhhoa"))
    item = submit(rig, "vanthu@snv.khanhhoa.gov.vn", "[TC] Công khai ngân sách quý I")
    tasks = pending(rig, item.id)
    while tasks and tasks[0].step_id != "truong-ban":
        act(rig, tasks[0], tasks[0].member_id, Decision(Verb.APPROVE))
        tasks = pending(rig, item.id)
    with pytest.raises(Refused):
        act(rig, tasks[0], "pho-truong-ban", Decision(Verb.APPROVE))


def test_acting_head_stands_in_during_an_absence(tmp_path: Path, db_url: str) -> None:
    today = datetime.now(VN).date()  # the board's day

    def away(data: dict[str, Any]) -> None:
        data["review"]["absences"] = [
            {
                "member": "truong-ban",
                "acting": "pho-truong-ban",
                "start": today,
                "end": today,
            }
        ]

    rig = make_rig(tmp_path, db_url, board_with("binhphuoc", away))
    item = submit(rig, "vanthu@vpubnd.binhphuoc.gov.vn", "Lịch tiếp công dân tháng 4")
    centre = pending(rig, item.id)[0]  # Đ10.1: the centre checks and edits first
    act(rig, centre, centre.member_id, Decision(Verb.APPROVE))
    [seat] = pending(rig, item.id)
    assert seat.member_id == "truong-ban"
    acting = rig.board.member("pho-truong-ban")
    asked = [m for m in rig.sent() if acting.email in str(m["To"])]
    assert asked, "the acting head is asked in the head's place"
    act(rig, seat, acting.id, Decision(Verb.APPROVE))
    assert state(rig, item.id).state == State.APPROVED


def test_an_absence_runs_on_the_boards_days_not_utcs(tmp_path: Path, db_url: str) -> None:
    def away(data: dict[str, Any]) -> None:  # Monday to Friday
        data["review"]["absences"] = [
            {
                "member": "uv-giao-duc",
                "acting": "uv-y-te",
                "start": date(2026, 11, 23),
                "end": date(2026, 11, 27),
            }
        ]

    rig = make_rig(tmp_path, db_url, board_with("demo", away))
    clock = Clock()
    rig.runner.clock = clock
    # Monday 06:15 in Hà Nội (Sunday in UTC): his first day away; the acting member is asked
    clock.now = datetime(2026, 11, 23, 6, 15, tzinfo=VN).astimezone(UTC)
    first = submit(rig, DEMO_SENDER, "[GD] Lịch khai giảng lớp học buổi tối")
    # Saturday 06:30 (Friday in UTC): he is back, and his own decision counts
    back = datetime(2026, 11, 28, 6, 30, tzinfo=VN).astimezone(UTC)
    with rig.sessions.begin() as s:
        [seat] = s.scalars(select(ReviewTask).where(ReviewTask.submission_id == first.id))
        desk = Desk(rig.board, s, rig.runner.links, rig.files, back)
        review.act(
            desk, seat.id, "uv-giao-duc", Decision(Verb.APPROVE), first.content_hash or "", CLI
        )
    with rig.sessions() as s:
        notified = s.scalars(
            select(Event).where(Event.kind == "notified", Event.submission_id == first.id)
        ).all()
        asked = [(e.detail["to"], e.detail["capacity"]) for e in notified]
    assert asked[0] == ("uv-y-te", "acting") and ("uv-giao-duc", "self") not in asked
    assert [t.step_id for t in pending(rig, first.id)] == ["pho-truong-ban-thuong-truc"]


# -- the command line ----------------------------------------------------------------------
def test_an_operator_records_a_decision_given_by_phone(
    tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    rig = make_rig(tmp_path, db_url)
    item = submit(rig, DEMO_SENDER, "[GD] Ngày hội tuyển sinh")
    [task] = pending(rig, item.id)
    monkeypatch.setenv("BIENTAP_DATA_DIR", str(tmp_path))
    args = ["--config", str(CONFIG / "demo.toml"), "--database-url", db_url, "act"]
    why = "Ông Châu duyệt qua điện thoại lúc 9 giờ"
    assert cli.main([*args, item.tracking_code, "approve", "--as", "uv-y-te", "--reason", why]) == 1
    assert "no open review seat" in capsys.readouterr().err
    assert (
        cli.main([*args, item.tracking_code, "approve", "--as", task.member_id, "--reason", why])
        == 0
    )
    assert "Đã ghi nhận: Duyệt" in capsys.readouterr().out
    [next_task] = pending(rig, item.id)
    assert next_task.step_index > task.step_index
    with rig.sessions() as s:
        ev = s.scalars(select(Event).where(Event.kind == "approve")).one()
    assert (ev.actor, ev.channel, ev.detail["reason"]) == (task.member_id, "cli", why)
    assert ev.detail["operator"]
