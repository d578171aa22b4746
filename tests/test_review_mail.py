"""The review workflow's mails, read back as a reviewer's or sender's mail client would."""

from __future__ import annotations

import email
import email.policy
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email.header import decode_header, make_header
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from bs4 import BeautifulSoup, Tag

from pipeline import review_mail
from pipeline.commands import HELP_VI, Command, Verb, read_command
from pipeline.config import Board, load_board
from pipeline.files import FileStore
from pipeline.mailbuild import Mail
from pipeline.models import StoredFile, Submission
from pipeline.review_mail import DigestEntry
from pipeline.screening import LOOP_HEADER
from tests.helpers import CONFIG

PNG = b"\x89PNG\r\n\x1a\n" + bytes(200)
PDF = b"%PDF-1.4\n% Cong van\n" + bytes(500)
VIEW_URL = "https://duyet.demo.bientap.vn/r/7?t=AbC.xyz&v=1"
APPROVE_URL = "https://duyet.demo.bientap.vn/r/7/approve?t=DeF.uvw"
REPLY_TO = "bbt+r.k3j9x2@demo.bientap.vn"
FLAG = {
    "code": "sensitive-topic",
    "action": "escalate",
    "message": "Nội dung nhạy cảm (điểm nóng): cần ý kiến lãnh đạo Ban.",
    "detail": {"keywords": ["điểm nóng"]},
}


@pytest.fixture(scope="module")
def board() -> Board:
    return load_board(CONFIG / "demo.toml")


@dataclass
class Stored:
    store: FileStore
    files: list[StoredFile]


@pytest.fixture
def stored(tmp_path: Path) -> Stored:
    store = FileStore(tmp_path / "files")
    files = [
        StoredFile(
            filename="ảnh hội nghị.png",
            content_type="image/png",
            size=len(PNG),
            sha256=store.put(PNG),
            content_id="anh1@sgddt",
            role="inline",
        ),
        StoredFile(
            filename="Công văn 12-SGDĐT.pdf",
            content_type="application/pdf",
            size=len(PDF),
            sha256=store.put(PDF),
            content_id=None,
            role="attachment",
        ),
        StoredFile(
            filename="Phóng sự video.mp4",
            content_type="video/mp4",
            size=48 * 1024 * 1024,
            sha256=None,  # over the board's limit: never stored
            content_id=None,
            role="attachment",
        ),
    ]
    return Stored(store, files)


def _item(title: str = "Hội nghị tổng kết năm học 2024-2025") -> Submission:
    return Submission(
        tracking_code="BT-250301-K3J9X2",
        title=title,
        body_html='<p>Sáng nay, Sở <b>Giáo dục</b> tổ chức hội nghị.</p><img src="cid:anh1@sgddt">',
        body_text="Sáng nay, Sở Giáo dục tổ chức hội nghị.",
        sender_address="vanthu@sgddt.demo.bientap.vn",
        sender_name="Văn thư Sở Giáo dục",
        agency_id="so-gddt",
        kind="tin",
        field_ids=["giao-duc"],
        author="Nguyễn Thị Hoa",
        message_id="orig.123@sgddt.demo.bientap.vn",
    )


def _request(board: Board, stored: Stored, item: Submission, **changes: Any) -> Mail:
    args: dict[str, Any] = {
        "recipient": board.member("uv-giao-duc"),
        "step_name": "Thành viên phụ trách lĩnh vực duyệt",
        "acting_for": None,
        "view_url": VIEW_URL,
        "approve_url": APPROVE_URL,
        "reply_to": REPLY_TO,
        "subject_tag": "[#k3j9x2]",
        "message_id": "review.k3j9x2@demo.bientap.vn",
        "purpose": "request",
        "diff": None,
        "flags": [FLAG],
        "due_at": datetime(2030, 3, 2, 2, 30, tzinfo=UTC),
        "history": ["01/03/2030 08:15: nhận thư, gửi xác nhận cho người gửi"],
    }
    args.update(changes)
    return review_mail.review_request(board, item, stored.files, stored.store, **args)


def _read(msg: Mail) -> EmailMessage:
    parsed = email.message_from_bytes(msg.as_bytes(), policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def _text(mail: EmailMessage) -> str:
    part = mail.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())


def _html(mail: EmailMessage) -> BeautifulSoup:
    part = mail.get_body(preferencelist=("html",))
    assert part is not None
    return BeautifulSoup(str(part.get_content()), "html.parser")


def _attachments(mail: EmailMessage) -> dict[str, bytes]:
    out = {}
    for part in mail.iter_attachments():
        assert isinstance(part, EmailMessage)
        data = part.get_payload(decode=True)
        assert isinstance(data, bytes)
        out[str(part.get_filename())] = data
    return out


def _find(page: BeautifulSoup, name: str, **kwargs: Any) -> Tag:
    tag = page.find(name, **kwargs)
    assert isinstance(tag, Tag), f"no <{name}> in the HTML part"
    return tag


def _attr(tag: Tag, name: str) -> str:
    value = tag.get(name)
    assert isinstance(value, str)
    return value


# --- Review request ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("purpose", "prefix"),
    [
        ("request", "[Duyệt tin bài]"),
        ("again", "[Duyệt lại]"),
        ("reminder", "[Nhắc duyệt]"),
        ("escalated", "[Quá hạn, đề nghị duyệt thay]"),
        ("check", "[Kiểm tra bài đã đăng]"),
    ],
)
def test_subject_is_vietnamese_and_names_item_and_code(
    board: Board, stored: Stored, purpose: str, prefix: str
) -> None:
    mail = _read(_request(board, stored, _item(), purpose=purpose))
    assert mail["Subject"] == (
        f"{prefix} Hội nghị tổng kết năm học 2024-2025 — BT-250301-K3J9X2 [#k3j9x2]"
    )


def test_request_headers_route_the_reply_and_stop_loops(board: Board, stored: Stored) -> None:
    mail = _read(_request(board, stored, _item()))
    assert mail["Reply-To"] == REPLY_TO
    assert mail["Message-ID"] == "<review.k3j9x2@demo.bientap.vn>"
    assert mail["To"].addresses[0].addr_spec == "chau.lm@sgddt.demo.bientap.vn"
    assert mail["From"].addresses[0].display_name == "Ban Biên tập (chạy thử)"
    assert mail["From"].addresses[0].addr_spec == "bbt@demo.bientap.vn"
    assert mail["Auto-Submitted"] == "auto-generated"
    assert mail[LOOP_HEADER] == board.id
    assert mail["Date"].datetime.utcoffset().total_seconds() == 7 * 3600


def test_text_part_comes_first_then_html(board: Board, stored: Stored) -> None:
    mail = _read(_request(board, stored, _item()))
    alternative = next(p for p in mail.walk() if p.get_content_type() == "multipart/alternative")
    kinds = [p.get_content_type() for p in alternative.iter_parts()]
    assert kinds[0] == "text/plain"
    assert kinds[1] in ("text/html", "multipart/related")


def test_request_tells_who_what_and_by_when(board: Board, stored: Stored) -> None:
    mail = _read(_request(board, stored, _item()))
    text = _text(mail)
    assert "Kính gửi ông/bà Lê Minh Châu" in text
    assert "Bước: Thành viên phụ trách lĩnh vực duyệt" in text
    assert "Văn thư Sở Giáo dục <vanthu@sgddt.demo.bientap.vn>" in text
    assert "Sở Giáo dục và Đào tạo" in text  # the agency
    assert "Loại: Tin" in text
    assert "Lĩnh vực: Giáo dục và Đào tạo" in text
    assert "Mã theo dõi: BT-250301-K3J9X2" in text
    assert "Hạn xử lý: 02/03/2030 09:30" in text  # 02:30 UTC is 09:30 in Hà Nội
    assert "01/03/2030 08:15: nhận thư" in text
    assert "Sáng nay, Sở Giáo dục tổ chức hội nghị." in text
    page = _html(mail).get_text(" ")
    assert "Kính gửi ông/bà Lê Minh Châu" in page
    assert "02/03/2030 09:30" in page


def test_acting_member_is_told_for_whom(board: Board, stored: Stored) -> None:
    mail = _read(
        _request(
            board,
            stored,
            _item(),
            recipient=board.member("pho-ban-tt"),
            acting_for=board.member("uv-giao-duc"),
            acting_reason="đang nghỉ phép",
        )
    )
    assert "(thay Lê Minh Châu, đang nghỉ phép)" in _text(mail)
    assert "(thay Lê Minh Châu, đang nghỉ phép)" in _html(mail).get_text()


def test_flags_are_in_plain_words(board: Board, stored: Stored) -> None:
    mail = _read(_request(board, stored, _item()))
    words = "Nội dung nhạy cảm (điểm nóng): cần ý kiến lãnh đạo Ban."
    assert words in _text(mail)
    assert words in _html(mail).get_text()
    assert "sensitive-topic" not in _text(mail)


def test_both_links_are_in_text_and_html(board: Board, stored: Stored) -> None:
    mail = _read(_request(board, stored, _item()))
    text = _text(mail)
    assert f"Duyệt: {APPROVE_URL}" in text
    assert f"Xem, sửa, trả lại hoặc từ chối: {VIEW_URL}" in text
    buttons = {a.get_text(strip=True): _attr(a, "href") for a in _html(mail).find_all("a")}
    assert buttons["Duyệt"] == APPROVE_URL
    assert buttons["Xem, sửa, trả lại hoặc từ chối"] == VIEW_URL
    assert "display:block" in _attr(_find(_html(mail), "a", string="Duyệt"), "style")


def test_a_link_in_the_article_shows_where_it_really_goes(board: Board, stored: Stored) -> None:
    """An article dressing links to another site as the board's «Duyệt» (text, or a
    copy of the real link's address) shows the real destination beside each."""
    item = _item()
    item.body_html = (
        '<p><a href="https://lua.example/d">Duyệt</a> '
        f'<a href="https://duyệt.example/d">{APPROVE_URL}</a> '
        '<a href="https://so.example/tin">https://so.example/tin</a></p>'
    )
    preview = _html(_read(_request(board, stored, item))).get_text(" ")
    assert "Duyệt [lua.example]" in " ".join(preview.split())
    # a look-alike host in its ASCII form
    assert f"{APPROVE_URL} [xn--duyt-nw5a.example]" in " ".join(preview.split())
    assert "[so.example]" not in preview  # its text says where it goes already


def test_reply_commands_are_listed_with_examples(board: Board, stored: Stored) -> None:
    mail = _read(_request(board, stored, _item()))
    text = _text(mail)
    for command in ("DUYỆT", "TỪ CHỐI: <lý do>", "SỬA: <nội dung cần sửa>", "CHUYỂN <"):
        assert command in text
        assert command in _html(mail).get_text()
    assert "ví dụ: TỪ CHỐI:" in text
    assert "APPROVE, REJECT: <reason>, CHANGES: <what to fix>, FORWARD <member>" in text
    assert "chỉ dùng được một lần và hết hạn sau 7 ngày" in text
    assert "chau.lm@sgddt.demo.bientap.vn" in text  # reply from the official address


def test_link_lifetime_follows_the_board(board: Board, stored: Stored) -> None:
    mail = _read(_request(board, stored, _item(), link_days=2.5))
    assert "hết hạn sau 2,5 ngày" in _text(mail)


def test_files_are_attached_and_inline_image_is_related(board: Board, stored: Stored) -> None:
    mail = _read(_request(board, stored, _item()))
    attached = _attachments(mail)
    assert attached == {"Công văn 12-SGDĐT.pdf": PDF}
    related = next(p for p in mail.walk() if p.get_content_type() == "multipart/related")
    image = next(p for p in related.iter_parts() if p.get_content_type() == "image/png")
    assert image["Content-ID"] == "<anh1@sgddt>"
    assert image.get_payload(decode=True) == PNG
    assert _attr(_find(_html(mail), "img"), "src") == "cid:anh1@sgddt"


def test_file_not_stored_is_listed_not_attached(board: Board, stored: Stored) -> None:
    mail = _read(_request(board, stored, _item()))
    assert "Phóng sự video.mp4" not in _attachments(mail)
    assert "Phóng sự video.mp4 (48 MB) — tệp lớn, xem trên trang duyệt" in _text(mail)
    assert "tệp lớn, xem trên trang duyệt" in _html(mail).get_text()


def test_files_beyond_the_size_limit_are_listed_not_attached(board: Board, stored: Stored) -> None:
    mail = _read(_request(board, stored, _item(), attach_limit=len(PNG) + 100))
    assert _attachments(mail) == {}
    assert "Công văn 12-SGDĐT.pdf" in _text(mail)
    assert "tệp lớn" in _text(mail).split("Công văn 12-SGDĐT.pdf")[1].splitlines()[0]
    related = [p for p in mail.walk() if p.get_content_type() == "image/png"]
    assert len(related) == 1  # the inline image came first and still fits


def test_title_with_markup_is_escaped_in_html(board: Board, stored: Stored) -> None:
    title = 'Tin <script>alert("x")</script> & <img src=x onerror=alert(1)>'
    mail = _read(_request(board, stored, _item(title)))
    page = _html(mail)
    assert page.find("script") is None
    assert all(_attr(img, "src").startswith("cid:") for img in page.find_all("img"))
    assert title in page.get_text()
    assert title in str(mail["Subject"])


def test_html_loads_nothing_from_outside(board: Board, stored: Stored) -> None:
    page = _html(_read(_request(board, stored, _item())))
    assert page.find(["script", "link", "iframe", "object"]) is None
    sources = [_attr(tag, "src") for tag in page.find_all(src=True)]
    assert all(src.startswith("cid:") for src in sources)
    wrapper = page.body.find("div") if page.body else None
    assert wrapper is not None and "max-width:640px" in wrapper["style"]


def test_links_must_be_web_links(board: Board, stored: Stored) -> None:
    with pytest.raises(ValueError):
        _request(board, stored, _item(), approve_url="javascript:alert(1)")


def test_changed_content_shows_the_difference(board: Board, stored: Stored) -> None:
    old = "Sáng nay, Sở Giáo dục tổ chức hội nghị tại Biên Hòa."
    new = "Sáng nay, Sở Giáo dục và Đào tạo tổ chức hội nghị tại Biên Hòa."
    mail = _read(_request(board, stored, _item(), purpose="again", diff=(old, new)))
    text = _text(mail)
    assert "Nội dung đã thay đổi so với bản trước" in text
    assert "Thêm 3 từ." in text
    assert "{+và Đào tạo+}" in text
    page = _html(mail)
    assert _find(page, "ins").get_text().strip() == "và Đào tạo"
    assert "Thêm 3 từ" in page.get_text()


def test_unchanged_request_has_no_diff_section(board: Board, stored: Stored) -> None:
    mail = _read(_request(board, stored, _item()))
    assert "Nội dung đã thay đổi" not in _text(mail)
    assert _html(mail).find("ins") is None


# --- Published notice --------------------------------------------------------------------------

PUBLIC_URL = "https://congthongtin.demo.bientap.vn/tin-tuc/hoi-nghi-tong-ket?id=12&lang=vi"
HEAD_VIEW_URL = "https://duyet.demo.bientap.vn/r/9?t=GhI.rst&v=2"


def _published(board: Board, item: Submission, **changes: Any) -> EmailMessage:
    args: dict[str, Any] = {
        "recipient": board.member("truong-ban"),
        "public_url": PUBLIC_URL,
        "view_url": HEAD_VIEW_URL,
        "reply_to": REPLY_TO,
        "subject_tag": "[#r7m2p4]",
        "message_id": "published.k3j9x2@demo.bientap.vn",
    }
    args.update(changes)
    return _read(review_mail.published_notice(board, item, **args))


def test_published_subject_names_item_code_and_tag(board: Board) -> None:
    mail = _published(board, _item())
    assert mail["Subject"] == (
        "[Đã đăng] Hội nghị tổng kết năm học 2024-2025 — BT-250301-K3J9X2 [#r7m2p4]"
    )


def test_published_headers_reach_the_head_and_route_his_reply(board: Board) -> None:
    mail = _published(board, _item())
    assert mail["To"].addresses[0].addr_spec == "an.nv@demo.bientap.vn"
    assert mail["Reply-To"] == REPLY_TO
    assert mail["Message-ID"] == "<published.k3j9x2@demo.bientap.vn>"
    assert mail["Auto-Submitted"] == "auto-generated"
    assert mail[LOOP_HEADER] == board.id
    assert list(mail.iter_attachments()) == []
    alternative = [p.get_content_type() for p in mail.iter_parts()]
    assert alternative == ["text/plain", "text/html"]


def test_published_greets_the_head_and_says_what_is_live(board: Board) -> None:
    mail = _published(board, _item())
    for part in (_text(mail), _html(mail).get_text(" ")):
        assert "Kính gửi ông/bà Nguyễn Văn An" in part
        assert "đã được đăng trên Cổng thông tin điện tử" in part
        assert "Hội nghị tổng kết năm học 2024-2025" in part
        assert "BT-250301-K3J9X2" in part
        assert "Sáng nay, Sở Giáo dục tổ chức hội nghị." in part  # the excerpt


def test_published_links_are_in_text_and_html(board: Board) -> None:
    mail = _published(board, _item())
    text = _text(mail)
    assert f"Xem trên cổng: {PUBLIC_URL}" in text
    assert f"Gỡ bài hoặc đính chính: {HEAD_VIEW_URL}" in text
    buttons = {a.get_text(strip=True): _attr(a, "href") for a in _html(mail).find_all("a")}
    assert buttons == {"Xem trên cổng": PUBLIC_URL, "Gỡ bài hoặc đính chính": HEAD_VIEW_URL}


def test_published_tells_how_to_withdraw_or_correct(board: Board) -> None:
    mail = _published(board, _item())
    text, page = _text(mail), _html(mail).get_text(" ")
    for part in (text, page):
        assert "Cách xử lý nếu cần" in part
        assert "GỠ BÀI: <lý do>" in part
        assert "WITHDRAW: <reason>" in part
        assert "không cần làm gì" in part
        assert "Đính chính được thực hiện trên trang này" in part
        assert "cổng được cập nhật" in part
        assert "chỉ dùng được một lần và hết hạn sau 7 ngày" in part
        assert "an.nv@demo.bientap.vn" in part  # reply from the official address
    assert "DUYỆT" not in text  # nothing left to approve


def test_published_example_reply_is_read_as_withdraw(board: Board) -> None:
    text = _text(_published(board, _item()))
    example = next(line for line in text.splitlines() if "ví dụ: GỠ BÀI:" in line)
    command = read_command(example.split("ví dụ:", 1)[1].strip())
    assert isinstance(command, Command)
    assert command.verb is Verb.WITHDRAW
    assert command.text == "Số liệu trong bài chưa chính xác."


def test_published_link_lifetime_follows_the_board(board: Board) -> None:
    assert "hết hạn sau 2,5 ngày" in _text(_published(board, _item(), link_days=2.5))


def test_published_excerpt_is_short(board: Board) -> None:
    item = _item()
    item.body_text = "Đoạn mở đầu của bài. " + "Nội dung dài. " * 100 + "CÂU CUỐI CÙNG."
    mail = _published(board, item)
    text = _text(mail)
    assert "Đoạn mở đầu của bài." in text
    assert "CÂU CUỐI CÙNG" not in text
    assert "…" in text
    assert "CÂU CUỐI CÙNG" not in _html(mail).get_text()


def test_published_markup_is_escaped_in_html(board: Board) -> None:
    title = 'Tin <script>alert("x")</script> & <img src=x onerror=alert(1)>'
    item = _item(title)
    item.body_text = "Nội dung <script>alert(2)</script> <b>đậm</b>"
    mail = _published(board, item)
    page = _html(mail)
    assert page.find(["script", "img"]) is None
    assert page.find("b", string="đậm") is None
    assert title in page.get_text()
    assert "<script>alert(2)</script>" in page.get_text()
    assert title in str(mail["Subject"])


def test_published_links_must_be_web_links(board: Board) -> None:
    with pytest.raises(ValueError):
        _published(board, _item(), public_url="javascript:alert(1)")
    with pytest.raises(ValueError):
        _published(board, _item(), view_url="data:text/html,<script>alert(1)</script>")


# --- Digest ------------------------------------------------------------------------------------


def _entry(code: str, title: str, overdue: bool, day: int) -> DigestEntry:
    return DigestEntry(
        tracking_code=code,
        title=title,
        step_name="Trưởng ban duyệt",
        due_at=datetime(2030, 3, day, 1, 0, tzinfo=UTC),
        overdue=overdue,
        view_url=f"https://duyet.demo.bientap.vn/r/{code}?t=x&y=1",
    )


def test_digest_lists_every_entry_overdue_first(board: Board) -> None:
    entries = [
        _entry("BT-1", "Tin tuyển sinh lớp 10", False, 5),
        _entry("BT-2", "Bài về tiêm chủng", True, 1),
    ]
    mail = _read(review_mail.digest(board, recipient=board.member("truong-ban"), entries=entries))
    assert "2 tin, bài đang chờ ông/bà duyệt" in mail["Subject"]
    assert "1 quá hạn" in mail["Subject"]
    text = _text(mail)
    assert "Các tin bài đang chờ ông/bà duyệt" in text
    assert "1. [Quá hạn] Bài về tiêm chủng" in text
    assert "2. Tin tuyển sinh lớp 10" in text
    assert "Hạn: 01/03/2030 08:00" in text
    page = _html(mail)
    assert page.get_text().count("Quá hạn") == 1
    hrefs = [a["href"] for a in page.find_all("a")]
    assert hrefs == [entries[1].view_url, entries[0].view_url]
    assert entries[0].view_url in text


def test_empty_digest_says_so(board: Board) -> None:
    mail = _read(review_mail.digest(board, recipient=board.member("truong-ban"), entries=[]))
    assert "Không có tin, bài" in mail["Subject"]
    assert "không có tin, bài nào chờ" in _text(mail)


# --- Outcome to the sender ---------------------------------------------------------------------


def test_changes_tell_the_sender_what_to_fix_and_how_to_answer(board: Board) -> None:
    item = _item()
    mail = _read(
        review_mail.outcome_to_sender(
            board,
            item,
            outcome="changes",
            text="Bổ sung họ tên tác giả ảnh.",
            in_reply_to=item.message_id,
        )
    )
    assert mail["To"].addresses[0].addr_spec == "vanthu@sgddt.demo.bientap.vn"
    assert "BT-250301-K3J9X2" in mail["Subject"]
    assert mail["In-Reply-To"] == "<orig.123@sgddt.demo.bientap.vn>"
    assert mail.get_content_type() == "text/plain"
    text = mail.get_content()
    assert "Bổ sung họ tên tác giả ảnh." in text
    assert "trả lời thư này" in text and "giữ nguyên mã theo dõi [BT-250301-K3J9X2]" in text


def test_approval_and_refusal_reach_the_sender(board: Board) -> None:
    item = _item()
    approved = _read(
        review_mail.outcome_to_sender(board, item, outcome="approved", text=None, in_reply_to=None)
    )
    assert "Đã duyệt" in approved["Subject"]
    assert "sẽ được đăng tải" in approved.get_content()
    rejected = _read(
        review_mail.outcome_to_sender(
            board, item, outcome="rejected", text="Trùng với tin đã đăng.", in_reply_to=None
        )
    )
    assert "Không duyệt" in rejected["Subject"]
    assert "Lý do:" in rejected.get_content()
    assert "Trùng với tin đã đăng." in rejected.get_content()


@pytest.mark.parametrize(
    "name",
    [
        "Phòng Văn hóa và Thông tin huyện Lục Nam - Ủy ban nhân dân huyện Lục Nam",
        '<img src=x> "Lê Thị", Hồng Nhung <nhung@evil.example>; Bcc: a@evil.example',
        "Văn thư " * 150,  # a name past the 998 characters of a header line
    ],
)
def test_a_senders_long_or_odd_name_is_written_in_short_encoded_words(
    board: Board, name: str
) -> None:
    """A name as the sender's mail gave it went into To as one encoded word: past the 75
    characters RFC 2047 allows from about 40 Vietnamese letters, and past the 998 a mail
    server takes from about 700 (the sender was then never told)."""
    item = _item()
    item.sender_name = name
    msg = review_mail.outcome_to_sender(
        board, item, outcome="approved", text=None, in_reply_to=None
    )
    raw = msg.as_bytes()
    head = raw.split(b"\r\n\r\n")[0].decode("ascii")
    assert max(len(line) for line in head.splitlines()) <= 78
    assert all(len(word) <= 75 for word in re.findall(r"=\?[^?]+\?[bBqQ]\?[^?]*\?=", head))
    to = str(make_header(decode_header(email.message_from_bytes(raw)["To"])))
    assert to == f"{' '.join(name.split())} <{item.sender_address}>"  # as RFC 2047 reads it
    assert _read(msg)["To"].addresses[0].addr_spec == item.sender_address


def test_refusal_without_a_reason_is_a_bug(board: Board) -> None:
    with pytest.raises(ValueError):
        review_mail.outcome_to_sender(
            board, _item(), outcome="rejected", text=" ", in_reply_to=None
        )


# --- Answers to reviewers ----------------------------------------------------------------------


def test_refused_reply_warns_the_real_reviewer(board: Board) -> None:
    member = board.member("uv-giao-duc")
    mail = _read(
        review_mail.refused_reply(
            board,
            to=member,
            item=_item(),
            reason_vi="Thư trả lời gửi từ địa chỉ khác địa chỉ thư công vụ.",
            evidence="thư từ ke.gia.mao@example.com lúc 01/03/2030 10:00",
            in_reply_to="review.k3j9x2@demo.bientap.vn",
        )
    )
    assert mail["To"].addresses[0].addr_spec == member.email
    assert "không được ghi nhận" in mail["Subject"]
    text = _text(mail)
    assert "địa chỉ khác địa chỉ thư công vụ" in text
    assert "ke.gia.mao@example.com" in text
    assert "hãy dùng liên kết trong thư mới nhất" in text
    assert "ke.gia.mao@example.com" in _html(mail).get_text()


def test_reply_answer_appends_the_commands_once(board: Board) -> None:
    mail = _read(
        review_mail.reply_answer(
            board,
            to="chau.lm@sgddt.demo.bientap.vn",
            subject="[Duyệt tin bài] Hội nghị — BT-250301-K3J9X2 [#k3j9x2]",
            in_reply_to="reply.1@sgddt.demo.bientap.vn",
            text="Không tìm thấy lệnh ở đầu thư trả lời.",
        )
    )
    assert mail["Subject"] == "Re: [Duyệt tin bài] Hội nghị — BT-250301-K3J9X2 [#k3j9x2]"
    assert mail["In-Reply-To"] == "<reply.1@sgddt.demo.bientap.vn>"
    assert mail["Auto-Submitted"] == "auto-replied"
    text = _text(mail)
    assert "Không tìm thấy lệnh" in text
    assert text.count("TỪ CHỐI: <lý do>") == 1
    again = _read(
        review_mail.reply_answer(
            board,
            to="chau.lm@sgddt.demo.bientap.vn",
            subject="Re: Re: x",
            in_reply_to=None,
            text=f"Chưa rõ lệnh.\n\n{HELP_VI}",
        )
    )
    assert again["Subject"] == "Re: Re: x"
    assert _text(again).count("TỪ CHỐI: <lý do>") == 1


def test_decision_receipt_confirms_what_was_recorded(board: Board) -> None:
    member = board.member("uv-giao-duc")
    mail = _read(
        review_mail.decision_receipt(board, to=member, item=_item(), text="Duyệt", in_reply_to=None)
    )
    assert "BT-250301-K3J9X2" in mail["Subject"]
    assert "Đã ghi nhận: Duyệt" in _text(mail)
    assert "Đã ghi nhận: Duyệt" in _html(mail).get_text()
    assert mail["Message-ID"].endswith("@demo.bientap.vn>")
