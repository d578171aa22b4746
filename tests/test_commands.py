"""Reading a reviewer's command from the reply to a notification mail."""

from __future__ import annotations

import unicodedata

import pytest

from pipeline.commands import (
    HELP_VI,
    MAX_REASON_CHARS,
    Command,
    Unreadable,
    Verb,
    fresh_text,
    read_command,
)

APPROVE = Command(Verb.APPROVE, None)


def unreadable(text: str | None, html: str | None = None) -> str:
    result = read_command(text, html)
    assert isinstance(result, Unreadable), result
    return result.reason


# --- Each verb: Vietnamese, without diacritics, English -------------------------------------------


@pytest.mark.parametrize(
    "reply",
    [
        "Duyệt",
        "DUYỆT",
        "Duyệt.",
        "Duyệt ạ",
        "Duyệt ạ, cảm ơn anh.",
        "OK duyệt",
        "Dạ, duyệt ạ",
        "Đồng ý",
        "Nhất trí",
        "Nhất trí đăng, cảm ơn em",
        "Thống nhất cho đăng.",
        "nhat tri",
        "Đã duyệt!",
        "*DUYỆT*",
        "Duyet",
        "duyet a",
        "DONG Y",
        "APPROVE",
        "APPROVE!",
        "Approved.",
        "approve\n\nthanks",
        "  \n\nDuyệt\n",
    ],
)
def test_approve(reply: str) -> None:
    assert read_command(reply) == APPROVE


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        ("TỪ CHỐI: bài trùng với tin đã đăng", "bài trùng với tin đã đăng"),
        ("Từ chối - thiếu nguồn", "thiếu nguồn"),
        ("tu choi: trung voi bai hom qua", "trung voi bai hom qua"),
        ("TU CHOI thieu anh", "thieu anh"),
        ("REJECT: duplicate of yesterday's story", "duplicate of yesterday's story"),
        ("Rejected: out of scope.", "out of scope."),
        ("KHÔNG DUYỆT: nội dung quảng cáo", "nội dung quảng cáo"),
        ("Không duyệt vì chưa có ý kiến lãnh đạo", "vì chưa có ý kiến lãnh đạo"),
        ("khong duyet: sai so lieu", "sai so lieu"),
        ("Không nhất trí: số liệu chưa khớp", "số liệu chưa khớp"),
        ("Không thống nhất vì chưa xin ý kiến Sở", "vì chưa xin ý kiến Sở"),
    ],
)
def test_reject(reply: str, reason: str) -> None:
    assert read_command(reply) == Command(Verb.REJECT, reason)


@pytest.mark.parametrize(
    ("reply", "what"),
    [
        ("SỬA: tiêu đề quá dài", "tiêu đề quá dài"),
        ("Sửa lại tiêu đề cho ngắn", "tiêu đề cho ngắn"),
        ("sua: them chu thich anh", "them chu thich anh"),
        ("Yêu cầu sửa: bổ sung nguồn", "bổ sung nguồn"),
        ("CHANGES: shorten the headline", "shorten the headline"),
        ("Request changes - add a photo caption", "add a photo caption"),
    ],
)
def test_changes(reply: str, what: str) -> None:
    assert read_command(reply) == Command(Verb.CHANGES, what)


@pytest.mark.parametrize(
    ("reply", "target"),
    [
        ("CHUYỂN nguyen.van.a@dongnai.gov.vn", "nguyen.van.a@dongnai.gov.vn"),
        ("CHUYỂN Nguyễn Văn A", "Nguyễn Văn A"),
        ("FORWARD uv-giao-duc", "uv-giao-duc"),
        ("Chuyển cho anh Trần Văn Bình ạ.", "anh Trần Văn Bình"),
        ("chuyen tiep cho uv-y-te", "uv-y-te"),
        ("Chuyển: 17", "17"),
        ("forward to <le.thi.b@dongnai.gov.vn>", "le.thi.b@dongnai.gov.vn"),
        (
            "CHUYỂN le.thi.b@dongnai.gov.vn <mailto:le.thi.b@dongnai.gov.vn>",
            "le.thi.b@dongnai.gov.vn",
        ),
    ],
)
def test_forward_target(reply: str, target: str) -> None:
    assert read_command(reply) == Command(Verb.FORWARD, target)


def test_forward_target_is_one_line() -> None:
    reply = "CHUYỂN uv-giao-duc\nAnh Bình xem giúp em bài này"
    assert read_command(reply) == Command(Verb.FORWARD, "uv-giao-duc")


def test_decomposed_marks_are_normalised() -> None:
    decomposed = unicodedata.normalize("NFD", "TỪ CHỐI: trùng bài")
    assert decomposed != "TỪ CHỐI: trùng bài"
    assert read_command(decomposed) == Command(Verb.REJECT, "trùng bài")
    assert read_command(unicodedata.normalize("NFD", "Duyệt")) == APPROVE


def test_command_may_follow_a_greeting_within_three_lines() -> None:
    assert read_command("Chào anh,\nEm xem rồi.\nDuyệt ạ.") == APPROVE
    assert "đầu" in unreadable("Chào anh,\nEm xem rồi.\nBài tốt.\nDuyệt ạ.")


# --- Reasons over several lines -------------------------------------------------------------------


def test_reason_spans_lines_until_blank_line() -> None:
    reply = (
        "TỪ CHỐI: bài trùng với tin ngày 3/3\nảnh không rõ nguồn\n\nNguyễn Văn B\nPhó Trưởng ban"
    )
    assert read_command(reply) == Command(
        Verb.REJECT, "bài trùng với tin ngày 3/3\nảnh không rõ nguồn"
    )


def test_reason_may_start_on_the_next_line() -> None:
    reply = "Từ chối:\nsố liệu chưa được Sở xác nhận\nđề nghị bổ sung văn bản"
    assert read_command(reply) == Command(
        Verb.REJECT, "số liệu chưa được Sở xác nhận\nđề nghị bổ sung văn bản"
    )


def test_reason_stops_at_closing_and_quote() -> None:
    assert read_command("SỬA: tiêu đề\nchú thích ảnh\nTrân trọng,\nBình") == Command(
        Verb.CHANGES, "tiêu đề\nchú thích ảnh"
    )
    assert read_command("CHANGES: the lead\n> quoted line\nnot part of it") == Command(
        Verb.CHANGES, "the lead"
    )


# --- Quotes, reply headers and signatures ---------------------------------------------------------


def test_quoted_reject_under_fresh_approve_is_an_approval() -> None:
    reply = "Duyệt\n\nVào 10:00 ngày 5/3, Ban Biên tập đã viết:\n> TỪ CHỐI: ..."
    assert read_command(reply) == APPROVE


def test_quoted_lines_alone_are_ignored() -> None:
    assert read_command("Duyệt\n> Từ chối: abc\n>> Chuyển x") == APPROVE
    reason = unreadable("> TỪ CHỐI: trùng bài\n> Duyệt")
    assert "không có nội dung mới" in reason


REPLY_HEADERS = [
    # Gmail, English, wrapped over two lines
    "On Tue, Mar 5, 2024 at 10:00 AM Ban Biên tập <bbt@dongnai.gov.vn>\nwrote:",
    # Gmail, Vietnamese
    "Vào Th 3, 5 thg 3, 2024 vào lúc 10:00 Ban Biên tập <bbt@dongnai.gov.vn> đã viết:",
    # Apple Mail, English and Vietnamese
    "On 5 Mar 2024, at 10:00, Ban Biên tập <bbt@dongnai.gov.vn> wrote:",
    "Vào 10:00, ngày 5 thg 3, 2024, Ban Biên tập <bbt@dongnai.gov.vn> đã viết:",
    # Thunderbird, English and Vietnamese
    "On 05/03/2024 10:00, Ban Biên tập wrote:",
    "Vào 05/03/2024 10:00, Ban Biên tập đã viết:",
    # Outlook desktop, English and Vietnamese
    "-----Original Message-----\nFrom: Ban Biên tập <bbt@dongnai.gov.vn>\nSent: Tuesday",
    "----- Thư gốc -----\nTừ: Ban Biên tập\nGửi: Thứ Ba",
    # Outlook without a separator line, English and Vietnamese
    "From: Ban Biên tập <bbt@dongnai.gov.vn>\nSent: Tuesday, March 5, 2024 10:00 AM\nTo: x",
    "Từ: Ban Biên tập <bbt@dongnai.gov.vn>\nGửi: Thứ Ba, 5 tháng 3, 2024 10:00\nĐến: x",
    "*From:* Ban Biên tập <bbt@dongnai.gov.vn>\n*Sent:* Tuesday, March 5, 2024",
    # Outlook mobile / OWA rule
    "________________________________\nFrom: Ban Biên tập <bbt@dongnai.gov.vn>",
    "---------- Forwarded message ---------\nFrom: Ban Biên tập",
]


@pytest.mark.parametrize("header", REPLY_HEADERS)
def test_everything_after_a_reply_header_is_dropped(header: str) -> None:
    # Unquoted text after the header (Outlook does not use ">") must not count.
    reply = f"Duyệt ạ\n\n{header}\nTỪ CHỐI: nội dung gốc của thư thông báo\nDuyệt"
    assert fresh_text(reply) == "Duyệt ạ"
    assert read_command(reply) == APPROVE


@pytest.mark.parametrize("header", REPLY_HEADERS)
def test_reject_reason_stops_at_reply_header(header: str) -> None:
    reply = f"Từ chối: trùng bài\n{header}\nSUBMISSION TEXT"
    assert read_command(reply) == Command(Verb.REJECT, "trùng bài")


@pytest.mark.parametrize(
    "signature",
    [
        "Sent from my iPhone",
        "Sent from my Samsung Galaxy smartphone.",
        "Get Outlook for Android",
        "Được gửi từ iPhone của tôi",
        "Gửi từ điện thoại Samsung",
        "Gửi từ iPhone của tôi",
        "Đã gửi từ điện thoại thông minh Samsung Galaxy của tôi.",
        "Tải Outlook cho iOS",
        "-- \nNguyễn Văn B\nTỪ CHỐI mọi trách nhiệm",
        "--\nNguyen Van B",
    ],
)
def test_signatures_are_dropped(signature: str) -> None:
    reply = f"Sửa: thêm nguồn\n{signature}\n\n> Từ chối: x"
    assert fresh_text(reply) == "Sửa: thêm nguồn"
    assert read_command(reply) == Command(Verb.CHANGES, "thêm nguồn")


def test_phone_reply_with_signature_then_quote() -> None:
    reply = (
        "Approve\r\n\r\nSent from my iPhone\r\n\r\n"
        "> On Mar 5, 2024, at 10:00, BBT <bbt@dongnai.gov.vn> wrote:\r\n> REJECT: no\r\n"
    )
    assert read_command(reply) == APPROVE


def test_fresh_text_keeps_fresh_lines_after_an_inline_quote() -> None:
    assert fresh_text("Chào anh\n> câu hỏi\nDuyệt") == "Chào anh\n\nDuyệt"


def test_body_line_starting_with_from_is_not_a_header() -> None:
    assert fresh_text("Từ chối: số liệu\nTừ: chỗ này sai") == "Từ chối: số liệu\nTừ: chỗ này sai"


# --- HTML-only replies ----------------------------------------------------------------------------


def test_html_reply_with_gmail_quote() -> None:
    html = (
        '<div dir="ltr">Duyệt ạ</div><br>'
        '<div class="gmail_quote"><div dir="ltr" class="gmail_attr">'
        "Vào Th 3, 5 thg 3, 2024 vào lúc 10:00 Ban Biên tập &lt;bbt@dongnai.gov.vn&gt; "
        "đã viết:<br></div>"
        '<blockquote class="gmail_quote"><div>TỪ CHỐI: lý do mẫu</div></blockquote></div>'
    )
    assert read_command(None, html) == APPROVE
    assert "TỪ CHỐI" not in fresh_text("", html)


def test_html_reply_from_outlook() -> None:
    html = (
        "<html><body><div>Từ chối: <b>trùng bài</b></div>"
        '<div id="appendonsend"></div><hr>'
        '<div id="divRplyFwdMsg"><b>From:</b> Ban Biên tập<br><b>Sent:</b> Tuesday</div>'
        "<div>Duyệt hay từ chối? Trả lời thư này.</div></body></html>"
    )
    assert read_command(None, html) == Command(Verb.REJECT, "trùng bài")


@pytest.mark.parametrize(
    "quote",
    [
        '<div class="gmail_quote"><div>TỪ CHỐI: văn bản gốc</div></div>',
        '<div class="gmail_quote_container"><p>TỪ CHỐI: văn bản gốc</p></div>',
        '<div id="appendonsend"></div><div>TỪ CHỐI: văn bản gốc</div>',
        '<div id="divRplyFwdMsg"><font>Người gửi: BBT</font></div><div>TỪ CHỐI: gốc</div>',
        '<div class="yahoo_quoted"><div>TỪ CHỐI: văn bản gốc</div></div>',
    ],
)
def test_html_quote_containers_are_dropped_with_what_follows(quote: str) -> None:
    # No attribution line and no ">": only the container tells that this is quoted.
    html = f"<div>Duyệt</div><div>{quote}</div><p>Từ chối: sau phần trích dẫn</p>"
    assert fresh_text(None, html) == "Duyệt"
    assert read_command(None, html) == APPROVE


def test_html_reply_from_apple_mail_blockquote() -> None:
    html = (
        "<div>CHUYỂN uv-giao-duc</div><div><br>"
        "<blockquote type='cite'><div>Duyệt</div></blockquote></div>"
    )
    assert read_command(None, html) == Command(Verb.FORWARD, "uv-giao-duc")


def test_html_reply_from_thunderbird() -> None:
    html = (
        "<p>Sửa: chú thích ảnh</p>"
        '<div class="moz-cite-prefix">Vào 05/03/2024 10:00, Ban Biên tập đã viết:<br></div>'
        "<p>Từ chối: nội dung gốc không trích dẫn</p>"
    )
    assert read_command(None, html) == Command(Verb.CHANGES, "chú thích ảnh")


def test_plain_text_is_preferred_to_html() -> None:
    assert read_command("Duyệt", "<p>Từ chối: x</p>") == APPROVE
    assert read_command("  \n", "<p>Từ chối: x</p>") == Command(Verb.REJECT, "x")


# --- Unreadable replies ---------------------------------------------------------------------------


@pytest.mark.parametrize("reply", ["Tôi không duyệt được", "Tôi duyệt rồi", "em thấy nên duyệt"])
def test_command_word_must_start_the_line(reply: str) -> None:
    reason = unreadable(reply)
    assert "đầu dòng" in reason
    assert "duyệt" in reason


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ("Từ chối", "Từ chối cần có lý do: TỪ CHỐI: <lý do>"),
        ("TỪ CHỐI.", "Từ chối cần có lý do: TỪ CHỐI: <lý do>"),
        ("KHÔNG DUYỆT", "Không duyệt cần có lý do: KHÔNG DUYỆT: <lý do>"),
        ("không duyệt ạ", "Không duyệt cần có lý do: KHÔNG DUYỆT: <lý do>"),
        ("Reject", "Reject cần có lý do: REJECT: <lý do>"),
        ("SỬA:", "Sửa cần có nội dung cần sửa: SỬA: <nội dung cần sửa>"),
        ("Chuyển", "Chuyển cần có người nhận: CHUYỂN <mã, tên hoặc e-mail thành viên>"),
    ],
)
def test_missing_text_is_asked_for(reply: str, expected: str) -> None:
    assert unreadable(reply) == expected


def test_reject_without_reason_does_not_take_the_blank_separated_signature() -> None:
    assert "lý do" in unreadable("Không duyệt\n\nNguyễn Văn B\nPhó Trưởng ban")


@pytest.mark.parametrize(
    ("reply", "names"),
    [
        ("Duyệt\nTừ chối: trùng bài", ("DUYỆT", "TỪ CHỐI")),
        ("Approve\n\nCHANGES: headline", ("DUYỆT", "SỬA")),
        ("Chuyển uv-y-te\nDuyệt", ("CHUYỂN", "DUYỆT")),
    ],
)
def test_conflicting_commands_are_ambiguous(reply: str, names: tuple[str, str]) -> None:
    reason = unreadable(reply)
    assert "mâu thuẫn" in reason
    assert all(name in reason for name in names)


def test_repeated_command_is_not_ambiguous() -> None:
    assert read_command("Duyệt\nDuyệt ạ") == APPROVE
    assert read_command("Từ chối\nTừ chối: trùng") == Command(Verb.REJECT, "trùng")


def test_other_words_with_other_diacritics_are_not_commands() -> None:
    # "Chuyện" (a story) and "sữa" (milk) fold like "chuyển" / "sửa" but are other words.
    assert "Không tìm thấy lệnh" in unreadable("Chuyện này để mai bàn")
    assert "Không tìm thấy lệnh" in unreadable("Sữa chua ngon")


def test_question_is_not_an_approval() -> None:
    assert "Câu hỏi" in unreadable("Duyệt?")
    assert "Câu hỏi" in unreadable("Approve? No.")
    assert "Câu hỏi" in unreadable("Duyệt? Không duyệt: ảnh chưa có nguồn")


@pytest.mark.parametrize(
    "reply",
    [
        "Duyệt không được, bài còn sai số liệu.",
        "Đồng ý không đăng bài này.",
        "Duyệt thế nào được, ảnh chưa có nguồn",
        "Duyet ko duoc",
        "Approve not yet",
        "Đồng ý với anh Nam là chưa đăng",
        "Thống nhất với ý kiến anh Nam: không đăng",
        "Nhất trí là phải sửa tiêu đề trước",
    ],
)
def test_an_approval_word_turned_around_by_what_follows_is_no_approval(reply: str) -> None:
    reason = unreadable(reply)
    assert "chưa rõ là đồng ý" in reason and "TỪ CHỐI: <lý do>" in reason


@pytest.mark.parametrize(
    "reply",
    [
        "Duyệt\nnhưng sửa lại tiêu đề cho ngắn gọn",
        "Duyệt.\n\nTuy nhiên cần bổ sung nguồn ảnh.",
        "Đồng ý\nSau khi sửa số liệu ở đoạn 2",
        "DUYET\nko dang anh thu 3",
        "Approve\nbut fix the headline first",
        "Duyệt ạ\nCảm ơn em\nNhớ thay ảnh đầu bài",
    ],
)
def test_an_approval_made_conditional_on_the_lines_below_is_no_approval(reply: str) -> None:
    """Published on that reply, the article would go out without the change asked for."""
    reason = unreadable(reply)
    assert "chưa rõ là đồng ý" in reason and reply.splitlines()[-1] in reason


@pytest.mark.parametrize(
    "reply",
    [
        "Duyệt\n\nTrân trọng,\nNguyễn Văn Hùng\nPhó Trưởng ban",
        "Duyệt\nCảm ơn chị",
        "Chào em,\nDuyệt\nAnh Hùng",
        "Đồng ý\nĐã xem kỹ",
    ],
)
def test_an_approval_above_a_signature_or_thanks_stays_an_approval(reply: str) -> None:
    assert read_command(reply) == APPROVE


@pytest.mark.parametrize(
    "reply", ["Duyệt nhé em", "Đồng ý cho đăng", "Duyệt đăng bài này, cảm ơn chị", "OK duyệt đi"]
)
def test_an_approval_may_end_in_a_courtesy(reply: str) -> None:
    assert read_command(reply) == APPROVE


@pytest.mark.parametrize("reply", [None, "", "OK", "Cảm ơn anh", "> Duyệt"])
def test_unreadable_replies_have_a_vietnamese_reason(reply: str | None) -> None:
    reason = unreadable(reply)
    assert "DUYỆT" in reason
    assert "TỪ CHỐI: <lý do>" in reason


def test_help_lists_every_command() -> None:
    for word in ("DUYỆT", "TỪ CHỐI: <lý do>", "SỬA:", "CHUYỂN", "APPROVE", "REJECT", "FORWARD"):
        assert word in HELP_VI
    assert unicodedata.is_normalized("NFC", HELP_VI)


def test_a_reason_longer_than_the_page_allows_is_asked_again_shorter() -> None:
    """The review page refuses a reason over 5,000 characters; by mail one of a megabyte
    went on record and into the sender's notice. Refused alike, saying why."""
    reason = "Số liệu chưa khớp với báo cáo của Sở. " * 200  # 7,600 characters
    refused = read_command(f"TỪ CHỐI: {reason}")
    assert isinstance(refused, Unreadable) and "quá dài (tối đa 5.000 ký tự" in refused.reason
    fits = reason[: MAX_REASON_CHARS - 100]
    taken = read_command(f"YÊU CẦU SỬA: {fits}")
    assert isinstance(taken, Command) and taken.verb is Verb.CHANGES
