"""Classification: which fields an item falls in, from its subject tags and keywords."""

from __future__ import annotations

from pipeline.classify import Sender, classify_fields, identify_sender
from pipeline.config import Board

BOARD = {
    "id": "thu",
    "name": "Ban Biên tập thử",
    "mailboxes": [{"name": "hop-thu", "address": "bbt@vi-du.vn", "source": "maildir", "path": "x"}],
    "mail_out": {"from_address": "bbt@vi-du.vn"},
    "fields": [
        {"id": "tu-phap", "name": "Tư pháp", "keywords": ["phổ biến giáo dục pháp luật"]},
        {"id": "giao-duc", "name": "Giáo dục", "keywords": ["giáo dục", "trường học"]},
        {"id": "y-te", "name": "Y tế", "keywords": ["an toàn thực phẩm"]},
        {"id": "cong-thuong", "name": "Công thương", "keywords": ["an toàn thực phẩm"]},
    ],
    "members": [{"id": "a", "name": "A", "email": "a@vi-du.vn", "role": "truong_ban"}],
}
NOBODY = Sender(None, None)


def test_a_phrase_counts_for_the_longest_keyword_it_is_not_for_the_words_inside() -> None:
    board = Board.model_validate(BOARD)
    subject = "Hội nghị phổ biến giáo dục pháp luật cho đồng bào"
    assert classify_fields(board, subject, "", NOBODY) == ["tu-phap"]
    subject = "Phổ biến giáo dục pháp luật tại trường học"  # one hit each: both fields
    assert classify_fields(board, subject, "", NOBODY) == ["tu-phap", "giao-duc"]


def test_a_keyword_two_fields_hold_counts_for_both() -> None:
    board = Board.model_validate(BOARD)
    subject = "Kiểm tra an toàn thực phẩm dịp Tết"
    assert classify_fields(board, subject, "", NOBODY) == ["y-te", "cong-thuong"]


def test_a_keyword_never_starts_inside_a_word_before_it() -> None:
    board = Board.model_validate(
        BOARD
        | {
            "fields": [
                {"id": "an-ninh", "name": "An ninh", "keywords": ["công an"]},
                {"id": "dan-toc", "name": "Dân tộc", "keywords": ["dân tộc"]},
                {"id": "xay-dung", "name": "Xây dựng", "keywords": ["công trình"]},
            ]
        }
    )
    subject = "Bảo đảm thi công an toàn tại công trình trọng điểm"  # "thi công" + "an toàn"
    assert classify_fields(board, subject, "", NOBODY) == ["xay-dung"]
    text = "Phát huy sức mạnh đại đoàn kết toàn dân tộc trong xây dựng công trình"
    assert classify_fields(board, "", text, NOBODY) == ["xay-dung"]
    assert classify_fields(board, "Công an tỉnh ra quân", "", NOBODY) == ["an-ninh"]


def test_a_keyword_listed_in_two_spellings_counts_once() -> None:
    fields = [
        {"id": "van-hoa", "name": "Văn hoá", "keywords": ["văn hóa", "văn hoá"]},
        {"id": "du-lich", "name": "Du lịch", "keywords": ["du lịch"]},
    ]
    board = Board.model_validate(BOARD | {"fields": fields})
    text = "Ngày hội văn hóa các dân tộc; không gian văn hóa phục vụ khách du lịch."
    assert classify_fields(board, "", text, NOBODY) == ["van-hoa", "du-lich"]


def test_a_keyword_is_not_a_word_that_differs_from_it_in_its_marks() -> None:
    """Keywords were matched with every mark dropped: a woman named Đỗ Thị Hoa put an
    article in the urban field, «công ăn việc làm» in the police's, «thì cứ» in the
    exams'. A mark written must match; a mail typed without any still finds its field,
    and either placement of a tone mark («hóa», «hoá») reads alike."""
    fields = [
        {"id": "do-thi", "name": "Đô thị", "keywords": ["đô thị"]},
        {"id": "an-ninh", "name": "An ninh", "keywords": ["công an"]},
        {"id": "giao-duc", "name": "Giáo dục", "keywords": ["thi cử"]},
        {"id": "van-hoa", "name": "Văn hóa", "keywords": ["văn hóa"]},
    ]
    board = Board.model_validate(BOARD | {"fields": fields})
    for text in (
        "Bà Đỗ Thị Hoa, Chủ tịch Hội Phụ nữ xã, trao quà cho hội viên.",
        "Dự án tạo công ăn việc làm cho 300 lao động địa phương.",
        "Nếu chưa rõ thì cứ hỏi cán bộ một cửa.",
    ):
        assert classify_fields(board, "", text, NOBODY) == [], text
    for text, field in (
        ("Chỉnh trang đô thị trước Tết", "do-thi"),
        ("CHỈNH TRANG ĐÔ THỊ TRƯỚC TẾT", "do-thi"),
        ("Chinh trang do thi truoc Tet", "do-thi"),
        ("Công an xã ra quân", "an-ninh"),
        ("Cong an xa ra quan", "an-ninh"),
        ("Kỳ thi cử nghiêm túc", "giao-duc"),
        ("Ngày hội văn hoá các dân tộc", "van-hoa"),
        ("Ngay hoi van hoa cac dan toc", "van-hoa"),
    ):
        assert classify_fields(board, text, "", NOBODY) == [field], text


AGENCIES = BOARD | {
    "members": [
        {"id": "a", "name": "A", "email": "a@vi-du.vn", "role": "truong_ban"},
        {
            "id": "uv-y-te",
            "name": "B",
            "email": "b@syt.vi-du.vn",
            "role": "thanh_vien",
            "agency": "so-y-te",
            "fields": ["y-te"],
        },
        {
            "id": "uv-vp-1",
            "name": "C",
            "email": "c@vp.vi-du.vn",
            "role": "thanh_vien",
            "agency": "van-phong",
            "fields": ["giao-duc"],
        },
        {
            "id": "uv-vp-2",
            "name": "D",
            "email": "d@vp.vi-du.vn",
            "role": "thanh_vien",
            "agency": "van-phong",
            "fields": ["tu-phap"],
        },
    ],
    "agencies": [
        {"id": "so-y-te", "name": "Sở Y tế", "domains": ["syt.vi-du.vn"]},
        {"id": "van-phong", "name": "Văn phòng", "domains": ["vp.vi-du.vn"]},
    ],
}


def test_an_agencys_mail_in_no_keywords_field_is_in_its_representatives_fields() -> None:
    board = Board.model_validate(AGENCIES)
    # a photo mail from the agency's clerk, not from its member's own address
    clerk = identify_sender(board, "VanThu@SYT.vi-du.vn")
    assert clerk.member is None and clerk.agency is not None
    assert classify_fields(board, "Ảnh hoạt động", "", clerk) == ["y-te"]
    # an agency that several members speak for: no guess
    office = identify_sender(board, "vanthu@vp.vi-du.vn")
    assert classify_fields(board, "Ảnh hoạt động", "", office) == []
