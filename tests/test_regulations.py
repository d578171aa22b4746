"""What each shipped board does with an item, held to the article of its regulation that
says so: whose field it is, who reviews it and in which order, what it is checked for.

Pure: the board files, classification and routing, no server. The article is named in
each case (seeds in ``shared/seeds/``; the board file cites the same article).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline import byline, checks, classify, publishing, routing
from pipeline.config import Board, load_board
from pipeline.models import Submission
from pipeline.reports import mailing

CONFIG = Path(__file__).resolve().parents[1] / "config"

Path_ = list[tuple[str, list[str]]]


def _board(board_id: str) -> Board:
    return load_board(CONFIG / f"{board_id}.toml")


def path(
    board: Board, fields: tuple[str, ...], sender: str | None = None, sensitive: bool = False
) -> Path_:
    """The item's review path, every step approved: each step and who sits at it."""
    facts = routing.Facts(fields, sender, sensitive)
    found: Path_ = []
    after = -1
    while (seats := routing.next_seats(board, facts, after)) is not None:
        found.append((seats.step.id, sorted(seats.members)))
        after = seats.index
    return found


# ---------------------------------------------------------------------------
# Khánh Hòa (seed 002)
# ---------------------------------------------------------------------------
KH_CENTRE = ("tiep-nhan-bien-tap", ["tv-trung-tam-cntt"])
KH_HEAD = ("truong-ban", ["truong-ban"])


@pytest.mark.parametrize(
    ("fields", "sender", "expected"),
    [
        # Bước 1: the centre's member edits and checks; an item from outside the board in
        # a member's field then goes to that member; Bước 2: the head approves.
        pytest.param(
            ("noi-vu",),
            None,
            [KH_CENTRE, ("kiem-duyet-chuyen-nganh", ["tv-so-noi-vu"]), KH_HEAD],
            id="outside-in-a-members-field",
        ),
        # Bước 1: the specialist review is for items "bên ngoài Ban Biên tập" only: a
        # member's item goes from the centre's member to the head (Đ6: he answers for it).
        pytest.param(
            ("tai-chinh",), "tv-van-phong-ubnd", [KH_CENTRE, KH_HEAD], id="member-in-another-field"
        ),
        # Đ5.1: the head approves items the members have checked and edited: one in no
        # member's field, or in no field at all, is the centre's member's.
        pytest.param(("dich-vu-cong-truc-tuyen",), None, [KH_CENTRE, KH_HEAD], id="no-owner"),
        pytest.param((), None, [KH_CENTRE, KH_HEAD], id="no-field"),
    ],
)
def test_khanhhoa_path_follows_article_8(
    fields: tuple[str, ...], sender: str | None, expected: Path_
) -> None:
    assert path(_board("khanhhoa"), fields, sender) == expected


# ---------------------------------------------------------------------------
# Đồng Nai (seed 000)
# ---------------------------------------------------------------------------
def owners_of_item(board: Board, subject: str) -> list[str]:
    """The members whose field an item from an unknown sender falls in (its subject)."""
    fields = classify.classify_fields(board, subject, "", classify.Sender(None, None))
    return sorted(classify.owners(board, fields))


# Đ6.6 and Đ8.2 a–v: a typical item of each point, in the regulation's words, and the
# member it goes to: the body the point names.
DONGNAI_ITEMS = [
    (
        "6.6",
        "Ý kiến chỉ đạo, điều hành của Chủ tịch UBND tỉnh tuần này",
        ["pho-truong-ban-thuong-truc"],
    ),
    ("8.2a", "Sở Nội vụ sắp xếp tổ chức bộ máy, đẩy mạnh cải cách hành chính", ["uv-so-noi-vu"]),
    ("8.2b", "Hội nghị phổ biến giáo dục pháp luật và trợ giúp pháp lý", ["uv-so-tu-phap"]),
    (
        "8.2c",
        "Thông báo tuyển chọn tổ chức, cá nhân thực hiện nhiệm vụ khoa học và công nghệ",
        ["uv-so-khcn"],
    ),
    ("8.2d", "Bảng giá đất năm 2020; quan trắc chất lượng môi trường nước", ["uv-so-tnmt"]),
    ("8.2e", "Danh mục dự án mời gọi đầu tư và chương trình hỗ trợ doanh nghiệp", ["uv-so-khdt"]),
    ("8.2f", "Công khai kết quả quản lý công sản, tài sản công năm 2019", ["uv-so-tai-chinh"]),
    ("8.2g", "Chương trình giảm nghèo và chính sách người có công", ["uv-so-ldtbxh"]),
    ("8.2h", "Xây dựng nông thôn mới gắn với phát triển nông thôn", ["uv-so-nnptnt"]),
    ("8.2i", "Quản lý kiến trúc và cấp giấy phép xây dựng", ["uv-so-xay-dung"]),
    ("8.2j", "Lịch sát hạch cấp giấy phép lái xe hạng B2", ["uv-so-gtvt"]),
    ("8.2k", "Chương trình xúc tiến thương mại năm 2020", ["uv-so-cong-thuong"]),
    ("8.2k,l", "Kiểm tra an toàn thực phẩm dịp Tết", ["uv-so-cong-thuong", "uv-so-y-te"]),
    ("8.2l", "Y tế dự phòng: chủ động phòng chống dịch bệnh", ["uv-so-y-te"]),
    ("8.2m", "Di tích, danh thắng thu hút khách du lịch", ["uv-so-vhttdl"]),
    ("8.2n", "Kế hoạch tuyển sinh lớp 10 và kỳ thi tốt nghiệp", ["uv-so-gddt"]),
    ("8.2o", "Hoạt động đối ngoại của tỉnh: tiếp đại sứ", ["uv-so-ngoai-vu"]),
    ("8.2p", "Kế hoạch tiếp công dân; kết quả giải quyết khiếu nại, tố cáo", ["uv-thanh-tra"]),
    ("8.2q", "Tình hình hoạt động của các khu công nghiệp, phí hạ tầng", ["uv-ban-ql-kcn"]),
    ("8.2q", "Giá thuê đất, phí hạ tầng tại các khu công nghiệp", ["uv-ban-ql-kcn"]),
    ("8.2r", "Công tác dân tộc: hỗ trợ đồng bào dân tộc thiểu số", ["uv-ban-dan-toc"]),
    ("8.2s", "Ươm tạo doanh nghiệp công nghệ cao công nghệ sinh học", ["uv-ban-ql-cnc"]),
    ("8.2t", "Công an tỉnh tuyên truyền phòng cháy chữa cháy", ["uv-cong-an"]),
    ("8.2u", "Kim ngạch xuất nhập khẩu qua hải quan quý I", ["uv-cuc-hai-quan"]),
    ("8.2u", "Niên giám thống kê năm 2019: số liệu thống kê", ["uv-cuc-thong-ke"]),
    ("8.2u", "Hướng dẫn kê khai thuế và hoàn thuế", ["uv-cuc-thue"]),
    (
        "8.2v",
        "Sự kiện nổi bật: lễ kỷ niệm ngày thành lập tỉnh",
        ["uv-bao-dong-nai", "uv-dai-ptth", "uv-hoi-nha-bao"],
    ),
]


@pytest.mark.parametrize(
    ("subject", "members"),
    [pytest.param(s, m, id=f"D{a}-{i}") for i, (a, s, m) in enumerate(DONGNAI_ITEMS)],
)
def test_dongnai_item_goes_to_the_member_article_8_2_names(
    subject: str, members: list[str]
) -> None:
    assert owners_of_item(_board("dongnai"), subject) == members


# Words that sit in one field's regulation text but were read as another's: each item
# and the field its regulation gives it.
FIELD_ITEMS = [
    ("dongnai", "8.2d", "Kết quả kiểm kê, thống kê đất đai năm 2024", ["tai-nguyen-moi-truong"]),
    ("binhphuoc", "7", "Công an tỉnh điều tra vụ trộm cắp tài sản", []),
    ("binhphuoc", "7", "Điều tra dân số và nhà ở giữa kỳ", ["thong-ke"]),
    ("binhphuoc", "7.2", "Bình Phước khai mạc Hội chợ thương mại", []),
    ("binhphuoc", "7.2", "Binh Phuoc Provincial People's Committee meets investors", ["tieng-anh"]),
    ("khanhhoa", "5.7", "Nâng cao chất lượng quản lý ngân sách", ["tai-chinh"]),
    ("tuyenquang", "4.3", "Huyện ban hành kế hoạch xây dựng nông thôn mới", []),
    ("tuyenquang", "4.3", "Kế hoạch số 30/KH-UBND của UBND tỉnh", ["van-ban"]),
]


@pytest.mark.parametrize(
    ("board_id", "subject", "fields"),
    [pytest.param(b, s, f, id=f"{b}-D{a}-{i}") for i, (b, a, s, f) in enumerate(FIELD_ITEMS)],
)
def test_an_items_words_place_it_in_the_field_its_regulation_gives(
    board_id: str, subject: str, fields: list[str]
) -> None:
    nobody = classify.Sender(None, None)
    assert classify.classify_fields(_board(board_id), subject, "", nobody) == fields


DN_STAFF = ("to-chuyen-vien", ["chuyen-vien-cong", "to-truong-to-chuyen-vien"])
DN_STANDING = ("pho-truong-ban-thuong-truc", ["pho-truong-ban-thuong-truc"])


def test_dongnai_path_follows_articles_9_and_10() -> None:
    board = _board("dongnai")
    # Đ10.2–4: the Tổ Chuyên viên edits, the Phó Trưởng ban thường trực approves.
    assert path(board, ("noi-vu",)) == [DN_STAFF, DN_STANDING]
    # Đ9.1: a hot matter needs the Trưởng ban's and the standing deputy's opinion first.
    assert path(board, ("noi-vu",), sensitive=True) == [
        DN_STAFF,
        ("y-kien-diem-nong", ["pho-truong-ban-thuong-truc", "truong-ban"]),
        DN_STANDING,
    ]


# ---------------------------------------------------------------------------
# Bình Phước (seed 001)
# ---------------------------------------------------------------------------
def test_binhphuoc_path_follows_article_10() -> None:
    # Đ10.1: the Trung tâm Tin học - Công báo checks and edits; Đ10.2a: the head approves.
    assert path(_board("binhphuoc"), ("tin-tuc",), "thanh-vien") == [
        ("trung-tam-tin-hoc-cong-bao", ["bien-tap-vien", "giam-doc-trung-tam"]),
        ("truong-ban", ["truong-ban"]),
    ]


def test_binhphuoc_posts_cite_the_portal_and_english_goes_to_the_english_edition() -> None:
    board = _board("binhphuoc")
    text = "The People's Committee of the province met the investors of the new industrial zone."
    item = Submission(
        title="Binh Phuoc meets investors",
        body_html=f"<p>{text}</p>",
        body_text=text,
        author="Nguyễn Văn A",
        field_ids=["tieng-anh"],
    )
    post = publishing.article(board, item, "bientap-binhphuoc-1-abc", None)
    # Đ8.3: the author and "Theo Cổng TTĐT tỉnh Bình Phước" on every post
    assert "Nguyễn Văn A" in post.body_html
    assert "Theo Cổng TTĐT tỉnh Bình Phước" in post.body_html
    # Đ7.2: the English edition
    assert (post.language, post.section) == ("en", "English")


# ---------------------------------------------------------------------------
# Lục Nam (seed 004): Thông báo 81/TB-BBT (TB mục n) and the Quy chế
# ---------------------------------------------------------------------------
LN_HEAD = ("truong-ban", ["nguyen-duc-toan"])


@pytest.mark.parametrize(
    ("fields", "sender", "reviewers"),
    [
        # TB mục 5: the Huyện ủy office's member supplies the Party's items "cho Đ/c Nguyễn
        # Văn Chung kiểm duyệt"; TB mục 2: Nguyễn Đức Triệu handles the Huyện ủy's items.
        pytest.param(
            ("khoi-dang",), None, ["nguyen-duc-trieu", "nguyen-van-chung"], id="party-item"
        ),
        pytest.param(
            ("khoi-dang",),
            "nguyen-duc-thanh",
            ["nguyen-duc-trieu", "nguyen-van-chung"],
            id="party-item-of-its-supplier",
        ),
        # TB mục 6: the Fatherland Front's documents go "cho đ/c Nguyễn Văn Chung xét duyệt".
        pytest.param(("mttq-doan-the",), None, ["nguyen-van-chung"], id="front-item"),
        # TB mục 13: land and resources documents go "cho đ/c Vũ Trí Học xét duyệt".
        pytest.param(("tai-nguyen-moi-truong",), None, ["vu-tri-hoc"], id="land-item"),
        # TB mục 21, 19, 22: the section's member.
        pytest.param(("du-an-dau-thau",), None, ["nguyen-dang-vinh"], id="procurement-item"),
        pytest.param(("van-ban-qppl",), None, ["vu-thi-an"], id="legal-document"),
        pytest.param(("gioi-thieu",), None, ["truong-thu-thuy"], id="history-item"),
    ],
)
def test_lucnam_section_reviewer_is_the_one_the_thong_bao_names(
    fields: tuple[str, ...], sender: str | None, reviewers: list[str]
) -> None:
    # Quy chế Đ12.1, Đ10.1: then the Trưởng ban decides.
    assert path(_board("lucnam"), fields, sender) == [
        ("thanh-vien-phu-trach-muc", reviewers),
        LN_HEAD,
    ]


def test_lucnam_reporters_items_pass_the_centres_leadership_first() -> None:
    data = _board("lucnam").model_dump(exclude={"source_file"})
    data["members"].append(
        {
            "id": "phong-vien",
            "name": "Phóng viên",
            "email": "pv@lucnam.example.vn",
            "role": "phong_vien",
            "example": True,
        }
    )
    board = Board.model_validate(data)
    # TB II.4, TB mục 14: the centre's Phó Giám đốc or Giám đốc, then the section, the head
    assert path(board, ("giao-duc",), "phong-vien") == [
        ("lanh-dao-trung-tam", ["tong-van-thang", "tran-van-hoa"]),
        ("thanh-vien-phu-trach-muc", ["dang-thuy-cha"]),
        LN_HEAD,
    ]


# ---------------------------------------------------------------------------
# Activity reports: mailed when each period the regulation sets ends, to whom it says
# ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("board_id", "periods", "to"),
    [
        # Đồng Nai Đ4.4 (monthly, quarterly, yearly), Đ3.2 and Đ12 (six-monthly, yearly);
        # Đ6.7, Đ9.3: the standing deputy compiles, the Tổ trưởng drafts, for the head.
        (
            "dongnai",
            ["month", "quarter", "half_year", "year"],
            ["pho-truong-ban-thuong-truc", "to-truong-to-chuyen-vien", "truong-ban"],
        ),
        # Bình Phước Đ21.1: six-monthly and yearly.
        ("binhphuoc", ["half_year", "year"], ["thu-ky", "truong-ban"]),
        # Khánh Hòa Đ10.1 (meetings every six months), Đ10.2 (yearly), Đ5.3 (the Thư ký).
        ("khanhhoa", ["half_year", "year"], ["thu-ky", "truong-ban"]),
        # Tuyên Quang Đ4.1g (meetings at 3, 6, 9 months and a year), Đ8 (the Thư ký reports
        # to the Trưởng ban and the Phó Trưởng ban).
        (
            "tuyenquang",
            ["quarter", "year"],
            ["pho-truong-ban", "pho-truong-ban-thuong-truc", "thu-ky", "truong-ban"],
        ),
        # Lục Nam TB mục 1 (monthly meetings), TB mục 22 (the Thư ký prepares them).
        ("lucnam", ["month"], ["nguyen-duc-toan", "truong-thu-thuy"]),
    ],
)
def test_activity_report_is_mailed_at_the_regulations_periods(
    board_id: str, periods: list[str], to: list[str]
) -> None:
    board = _board(board_id)
    assert board.reports.mail == periods
    assert sorted(m.id for m in mailing.recipients(board)) == to


# Lục Nam Quy chế Đ12.1: "phải có tên, địa chỉ của người viết; tin bài sưu tầm phải nêu rõ
# tài liệu tham khảo hoặc nguồn gốc khai thác và tên, địa chỉ người sưu tầm".
BODY = "Lễ hội Chùa Suối Mỡ năm nay thu hút đông đảo du khách thập phương.\n"


def returned_for(board: Board, text: str, agency: str | None = "phong-vhtt") -> list[str]:
    """What an item from ``agency`` (None: a sender of no known agency) would be returned
    to its sender for."""
    facts = checks.Facts(
        board=board,
        sender=classify.Sender(None, board.agency(agency) if agency else None),
        title="Lễ hội Chùa Suối Mỡ",
        text=text,
        byline=byline.extract(text),
        file_names=(),
        oversized=(),
        duplicate_of=None,
        legacy_encoding=None,
        remote_images=(),
    )
    return [f.code for f in checks.run_checks(facts) if f.action is checks.Action.RETURN]


@pytest.mark.parametrize(
    ("lines", "missing"),
    [
        pytest.param("Tác giả: Nguyễn Văn An\nĐịa chỉ: xã Bảo Đài", [], id="written"),
        pytest.param(
            "Sưu tầm\nNgười sưu tầm: Nguyễn Văn An\nĐịa chỉ: xã Bảo Đài\nNguồn: Báo Bắc Giang",
            [],
            id="collected-as-the-form-asks",
        ),
        pytest.param(
            "Sưu tầm\nNgười sưu tầm: Nguyễn Văn An\nĐịa chỉ: xã Bảo Đài",
            ["missing-source"],
            id="collected-without-its-source",
        ),
        pytest.param("Địa chỉ: xã Bảo Đài", ["missing-author"], id="no-name"),
    ],
)
def test_lucnam_item_carries_what_article_12_1_asks(lines: str, missing: list[str]) -> None:
    assert returned_for(_board("lucnam"), BODY + lines) == missing


def test_an_address_stands_for_the_writers_unit() -> None:
    """Đ12.1 asks for the writer's name and address: from a sender of no known agency, an
    item giving both lacks nothing."""
    text = BODY + "Tác giả: Nguyễn Văn An\nĐịa chỉ: thôn Đồng Tâm, xã Bảo Đài"
    assert byline.extract(text).unit == "thôn Đồng Tâm, xã Bảo Đài"
    assert returned_for(_board("lucnam"), text, agency=None) == []


@pytest.mark.parametrize(
    ("board_id", "agency"),
    [
        ("dongnai", "so-tu-phap"),  # Đ10.2: "kiểm tra nguồn gốc thông tin"
        ("khanhhoa", "so-noi-vu"),  # Đ6: "có nguồn gốc rõ ràng, không sao chép"
        ("lucnam", "phong-vhtt"),  # Đ12.1: "nêu rõ tài liệu tham khảo hoặc nguồn gốc"
    ],
)
def test_a_collected_item_without_its_source_goes_back(board_id: str, agency: str) -> None:
    text = BODY + "Sưu tầm\nTác giả: Nguyễn Văn An"
    assert returned_for(_board(board_id), text, agency) == ["missing-source"]
    assert returned_for(_board(board_id), text + "\nNguồn: Báo Bắc Giang", agency) == []
