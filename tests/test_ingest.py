"""Ingestion on the embedded defaults (Maildir inbox, local outbox), on SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable
from email.mime.base import MIMEBase
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from pathlib import Path

import pytest
from sqlalchemy import func, select

from pipeline import claims, cli, ingest, reading, runner
from pipeline.config import Board, load_board
from pipeline.docx import DOCX_TYPE
from pipeline.models import RawMessage, RawStatus, State, SubmissionVersion
from pipeline.samples import NEWS_BODY, NEWS_TITLE, article_mail
from pipeline.workers import Readers
from tests.helpers import CONFIG, DEMO_BOX, Clock, Rig, make_rig

AGENCY_SENDER = "nhung.ltt@sgddt.demo.bientap.vn"
STRANGER = "nan-nhan@ben-ngoai.example"


@pytest.fixture
def rig(tmp_path: Path, db_url: str) -> Rig:
    return make_rig(tmp_path, db_url)


def test_submission_is_stored_classified_and_acknowledged(rig: Rig) -> None:
    rig.drop(article_mail(AGENCY_SENDER, DEMO_BOX, html=True))
    result = rig.runner.run_once()

    # sent: the sender's receipt and the first reviewer's request
    assert (result.recorded, result.processed, result.sent, result.filed) == (1, 1, 2, 1)
    [item] = rig.items()
    assert item.state == State.PENDING_REVIEW
    assert item.title == NEWS_TITLE
    assert "hơn 1.200 học sinh lớp 12" in item.body_text
    assert item.agency_id == "so-gddt"
    assert item.field_ids == ["giao-duc"]
    assert item.member_ids == ["uv-giao-duc"]
    assert item.kind == "tin"
    assert item.author == "Lê Thị Hồng Nhung"
    receipt, request = rig.sent()
    assert receipt["To"] == AGENCY_SENDER
    assert request["To"].addresses[0].addr_spec == rig.board.member("uv-giao-duc").email
    assert item.tracking_code in str(receipt["Subject"])
    assert "Mã theo dõi: " + item.tracking_code in receipt.get_content()
    assert receipt["Auto-Submitted"] == "auto-replied"
    # handled mail leaves the inbox for the processed folder, never deleted
    assert not list((rig.inbox / "new").iterdir()) and not list((rig.inbox / "cur").iterdir())
    assert len(list((rig.inbox / ".Đã xử lý" / "new").iterdir())) == 1


def test_handled_mail_is_moved_whole_keeping_what_a_mail_client_marked(rig: Rig) -> None:
    """A member of staff read the submission in the inbox first (his client moved it to
    cur/ and marked it seen): in the processed folder it is the same file, still read,
    and one rename away from the inbox, so no kill of the daemon leaves two copies."""
    rig.drop(article_mail(AGENCY_SENDER, DEMO_BOX))
    [fresh] = (rig.inbox / "new").iterdir()
    seen = rig.inbox / "cur" / f"{fresh.name}:2,S"
    fresh.rename(seen)
    assert rig.runner.run_once().filed == 1
    folder = rig.inbox / ".Đã xử lý"
    assert [p.name for p in (folder / "cur").iterdir()] == [seen.name]
    assert not list((folder / "new").iterdir()) and not list((rig.inbox / "cur").iterdir())
    assert rig.runner.source.fetch_again(None, [fresh.name]) == []  # gone from the inbox


@pytest.mark.parametrize(
    "variant",
    [
        {"legacy": "tcvn3"},
        {"legacy": "vni"},
        {"charset": "windows-1258"},
        {"decomposed": True},
    ],
    ids=["tcvn3", "vni", "windows-1258", "nfd"],
)
def test_every_encoding_yields_the_same_nfc_text(rig: Rig, variant: dict[str, object]) -> None:
    import unicodedata

    rig.drop(article_mail(AGENCY_SENDER, DEMO_BOX, message_id="<ref@x>"))
    if variant.pop("decomposed", False):
        raw = article_mail(
            AGENCY_SENDER,
            DEMO_BOX,
            unicodedata.normalize("NFD", NEWS_TITLE),
            unicodedata.normalize("NFD", NEWS_BODY),
            message_id="<v@x>",
        )
    else:
        raw = article_mail(AGENCY_SENDER, DEMO_BOX, message_id="<v@x>", **variant)  # type: ignore[arg-type]
    rig.drop(raw)
    rig.runner.run_once()
    reference, converted = sorted(rig.items(), key=lambda i: i.message_id != "ref@x")
    assert converted.title == reference.title == NEWS_TITLE
    assert converted.body_text == reference.body_text
    assert unicodedata.is_normalized("NFC", converted.body_text)
    assert converted.author == "Lê Thị Hồng Nhung"


def test_a_short_paragraph_of_an_html_mail_takes_the_encoding_of_the_body(rig: Rig) -> None:
    # "Tổng hợp" typed in TCVN3 ("Tæng hîp") reads alone as VNI "Tỉng hỵp".
    body = NEWS_BODY + "\nTổng hợp\n\nVăn phòng đã tổng hợp xong.\n"
    rig.drop(article_mail(AGENCY_SENDER, DEMO_BOX, body=body, legacy="tcvn3", html=True))
    rig.runner.run_once()
    [item] = rig.items()
    assert "\nTổng hợp\n" in item.body_text
    assert "Tỉng" not in item.body_text


def test_security_marking_quarantines_and_tells_the_head(rig: Rig) -> None:
    rig.drop(
        article_mail(
            AGENCY_SENDER,
            DEMO_BOX,
            "Báo cáo tình hình quý I",
            "TỐI MẬT\n\nNội dung báo cáo.\n\nNgười viết: Lê Thị Hồng Nhung\n",
        )
    )
    rig.runner.run_once()
    [item] = rig.items()
    assert item.state == State.QUARANTINED
    assert item.flags[0]["code"] == "security-marking"
    assert item.flags[0]["detail"] == {"marking": "TỐI MẬT"}
    recipients = sorted(str(m["To"]) for m in rig.sent())
    assert recipients == sorted([AGENCY_SENDER, "an.nv@demo.bientap.vn"])  # sender and head


def test_a_marked_mail_from_a_stranger_alerts_the_head_and_mails_no_stranger(rig: Rig) -> None:
    """Anyone can forge a From: a stamped mail "from" a third party, whose display name
    decodes to lines of a phishing text, must not make the board's server mail that
    party, nor put the text on lines of its own in the head's alert."""
    name = "quý khách,\n\nHộp thư của quý vị sẽ bị khóa.\nXác minh tại https://lua.example/\n"
    encoded = "=?utf-8?b?" + base64.b64encode(name.encode()).decode() + "?="
    mail = article_mail(STRANGER, DEMO_BOX, "[MẬT] Xác minh tài khoản", "Nội dung.")
    rig.drop(re.sub(rb"^From: .*$", f"From: {encoded} <{STRANGER}>".encode(), mail, flags=re.M))
    rig.runner.run_once()
    [item] = rig.items()
    assert item.state == State.QUARANTINED
    assert (
        item.sender_name
        == "quý khách, Hộp thư của quý vị sẽ bị khóa. Xác minh tại https://lua.example/"
    )
    [alert] = rig.sent()
    assert str(alert["To"]) == "an.nv@demo.bientap.vn"
    [shown] = [line for line in alert.get_content().splitlines() if "khóa" in line]
    assert shown.startswith("  Người gửi: quý khách,")


def test_a_receipt_to_a_mail_with_an_endless_message_id_stays_within_smtp_lines(
    rig: Rig,
) -> None:
    """Threading headers would repeat a 2,000-character Message-ID on one line, past the
    998 characters a mail server takes: the receipt goes without them."""
    long_id = f"<{'x' * 2000}@sgddt.demo.bientap.vn>"
    rig.drop(article_mail(AGENCY_SENDER, DEMO_BOX, message_id=long_id))
    rig.runner.run_once()
    [receipt, _request] = rig.sent()
    assert receipt["In-Reply-To"] is None and "Mã theo dõi" in receipt.get_content()
    for sent in (rig.outbox / "new").iterdir():
        assert max(len(line) for line in sent.read_bytes().splitlines()) <= 998


def test_a_long_title_is_cut_in_the_subjects_at_a_word_and_the_codes_are_kept(rig: Rig) -> None:
    """The receipt's subject was cut at 200 characters, in the middle of a word and with
    nothing to say so; the review request's ran on for the whole title, its tracking code
    and reply tag far past what a phone shows."""
    title = "[GD] " + " ".join(["Hội nghị tổng kết công tác chuyển đổi số năm 2026"] * 6)
    rig.drop(article_mail(AGENCY_SENDER, DEMO_BOX, title))
    rig.runner.run_once()
    [item] = rig.items()
    receipt, request = rig.sent()
    code = re.escape(item.tracking_code)
    for mail, pattern in (
        (receipt, rf"\[{code}\] Đã nhận: (.+)"),
        (request, rf"\[Duyệt tin bài\] (.+) — {code} \[#r\w+\]"),
    ):
        match = re.fullmatch(pattern, str(mail["Subject"]))
        assert match is not None, mail["Subject"]
        shown = match.group(1)
        assert shown.endswith("…") and len(shown) <= 121
        headline = title.removeprefix("[GD] ")  # the tag routes it: no part of the title
        assert headline.startswith(shown[:-1]) and headline[len(shown) - 1] == " "  # whole word


@pytest.mark.parametrize(
    ("subject", "title"),
    [
        ("[GD] [Tin] Ngày hội tuyển sinh năm 2026", "Ngày hội tuyển sinh năm 2026"),
        ("Fwd: [Giáo dục và Đào tạo] Ngày hội tuyển sinh [tin]", "Ngày hội tuyển sinh"),
        ("[Infographic] Tuyển sinh năm 2026 [GD]", "[Infographic] Tuyển sinh năm 2026"),
    ],
)
def test_the_tags_that_route_a_submission_are_no_part_of_its_title(
    rig: Rig, subject: str, title: str
) -> None:
    """A field's or a kind's tag tells the board where the item goes; published in the
    headline it would read «[GD] [Tin] Ngày hội…» on the portal. A tag the board does not
    know may be the headline's own."""
    rig.drop(article_mail(AGENCY_SENDER, DEMO_BOX, subject))
    rig.runner.run_once()
    [item] = rig.items()
    assert item.title == title
    assert (item.field_ids, item.kind) == (["giao-duc"], "tin")  # the tags still route it
    with rig.sessions() as s:
        [version] = s.scalars(select(SubmissionVersion)).all()
    assert version.title == title  # what reviewers approve is what is published
    assert version.content_hash == item.content_hash


def test_a_mail_whose_content_could_not_all_be_read_says_so(rig: Rig) -> None:
    """The article sits 45 MIME levels deep (past what is walked): what was lost is on
    the item, and the sender, asked for an author the lost text held, is told why."""
    part: MIMEBase = MIMEText(NEWS_BODY, "plain", "utf-8")
    for _ in range(45):
        outer = MIMEMultipart("mixed")
        outer.attach(part)
        part = outer
    part["From"], part["To"], part["Subject"] = AGENCY_SENDER, DEMO_BOX, NEWS_TITLE
    rig.drop(part.as_bytes())
    rig.runner.run_once()
    [item] = rig.items()
    [damage] = [f for f in item.flags if f["code"] == "damaged-mail"]
    assert any("dropped" in d for d in damage["detail"]["defects"])
    assert item.state == State.RETURNED
    [notice] = rig.sent()
    assert "thư bị lỗi cấu trúc" in notice.get_content()


def test_a_board_sending_from_an_address_it_does_not_read_is_answered_at_its_mailbox(
    tmp_path: Path, db_url: str
) -> None:
    """Sent from «không trả lời», a receipt or a return notice was answered there: the
    sender's corrected version never reached the board. Replies now go to its mailbox;
    a review request's still go to its own reply address."""
    board = load_board(CONFIG / "demo.toml")
    out = board.mail_out.model_copy(update={"from_address": "khong-tra-loi@demo.bientap.vn"})
    rig = make_rig(tmp_path, db_url, board.model_copy(update={"mail_out": out}))
    rig.drop(article_mail(AGENCY_SENDER, DEMO_BOX))
    rig.drop(article_mail("vanthu@syt.demo.bientap.vn", DEMO_BOX, "[YT] Khám sàng lọc", "Tin."))
    rig.runner.run_once()
    receipt, request, returned = rig.sent()
    assert "Đã nhận" in str(receipt["Subject"]) and "Cần bổ sung" in str(returned["Subject"])
    assert receipt["Reply-To"] == returned["Reply-To"] == DEMO_BOX
    assert str(request["Reply-To"]).startswith("bbt+r")


def test_bi_mat_in_a_headline_is_not_a_stamp(rig: Rig) -> None:
    rig.drop(article_mail(AGENCY_SENDER, DEMO_BOX, "BÍ MẬT CỦA NHỮNG HỌC SINH GIỎI", NEWS_BODY))
    rig.runner.run_once()
    assert rig.items()[0].state == State.PENDING_REVIEW


def test_missing_author_returns_once_a_day(rig: Rig) -> None:
    body = "Sở Giáo dục tổ chức hội nghị tổng kết năm học tại hội trường.\n"
    rig.drop(article_mail(AGENCY_SENDER, DEMO_BOX, "Hội nghị tổng kết năm học", body))
    rig.drop(article_mail(AGENCY_SENDER, DEMO_BOX, "Hội nghị tổng kết (gửi lại)", body + "."))
    rig.runner.run_once()
    items = rig.items()
    assert [i.state for i in items] == [State.RETURNED, State.RETURNED]
    assert all("Thiếu tên tác giả" in (i.reason or "") for i in items)
    [notice] = rig.sent()  # the second is suppressed by the daily limit
    assert "Thiếu tên tác giả" in notice.get_content()


def test_unknown_sender_is_held_without_reply(rig: Rig) -> None:
    rig.drop(article_mail("someone@unknown.example", DEMO_BOX))
    rig.runner.run_once()
    [item] = rig.items()
    assert item.state == State.HELD
    assert rig.sent() == []


def test_sensitive_topic_is_flagged_for_escalation(rig: Rig) -> None:
    rig.drop(article_mail(AGENCY_SENDER, DEMO_BOX, body=NEWS_BODY + "\nVụ việc là điểm nóng.\n"))
    rig.runner.run_once()
    [item] = rig.items()
    assert item.state == State.PENDING_REVIEW
    assert [f["action"] for f in item.flags if f["code"] == "sensitive-topic"] == ["escalate"]


def test_near_duplicate_points_to_the_earlier_item(rig: Rig) -> None:
    rig.drop(article_mail(AGENCY_SENDER, DEMO_BOX, message_id="<a@x>"))
    rig.runner.run_once()
    edited = NEWS_BODY.replace("hơn 1.200", "gần 1.300")
    rig.drop(article_mail(AGENCY_SENDER, DEMO_BOX, body=edited, message_id="<b@x>"))
    rig.drop(
        article_mail(
            AGENCY_SENDER,
            DEMO_BOX,
            "Tin khác",
            "Một nội dung hoàn toàn khác về y tế cơ sở và tiêm chủng.\n"
            "Tin, ảnh: Lê Thị Hồng Nhung\n",
            message_id="<c@x>",
        )
    )
    rig.runner.run_once()
    first, second, third = rig.items()
    [dup] = [f for f in second.flags if f["code"] == "near-duplicate"]
    assert dup["detail"]["submission_id"] == first.id
    assert first.tracking_code in dup["message"]
    assert second.duplicate_of == first.id
    assert not [f for f in third.flags if f["code"] == "near-duplicate"]


def test_near_duplicates_arriving_together_are_caught(rig: Rig) -> None:
    """The same article mailed twice in a minute lands in one batch: the second is still
    flagged, pointing to the first."""
    rig.drop(article_mail(AGENCY_SENDER, DEMO_BOX, message_id="<a@x>"))
    edited = NEWS_BODY.replace("hơn 1.200", "gần 1.300")
    rig.drop(article_mail(AGENCY_SENDER, DEMO_BOX, body=edited, message_id="<b@x>"))
    rig.runner.run_once()
    first, second = rig.items()
    assert second.duplicate_of == first.id
    assert [f["code"] for f in second.flags].count("near-duplicate") == 1


def limited(**limits: float) -> Board:
    """The demo board with other size limits (MB)."""
    board = load_board(CONFIG / "demo.toml")
    return board.model_copy(update={"limits": board.limits.model_copy(update=limits)})


def test_oversized_attachment_is_kept_and_sender_told(tmp_path: Path, db_url: str) -> None:
    # a 1 MB limit: a 20 MB file would make a mail over the whole message's 25 MB
    rig = make_rig(tmp_path, db_url, limited(max_attachment_mb=1))
    big = b"\0" * (int(rig.board.limits.max_attachment_mb * 1024 * 1024) + 10)
    rig.drop(article_mail(AGENCY_SENDER, DEMO_BOX, attachments=[("video.mp4", "video/mp4", big)]))
    rig.runner.run_once()
    [item] = rig.items()
    assert item.state == State.RETURNED
    [stored] = item.files
    assert stored.sha256 is None and stored.size == len(big)
    with rig.sessions() as s:  # the raw message, attachment included, is kept
        assert (s.scalar(select(func.max(RawMessage.size))) or 0) > len(big)
    [notice] = rig.sent()
    assert "video.mp4 (1,1 MB; tối đa 1 MB)" in notice.get_content()  # a size above the limit


def test_a_message_over_the_size_limit_is_returned_unparsed(
    tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only its header fields are read: no reading stage runs on its megabytes (parsing
    and normalising 30 MB took gigabytes); it is kept raw, and its sender told."""
    rig = make_rig(tmp_path, db_url, limited(max_message_mb=1))
    ran: list[str] = []

    def watched(name: str, stage: Callable[[reading.Draft], None]) -> Callable[..., None]:
        def run(d: reading.Draft) -> None:
            ran.append(name)
            stage(d)

        return run

    monkeypatch.setattr(reading, "STAGES", tuple((n, watched(n, s)) for n, s in reading.STAGES))
    big = b"\0" * (1024 * 1024)  # 1.3 MB in base64: over the message limit, not the file one
    rig.drop(
        article_mail(
            AGENCY_SENDER, DEMO_BOX, message_id="<big@x>", attachments=[("a.mp4", "video/mp4", big)]
        )
    )
    rig.drop(article_mail(AGENCY_SENDER, DEMO_BOX, "Tin nhỏ", message_id="<small@x>"))
    rig.runner.run_once()
    assert ran == [name for name, _ in reading.STAGES]  # the small message's stages only
    big_item, small = rig.items()
    assert (big_item.message_id, big_item.state, small.state) == (
        "big@x",
        State.RETURNED,
        State.PENDING_REVIEW,
    )
    assert big_item.title == NEWS_TITLE and big_item.sender_address == AGENCY_SENDER
    assert [f["code"] for f in big_item.flags] == ["too-large"]
    assert big_item.files == []
    with rig.sessions() as s:  # the raw message is kept whole
        assert (s.scalar(select(func.max(RawMessage.size))) or 0) > len(big)
    notice = next(m for m in rig.sent() if "Cần bổ sung" in str(m["Subject"]))
    assert notice["To"] == AGENCY_SENDER
    # the size and the limit (it read «toàn bộ thư (1 MB)» against a limit of 1 MB)
    assert "toàn bộ thư (1,4 MB; tối đa 1 MB)" in notice.get_content()


BIG = [("video.mp4", "video/mp4", b"\0" * (1024 * 1024))]  # over a 1 MB message limit


def test_a_correction_over_the_size_limit_leaves_the_item_as_it_was(
    tmp_path: Path, db_url: str
) -> None:
    """Only its header fields are read, so it has no content: taken as a new version, it
    emptied the article under review and returned it. The sender is told instead."""
    rig = make_rig(tmp_path, db_url, limited(max_message_mb=1))
    rig.drop(article_mail(AGENCY_SENDER, DEMO_BOX, message_id="<a@x>"))
    rig.runner.run_once()
    [before] = rig.items()
    receipt = next(m for m in rig.sent() if "Đã nhận" in str(m["Subject"]))
    rig.drop(
        article_mail(
            AGENCY_SENDER,
            DEMO_BOX,
            "Re: " + str(receipt["Subject"]),
            "Gửi lại kèm video.",
            attachments=BIG,
            extra_headers={"In-Reply-To": str(receipt["Message-ID"])},
        )
    )
    rig.runner.run_once()
    [after] = rig.items()
    assert (after.state, after.body_text, after.flags) == (
        State.PENDING_REVIEW,
        before.body_text,
        before.flags,
    )
    notice = next(m for m in rig.sent() if "Chưa nhận bản bổ sung" in str(m["Subject"]))
    assert notice["To"] == AGENCY_SENDER
    assert "cho phép: toàn bộ thư (1,4 MB; tối đa 1 MB), nên" in notice.get_content()


def test_a_reviewers_reply_over_the_size_limit_is_answered_not_taken_as_news(
    tmp_path: Path, db_url: str
) -> None:
    """A reply carrying the article's files back: its decision cannot be read, so the
    reviewer is asked to answer without them; it was taken for a new submission from
    the reviewer, and returned to him as too large."""
    rig = make_rig(tmp_path, db_url, limited(max_message_mb=1))
    rig.drop(article_mail(AGENCY_SENDER, DEMO_BOX, message_id="<a@x>"))
    rig.runner.run_once()
    request = next(m for m in rig.sent() if m["Reply-To"] is not None)
    reviewer = request["To"].addresses[0].addr_spec
    rig.drop(
        article_mail(
            reviewer,
            str(request["Reply-To"]),
            "Re: " + str(request["Subject"]),
            "Duyệt",
            attachments=BIG,
            extra_headers={"In-Reply-To": str(request["Message-ID"])},
        )
    )
    rig.runner.run_once()
    [item] = rig.items()
    assert item.state == State.PENDING_REVIEW
    answer = rig.sent()[-1]
    text = answer.get_body(("plain",))
    assert answer["To"] == reviewer and text is not None
    assert "vượt dung lượng cho phép" in text.get_content()


def test_a_bounce_over_the_size_limit_is_set_aside_not_answered(
    tmp_path: Path, db_url: str
) -> None:
    """A bounce carrying back a big mail is still a bounce, read from its header fields."""
    rig = make_rig(tmp_path, db_url, limited(max_message_mb=1))
    bounce = article_mail(
        "MAILER-DAEMON@sgddt.demo.bientap.vn",
        DEMO_BOX,
        "Undelivered Mail Returned to Sender",
        message_id="<bounce@x>",
        attachments=[("a.mp4", "video/mp4", b"\0" * (1024 * 1024))],
        extra_headers={"Auto-Submitted": "auto-replied"},
    )
    rig.drop(bounce)
    rig.runner.run_once()
    [item] = rig.items()
    assert item.state == State.SET_ASIDE and "auto" in (item.reason or "").lower()
    assert rig.sent() == []


def test_a_message_file_that_cannot_be_read_is_read_once_it_can_be(rig: Rig) -> None:
    """The file first in the inbox cannot be opened (here a link to itself: the tests run
    as root, who reads a file of any mode): the mail behind it is stored and filed, pass
    after pass; once the file is put right, it is read into an item like any other."""
    rig.drop(article_mail(AGENCY_SENDER, DEMO_BOX, message_id="<a@x>"))
    broken = rig.inbox / "new" / "1700000000.M1P1Q1.broken"  # the oldest: read first
    broken.symlink_to(broken.name)
    assert rig.runner.run_once().recorded == 2  # both on record: that one waits, unread
    rig.runner.run_once()  # the next pass does not stop at it either
    [item] = rig.items()
    assert item.message_id == "a@x"
    assert [p.name for p in (rig.inbox / "new").iterdir()] == [broken.name]
    broken.unlink()
    broken.write_bytes(article_mail(AGENCY_SENDER, DEMO_BOX, "Tin hai", message_id="<b@x>"))
    assert rig.runner.run_once().processed == 1
    first, late = rig.items()
    assert late.message_id == "b@x" and late.state == State.PENDING_REVIEW
    assert list((rig.inbox / "new").iterdir()) == []
    with rig.sessions() as s:  # one record each: the one made unread became the message's
        assert s.scalar(select(func.count(RawMessage.id))) == 2


def test_a_message_file_never_readable_is_kept_failed_after_its_tries(rig: Rig) -> None:
    rig.runner.clock = clock = Clock()
    broken = rig.inbox / "new" / "1700000000.M1P1Q1.broken"
    broken.parent.mkdir(parents=True, exist_ok=True)
    broken.symlink_to(broken.name)
    for attempt in range(1, runner.MAX_ATTEMPTS + 1):
        assert rig.items() == []  # not yet: it is read again on a later pass
        rig.runner.run_once()
        clock.later(runner.retry_delay(attempt))
    [failed] = rig.items()
    assert failed.state == State.FAILED and "không trả được thư" in (failed.reason or "")
    assert "Too many levels of symbolic links" in (failed.reason or "")
    rig.runner.run_once()  # read again with the inbox, it is not a second item
    assert [i.id for i in rig.items()] == [failed.id]
    assert [p.name for p in (rig.inbox / "new").iterdir()] == [broken.name]


def test_auto_replies_are_set_aside_and_never_answered(rig: Rig) -> None:
    rig.drop(article_mail(AGENCY_SENDER, DEMO_BOX, "Trả lời tự động: Vắng mặt", "Tôi đi vắng."))
    rig.drop(
        article_mail(
            AGENCY_SENDER,
            DEMO_BOX,
            "Out of Office",
            "Away",
            extra_headers={"X-Auto-Response-Suppress": "All"},
        )
    )
    rig.drop(
        article_mail(
            DEMO_BOX, DEMO_BOX, "Loop", "Our own mail", extra_headers={"X-Bientap-Loop": "demo"}
        )
    )
    rig.drop(
        article_mail(
            "news@list.example",
            DEMO_BOX,
            "Bản tin",
            "Tin tức",
            extra_headers={"List-Id": "<news.list.example>"},
        )
    )
    rig.runner.run_once()
    items = rig.items()
    assert [i.state for i in items] == [State.SET_ASIDE] * 4
    assert all(i.reason for i in items)
    assert rig.sent() == []
    assert len(list((rig.inbox / ".Không phải bài gửi" / "new").iterdir())) == 4


def docx_article(heading: str, text: str) -> bytes:
    import io

    from docx import Document

    doc = Document()
    doc.add_heading(heading, level=1)
    doc.add_paragraph(text)
    doc.add_paragraph("Tác giả: Lê Thị Hồng Nhung")
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()


COVER_NOTE = "Kính gửi Ban Biên tập, đơn vị gửi bài đính kèm."


def word_mail(
    name: str, data: bytes, subject: str = "Gửi bài hội thi giáo viên", ctype: str = DOCX_TYPE
) -> bytes:
    """An agency's mail as most come: a cover note, the article in a Word file."""
    return article_mail(
        AGENCY_SENDER, DEMO_BOX, subject, COVER_NOTE, attachments=[(name, ctype, data)]
    )


def test_docx_attachment_becomes_the_article(rig: Rig) -> None:
    data = docx_article(
        "Hội thi giáo viên dạy giỏi cấp tỉnh",
        "Hội thi thu hút 300 giáo viên đến từ các trường học trong tỉnh.",
    )
    rig.drop(word_mail("hoi-thi.docx", data))
    rig.runner.run_once()
    [item] = rig.items()
    # its headline is the title («Gửi bài…» was only the cover), not a line of the body too
    assert item.title == "Hội thi giáo viên dạy giỏi cấp tỉnh"
    assert item.body_html.startswith("<p>Hội thi thu hút 300 giáo viên")
    assert "Hội thi giáo viên dạy giỏi" not in item.body_text
    assert item.author == "Lê Thị Hồng Nhung"
    assert [(f.filename, f.role) for f in item.files] == [("hoi-thi.docx", "article")]
    assert rig.files.get(item.files[0].sha256 or "") == data
    assert item.flags == []
    assert "Lưu ý" not in rig.sent()[0].get_content()


def test_a_corrected_word_article_brings_its_own_headline(rig: Rig) -> None:
    """The sender answers the receipt with the article fixed, its headline reworded: the
    item's title is the new file's (it stayed the first one's, and the portal would
    have published the old headline over the new text). A correction written in the
    reply itself keeps the title: its subject is only «Re: [code] …»."""
    first = docx_article("Hội thi giáo viên dạy giỏi", "Hội thi thu hút 300 giáo viên.")
    rig.drop(word_mail("hoi-thi.docx", first))
    rig.runner.run_once()
    [item] = rig.items()
    receipt = next(m for m in rig.sent() if item.tracking_code in str(m["Subject"]))
    fixed = docx_article(
        "Hội thi giáo viên dạy giỏi cấp tỉnh năm 2026", "Hội thi có 320 giáo viên."
    )
    answer = {"In-Reply-To": str(receipt["Message-ID"])}
    rig.drop(
        article_mail(
            AGENCY_SENDER,
            DEMO_BOX,
            f"Re: {receipt['Subject']}",
            COVER_NOTE,
            attachments=[("hoi-thi-sua.docx", DOCX_TYPE, fixed)],
            extra_headers=answer,
        )
    )
    rig.runner.run_once()
    [item] = rig.items()
    assert (item.version, item.title) == (2, "Hội thi giáo viên dạy giỏi cấp tỉnh năm 2026")
    assert "320 giáo viên" in item.body_text and "cấp tỉnh năm" not in item.body_text
    body = "Hội thi có 330 giáo viên.\n\nTác giả: Lê Thị Hồng Nhung"
    rig.drop(
        article_mail(
            AGENCY_SENDER, DEMO_BOX, f"Re: {receipt['Subject']}", body, extra_headers=answer
        )
    )
    rig.runner.run_once()
    [item] = rig.items()
    assert (item.version, item.title) == (3, "Hội thi giáo viên dạy giỏi cấp tỉnh năm 2026")


def word_file(*paragraphs: tuple[str, str]) -> bytes:
    """A .docx of (style, text) paragraphs: "bold", "plain" or a heading "h1"."""
    import io

    from docx import Document

    doc = Document()
    for style, text in paragraphs:
        if style == "h1":
            doc.add_heading(text, level=1)
        else:
            doc.add_paragraph().add_run(text).bold = style == "bold"
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()


STORY = "Sáng 5/11, Sở Giáo dục và Đào tạo tổ chức hội thi cho 300 giáo viên dạy giỏi."


@pytest.mark.parametrize(
    ("first", "title"),
    [
        (("bold", "Khai mạc hội thi giáo viên dạy giỏi"), "Khai mạc hội thi giáo viên dạy giỏi"),
        (("plain", "KHAI MẠC HỘI THI GIÁO VIÊN DẠY GIỎI"), "KHAI MẠC HỘI THI GIÁO VIÊN DẠY GIỎI"),
        # a sentence, a label, an issuing body: the body's, and the subject is the title
        (("plain", "Khai mạc hội thi giáo viên dạy giỏi"), "Tin hội thi"),
        (("bold", "Sáng nay khai mạc hội thi giáo viên dạy giỏi."), "Tin hội thi"),
        (("bold", "ỦY BAN NHÂN DÂN HUYỆN TÂN PHÚ"), "Tin hội thi"),
    ],
)
def test_a_word_articles_headline_is_its_title_when_it_is_set_apart(
    rig: Rig, first: tuple[str, str], title: str
) -> None:
    data = word_file(first, ("plain", STORY), ("plain", "Tác giả: Lê Thị Hồng Nhung"))
    rig.drop(word_mail("bai.docx", data, "[GD] Tin hội thi"))
    rig.runner.run_once()
    [item] = rig.items()
    assert item.title == title and item.field_ids == ["giao-duc"]
    assert (first[1] in item.body_text) is (title != first[1])  # never twice, never lost


@pytest.mark.parametrize(
    "data", [b"", b"PK\x03\x04 hong", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1 (a .doc renamed)"]
)
def test_a_word_article_that_cannot_be_opened_is_returned_saying_so(rig: Rig, data: bytes) -> None:
    """The cover note was taken for the article, silently: the sender was told it lacked
    an author (which the file held), and reviewers were asked to approve the cover note."""
    rig.drop(word_mail("bai-hoi-thi.docx", data, "Tin hội thi"))
    rig.runner.run_once()
    [item] = rig.items()
    assert item.state == State.RETURNED
    assert [f["code"] for f in item.flags] == ["unreadable-word"]  # not "missing author"
    assert [(f.filename, f.role) for f in item.files] == [("bai-hoi-thi.docx", "attachment")]
    [notice] = rig.sent()
    text = " ".join(notice.get_content().split())
    assert "Không mở được tệp “bai-hoi-thi.docx”" in text
    assert "Đề nghị gửi lại tệp .docx mở được" in text


def test_a_word_document_keeps_the_subject_as_its_title(rig: Rig) -> None:
    """A document is named by its kind and number, not by its first line."""
    data = word_file(
        ("bold", "QUYẾT ĐỊNH VỀ VIỆC BAN HÀNH QUY CHẾ"),
        ("plain", "Số: 1060/QĐ-UBND"),
        ("plain", "Điều 1. Ban hành kèm theo Quyết định này Quy chế làm việc."),
    )
    rig.drop(word_mail("qd.docx", data, "[Văn bản] Quyết định 1060/QĐ-UBND ban hành Quy chế"))
    rig.runner.run_once()
    [item] = rig.items()
    assert item.kind == "van_ban"
    assert item.title == "Quyết định 1060/QĐ-UBND ban hành Quy chế"


def test_a_docx_article_with_a_photo_caption_and_a_closing_byline_names_its_writer(
    rig: Rig,
) -> None:
    """How agencies write it: a photo with «Ảnh: …» under it, «Thu Hà - TTVH» at the end.
    The caption was read as the author; the byline was not read, so without the caption
    the article went back to its sender for a missing author."""
    import io

    from docx import Document
    from docx.enum.text import WD_ALIGN_PARAGRAPH

    from tests.test_docx import PNG

    def article(caption: bool) -> bytes:
        doc = Document()
        doc.add_paragraph().add_run("HỘI THI GIÁO VIÊN DẠY GIỎI CẤP TỈNH").bold = True
        doc.add_paragraph("Hội thi thu hút 300 giáo viên đến từ các trường học trong tỉnh.")
        if caption:
            doc.add_picture(io.BytesIO(PNG))
            doc.add_paragraph().add_run("Ảnh: Toàn cảnh hội thi").italic = True
        closing = doc.add_paragraph()
        closing.alignment = WD_ALIGN_PARAGRAPH.RIGHT
        closing.add_run("Thu Hà - TTVH").bold = True
        buf = io.BytesIO()
        doc.save(buf)
        return buf.getvalue()

    for caption in (True, False):
        rig.drop(word_mail("hoi-thi.docx", article(caption)))
    rig.runner.run_once()
    with_photo, without = rig.items()
    for item in (with_photo, without):
        assert (item.state, item.author, item.unit) == (State.PENDING_REVIEW, "Thu Hà", "TTVH")
    assert [(f.role, f.content_type) for f in with_photo.files] == [
        ("article", DOCX_TYPE),
        ("inline", "image/png"),
    ]
    assert re.search(r'<img src="cid:[^"]+"></p>\s*<p><em>Ảnh: Toàn cảnh', with_photo.body_html)


def test_a_docm_attachment_becomes_the_article_not_a_file_for_the_portal(rig: Rig) -> None:
    """Word saves a document with macros as .docm: the cover note was published as the
    article, the .docm (macros and all) as a file to download from the portal."""
    import io
    import zipfile

    source = zipfile.ZipFile(io.BytesIO(docx_article("Hội thi giáo viên", "300 giáo viên.")))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as docm:
        for info in source.infolist():
            content = source.read(info).replace(
                b"wordprocessingml.document.main+xml", b"vnd.ms-word.document.macroEnabled.main+xml"
            )
            docm.writestr(info, content)
        docm.writestr("word/vbaProject.bin", b"\xd0\xcf\x11\xe0 macros")
    docm_type = "application/vnd.ms-word.document.macroEnabled.12"
    rig.drop(word_mail("hoi-thi.docm", buffer.getvalue(), ctype=docm_type))
    rig.runner.run_once()
    [item] = rig.items()
    assert item.title == "Hội thi giáo viên"  # its headline; «Gửi bài…» was the cover
    assert "300 giáo viên" in item.body_text
    assert "Kính gửi" not in item.body_html
    assert [(f.filename, f.role) for f in item.files] == [("hoi-thi.docm", "article")]


def test_articles_beyond_the_one_read_are_pointed_out_to_reviewer_and_sender(rig: Rig) -> None:
    rig.drop(
        article_mail(
            AGENCY_SENDER,
            DEMO_BOX,
            "Gửi 02 tin bài tháng 3",
            "Kính gửi Ban Biên tập, đơn vị gửi 02 tin bài đính kèm.",
            attachments=[
                ("hoi-thi.docx", DOCX_TYPE, docx_article("Hội thi giáo viên", "300 giáo viên.")),
                ("tuyen-sinh.docx", DOCX_TYPE, docx_article("Ngày hội tuyển sinh", "1.200 em.")),
            ],
        )
    )
    rig.runner.run_once()
    [item] = rig.items()
    assert [(f.filename, f.role) for f in item.files] == [
        ("hoi-thi.docx", "article"),
        ("tuyen-sinh.docx", "attachment"),
    ]
    [flag] = item.flags
    assert flag["code"] == "several-articles" and "“tuyen-sinh.docx”" in flag["message"]
    receipt, request = rig.sent()
    assert "“tuyen-sinh.docx”" in receipt.get_content()
    assert "mỗi tin, bài một thư" in receipt.get_content()
    plain = request.get_body(("plain",))
    assert plain is not None and "“tuyen-sinh.docx”" in plain.get_content()


def test_crash_at_any_point_neither_loses_nor_duplicates(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Crash(BaseException):
        pass

    def crash(*_a: object, **_k: object) -> None:
        raise Crash

    def restart() -> None:  # what the daemon does when it starts alone on its SQLite file
        claims.free(rig.sessions)

    rig.drop(article_mail(AGENCY_SENDER, DEMO_BOX, message_id="<one@x>"))
    # 1: crash while storing (after every stage but the last)
    monkeypatch.setattr(ingest, "STAGES", (*ingest.STAGES[:-1], ("crash", crash)))
    with pytest.raises(Crash):
        rig.runner.run_once()
    assert rig.items() == []
    monkeypatch.undo()
    restart()
    # 2: crash after processing, before the receipt is sent
    monkeypatch.setattr(rig.runner, "deliver", crash)
    with pytest.raises(Crash):
        rig.runner.run_once()
    monkeypatch.undo()
    restart()
    # 3: crash after sending, before the mail is filed: it is read again on restart
    monkeypatch.setattr(rig.runner.source, "file", crash)
    with pytest.raises(Crash):
        rig.runner.run_once()
    monkeypatch.undo()
    restart()
    rig.runner.run_once()
    rig.runner.run_once()
    assert len(rig.items()) == 1
    sent = rig.sent()
    assert [m["To"] for m in sent].count(AGENCY_SENDER) == 1, "one receipt"
    assert len(sent) == 2, "and one review request"
    with rig.sessions() as s:
        assert s.scalar(select(func.count(RawMessage.id))) == 1


def test_a_second_copy_of_a_mail_is_filed_with_it_not_stored_again(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same mail twice in the inbox, the second with the trace fields of another
    delivery: one item, one receipt; both copies are filed, also after a crash while
    filing."""
    mail = article_mail(AGENCY_SENDER, DEMO_BOX, message_id="<one@x>")
    rig.drop(mail)
    rig.drop(b"Received: by mx.demo; Mon, 7 Dec 2026 07:00:00 +0700\r\n" + mail)

    def crash(*_a: object, **_k: object) -> None:
        raise KeyboardInterrupt  # killed while filing

    monkeypatch.setattr(rig.runner.source, "file", crash)
    with pytest.raises(KeyboardInterrupt):
        rig.runner.run_once()
    monkeypatch.undo()
    claims.free(rig.sessions)  # the daemon restarts
    for _ in range(2):
        rig.runner.run_once()
    [item] = rig.items()
    assert item.message_id == "one@x"
    assert [m["To"] for m in rig.sent()].count(AGENCY_SENDER) == 1
    assert not list((rig.inbox / "new").iterdir()) and not list((rig.inbox / "cur").iterdir())
    assert len(list((rig.inbox / ".Đã xử lý" / "new").iterdir())) == 2


def test_a_message_recorded_under_the_whole_message_fingerprint_is_still_known(
    rig: Rig,
) -> None:
    """Recorded before trace fields were left out of the fingerprint, not filed yet: it is
    not stored a second time when read again."""
    mail = b"Received: by mx.demo; Mon, 7 Dec 2026 07:00:00 +0700\r\n" + article_mail(
        AGENCY_SENDER, DEMO_BOX, message_id="<old@x>"
    )
    rig.drop(mail)
    assert rig.runner.record() == 1
    with rig.sessions.begin() as s:
        raw = s.scalars(select(RawMessage)).one()
        raw.fingerprint = runner.whole_fingerprint(mail, "old@x")
    assert rig.runner.record() == 0
    rig.runner.run_once()
    assert len(rig.items()) == 1
    assert len(list((rig.inbox / ".Đã xử lý" / "new").iterdir())) == 1


def test_a_message_that_breaks_the_pipeline_is_kept_and_the_next_goes_on(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(d: reading.Draft) -> None:
        if "hỏng" in d.title:
            raise ValueError("bug in a stage")

    monkeypatch.setattr(
        reading, "STAGES", (*reading.STAGES[:4], ("boom", boom), *reading.STAGES[4:])
    )
    rig.drop(article_mail(AGENCY_SENDER, DEMO_BOX, "Thư hỏng", message_id="<bad@x>"))
    rig.drop(article_mail(AGENCY_SENDER, DEMO_BOX, message_id="<good@x>"))
    for _ in range(3):
        rig.runner.run_once()
    bad, good = sorted(rig.items(), key=lambda i: i.message_id != "bad@x")
    assert good.state == State.PENDING_REVIEW
    assert bad.state == State.FAILED
    assert "ValueError: bug in a stage" in (bad.reason or "")


def test_a_message_that_kills_the_daemon_is_kept_as_failed_at_its_third_try(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Out of memory or a crash in a C library ends the process, not with an exception:
    a message in hand when its daemon died counts a try, one tried before is read alone,
    so the daemon is not killed for ever and the mail behind it goes on."""

    class Killed(BaseException):  # not an Exception: nothing in the daemon catches it
        pass

    def kill(d: reading.Draft) -> None:
        if "độc" in d.title:
            raise Killed

    monkeypatch.setattr(
        reading, "STAGES", (*reading.STAGES[:4], ("kill", kill), *reading.STAGES[4:])
    )
    rig.drop(article_mail(AGENCY_SENDER, DEMO_BOX, "Thư độc", message_id="<poison@x>"))
    rig.drop(article_mail(AGENCY_SENDER, DEMO_BOX, message_id="<good@x>"))
    deaths = 0
    for _ in range(6):
        try:
            rig.runner.run_once()
        except Killed:
            deaths += 1
            claims.free(rig.sessions)  # the daemon restarts alone on its SQLite file
    assert deaths == runner.MAX_ATTEMPTS
    poison, good = sorted(rig.items(), key=lambda i: i.message_id != "poison@x")
    assert good.state == State.PENDING_REVIEW
    assert poison.state == State.FAILED and "daemon dừng" in (poison.reason or "")


def test_an_attachment_store_that_cannot_be_written_fails_no_mail(
    rig: Rig, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A file stands where the attachment store's folder should be (a full disk fails the
    same writes): a mail with a file waits, however many passes, with no attempt counted
    and the reason in ``bientap status``; a mail without one goes on; once the store can
    be written, the first is stored whole."""
    rig.files.root.write_text("không phải thư mục")
    pdf = ("cong-van-1060.pdf", "application/pdf", b"%PDF-1.4 cong van")
    rig.drop(article_mail(AGENCY_SENDER, DEMO_BOX, attachments=[pdf], message_id="<file@x>"))
    other = "Hội thảo chuyển đổi số tại huyện, 300 cán bộ tham dự, do Sở Thông tin tổ chức."
    rig.drop(article_mail(AGENCY_SENDER, DEMO_BOX, "Hội thảo", other, message_id="<plain@x>"))
    for _ in range(runner.MAX_ATTEMPTS + 1):
        rig.runner.run_once()
    assert [i.message_id for i in rig.items()] == ["plain@x"]
    with rig.sessions() as s:
        waiting = s.scalars(select(RawMessage).where(RawMessage.message_id == "file@x")).one()
    assert (waiting.status, waiting.attempts) == (RawStatus.NEW, 0)
    status = ["--config", str(CONFIG / "demo.toml"), "--database-url", db_url, "status"]
    assert cli.main([*status, "--json"]) == 0
    [box] = json.loads(capsys.readouterr().out)["mailboxes"]
    assert box["backlog"] == 1
    assert f"attachment store {rig.files.root} cannot be written" in box["last_error"]
    rig.files.root.unlink()
    rig.runner.run_once()
    stored = next(i for i in rig.items() if i.message_id == "file@x")
    assert stored.state == State.PENDING_REVIEW
    [kept] = [f for f in stored.files if f.filename == pdf[0]]
    assert kept.sha256 is not None and rig.files.get(kept.sha256) == pdf[2]


def test_cli_lists_and_shows_items(
    rig: Rig, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    rig.drop(article_mail(AGENCY_SENDER, DEMO_BOX))
    rig.runner.run_once()
    assert cli.main(["--database-url", db_url, "list", "--json"]) == 0
    [listed] = json.loads(capsys.readouterr().out)
    assert listed["state"] == "pending_review" and listed["agency"] == "so-gddt"
    assert cli.main(["--database-url", db_url, "show", listed["tracking_code"], "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["members"] == ["uv-giao-duc"] and shown["kind"] == "tin"
    assert shown["author"] == "Lê Thị Hồng Nhung"
    kinds = [(h["kind"], h["seq"]) for h in shown["history"]]
    assert kinds[:2] == [("pending_review", 1), ("routed", 2)]
    assert [(t["step"], t["member"], t["state"]) for t in shown["review"]] == [
        ("uy-vien-linh-vuc", "uv-giao-duc", "pending")
    ]
    assert "1.200 học sinh" in shown["body_text"]


def test_show_gives_a_mailed_decisions_metadata_and_none_for_news(
    rig: Rig, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    import io

    from docx import Document

    doc = Document()
    header = doc.add_table(rows=3, cols=2)
    for row, cells in zip(
        header.rows,
        [
            ("ỦY BAN NHÂN DÂN", "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM"),
            ("TỈNH ĐỒNG NAI", "Độc lập - Tự do - Hạnh phúc"),
            ("Số: 1060/QĐ-UBND", "Đồng Nai, ngày 05 tháng 11 năm 2026"),
        ],
        strict=True,
    ):
        row.cells[0].text, row.cells[1].text = cells
    for line in [
        "QUYẾT ĐỊNH",
        "Về việc phê duyệt Kế hoạch chuyển đổi số",
        "tỉnh Đồng Nai năm 2027",
        "CHỦ TỊCH ỦY BAN NHÂN DÂN TỈNH ĐỒNG NAI",
        "Căn cứ Luật Tổ chức chính quyền địa phương;",
        "Điều 2. Quyết định này có hiệu lực kể từ ngày ký.",
    ]:
        doc.add_paragraph(line)
    buf = io.BytesIO()
    doc.save(buf)
    decision = "Gửi Quyết định số 1060/QĐ-UBND"
    rig.drop(
        article_mail(
            AGENCY_SENDER,
            DEMO_BOX,
            decision,
            "Kính gửi Ban Biên tập, Sở gửi văn bản đính kèm đề nghị đăng tải.",
            attachments=[("1060-QD-UBND.docx", DOCX_TYPE, buf.getvalue())],
        )
    )
    news = "[Tin] Quyết định 1060/QĐ-UBND: Đồng Nai phê duyệt kế hoạch chuyển đổi số"
    rig.drop(article_mail(AGENCY_SENDER, DEMO_BOX, news))
    rig.runner.run_once()
    shown = {}
    for item in rig.items():
        assert cli.main(["--database-url", db_url, "show", item.tracking_code, "--json"]) == 0
        data = json.loads(capsys.readouterr().out)
        shown[data["title"]] = (data["kind"], data["document"])
    assert shown[decision] == (
        "van_ban",
        {
            "doc_type": "Quyết định",
            "number": "1060/QĐ-UBND",
            "issuer": "Ủy ban nhân dân tỉnh Đồng Nai",
            "issue_date": "2026-11-05",
            "effective_date": "2026-11-05",
            "summary": "Về việc phê duyệt Kế hoạch chuyển đổi số tỉnh Đồng Nai năm 2027",
        },
    )
    # the sender's tag says news: no document fields (and the tag routes it, no title's part)
    assert shown[news.removeprefix("[Tin] ")] == ("tin", None)


def test_reading_in_worker_processes_gives_the_same_items(tmp_path: Path) -> None:
    mails = [
        article_mail(AGENCY_SENDER, DEMO_BOX, message_id="<a@x>"),
        article_mail(AGENCY_SENDER, DEMO_BOX, legacy="tcvn3", message_id="<b@x>"),
        article_mail(AGENCY_SENDER, DEMO_BOX, "Trả lời tự động", "x", message_id="<c@x>"),
        article_mail("who@unknown.example", DEMO_BOX, message_id="<d@x>"),
        b"not a mail at all",
    ]
    results = []
    for workers in (0, 2):
        rig = make_rig(tmp_path / str(workers), f"sqlite:///{tmp_path}/{workers}.db")
        rig.runner.readers = Readers(rig.board, rig.files, workers=workers)
        for raw in mails:
            rig.drop(raw)
        rig.runner.run_once()
        rig.runner.readers.close()
        results.append(
            [(i.state, i.title, i.body_text, [f["code"] for f in i.flags]) for i in rig.items()]
        )
    assert results[0] == results[1]
    assert [r[0] for r in results[1]] == [
        State.PENDING_REVIEW,
        State.PENDING_REVIEW,
        State.SET_ASIDE,
        State.HELD,
        State.FAILED,
    ]


def test_due_date_follows_the_boards_deadline_on_working_days(rig: Rig) -> None:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from sqlalchemy import update

    hanoi = ZoneInfo("Asia/Ho_Chi_Minh")
    decision = (
        "UBND TỈNH ĐỒNG NAI\nSỞ GIÁO DỤC VÀ ĐÀO TẠO\n\nSố: 123/QĐ-SGDĐT\n\n"
        "Đồng Nai, ngày 13 tháng 02 năm 2026\n\nQUYẾT ĐỊNH\nVề việc tuyển sinh năm học 2026\n\n"
        "Điều 1. Ban hành kế hoạch tuyển sinh.\n\nNgười viết: Lê Thị Hồng Nhung\n"
    )
    rig.drop(
        article_mail(
            AGENCY_SENDER, DEMO_BOX, "Quyết định tuyển sinh", decision, message_id="<doc@x>"
        )
    )
    rig.drop(article_mail(AGENCY_SENDER, DEMO_BOX, message_id="<news@x>"))
    rig.runner.record()
    friday_evening = datetime(2026, 2, 13, 18, 30, tzinfo=hanoi)  # the Friday before Tết
    with rig.sessions.begin() as s:
        s.execute(update(RawMessage).values(received_at=friday_evening))
    rig.runner.process()
    doc, news = sorted(rig.items(), key=lambda i: i.message_id != "doc@x")
    assert doc.kind == "van_ban" and news.kind == "tin"
    # received after office hours before Tết (16–20 Feb 2026): counted as received on
    # Monday 23 Feb, the day of receipt not counted, 2 working days end on Wednesday 25
    assert doc.due_at is not None and news.due_at is not None
    assert doc.due_at.astimezone(hanoi) == datetime(2026, 2, 25, 17, 0, tzinfo=hanoi)
    # news: 2 calendar days after the event (here, the arrival)
    assert news.due_at.astimezone(hanoi) == datetime(2026, 2, 15, 17, 0, tzinfo=hanoi)


def test_a_byline_running_past_its_column_is_clipped_not_lost(rig: Rig) -> None:
    """PostgreSQL refuses text longer than its column; the item is kept all the same."""
    unit = "Phòng Giáo dục Trung học, Sở Giáo dục và Đào tạo " * 12
    body = NEWS_BODY.replace(
        "Đơn vị: Phòng Giáo dục Trung học, Sở Giáo dục và Đào tạo", f"Đơn vị: {unit}"
    )
    rig.drop(article_mail(AGENCY_SENDER, DEMO_BOX, NEWS_TITLE, body))
    rig.runner.run_once()
    [item] = rig.items()
    assert item.state == State.PENDING_REVIEW
    assert item.unit is not None and item.unit.startswith("Phòng Giáo dục Trung học")
    assert len(item.unit) == 255
