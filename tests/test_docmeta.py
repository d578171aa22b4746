"""Document metadata (Đ8.1d) and submission kinds, on the regulations' own documents."""

from __future__ import annotations

import io
import json
from datetime import date
from pathlib import Path

import pytest
from docx import Document

from pipeline.docmeta import (
    ARTICLE_MIN_WORDS,
    KIND_LABELS,
    DocumentMetadata,
    classify_submission,
    extract_document_metadata,
)
from pipeline.docx import docx_to_html
from pipeline.sanitize import html_to_text, sanitize_html

SEEDS = Path(__file__).resolve().parents[2] / "shared" / "seeds"


def seed_lines(prefix: str) -> list[str]:
    (path,) = SEEDS.glob(f"{prefix}_*.txt")
    return path.read_text(encoding="utf-8").splitlines()


def seed_head(prefix: str, start: int = 0) -> str:
    return "\n".join(seed_lines(prefix)[start : start + 60])


def kind_of(
    subject: str,
    text: str,
    files: list[tuple[str, str]],
    tags: dict[str, str] | None = None,
    article_min_words: int = ARTICLE_MIN_WORDS,
) -> str:
    return classify_submission(subject, text, files, tags, article_min_words=article_min_words)[0]


def extract(subject: str, text: str) -> DocumentMetadata:
    meta = extract_document_metadata(subject, text)
    assert meta is not None
    return meta


COVER_NOTE = "Kính gửi Ban Biên tập Cổng thông tin điện tử tỉnh.\n\nTrân trọng."

NEWS = """Đồng Nai: Hơn 2.000 đoàn viên ra quân chiến dịch Thanh niên tình nguyện hè

Sáng 15/6, Tỉnh đoàn Đồng Nai tổ chức lễ ra quân chiến dịch Thanh niên tình nguyện hè năm 2024
tại huyện Vĩnh Cửu. Theo Quyết định số 123/QĐ-UBND ngày 2/5/2024 của UBND tỉnh, chiến dịch
diễn ra đến hết tháng 8 với nhiều hoạt động như sửa chữa nhà tình nghĩa, trồng cây xanh,
hướng dẫn người dân sử dụng dịch vụ công trực tuyến.

Phát biểu tại buổi lễ, đồng chí Bí thư Tỉnh đoàn đề nghị các cơ sở đoàn phát huy tinh thần
xung kích, tình nguyện vì cộng đồng."""

ARTICLE_PARAGRAPHS = [
    "Chuyển đổi số trong cơ quan hành chính nhà nước không chỉ là việc trang bị máy tính hay "
    "phần mềm, mà trước hết là thay đổi cách nghĩ, cách làm của đội ngũ cán bộ, công chức. "
    "Thời gian qua, các sở, ngành và địa phương trong tỉnh đã tập trung rà soát quy trình, "
    "cắt giảm thủ tục giấy tờ, đưa hồ sơ công việc lên môi trường mạng.",
    "Tại Trung tâm Phục vụ hành chính công tỉnh, người dân có thể nộp hồ sơ trực tuyến, theo "
    "dõi tiến độ giải quyết và nhận kết quả qua dịch vụ bưu chính công ích. Nhiều thủ tục "
    "trước đây phải đi lại nhiều lần nay chỉ cần vài thao tác trên điện thoại thông minh, "
    "giúp tiết kiệm thời gian và chi phí cho người dân, doanh nghiệp.",
    "Tuy vậy, quá trình triển khai vẫn còn những khó khăn nhất định. Hạ tầng viễn thông ở một "
    "số xã vùng sâu chưa đồng bộ, kỹ năng số của một bộ phận người dân còn hạn chế, dữ liệu "
    "giữa các ngành chưa được kết nối, chia sẻ đầy đủ. Đây là những vấn đề cần được giải quyết "
    "căn cơ trong giai đoạn tới.",
    "Để chuyển đổi số thực sự đi vào chiều sâu, các chuyên gia cho rằng cần ưu tiên nguồn lực "
    "cho đào tạo, bồi dưỡng kỹ năng số, xây dựng cơ sở dữ liệu dùng chung và lấy sự hài lòng "
    "của người dân làm thước đo hiệu quả. Mỗi cơ quan cần có người đứng đầu trực tiếp chỉ đạo, "
    "kiểm tra, đôn đốc việc thực hiện.",
]
LONG_ARTICLE = "\n\n".join(ARTICLE_PARAGRAPHS * 4)


# --- the seeds' own headers ----------------------------------------------------------------


def test_cong_van_header_of_seed_000() -> None:
    meta = extract("", seed_head("000"))
    assert meta == DocumentMetadata(
        doc_type="Công văn",
        number="52/STP-VP",
        issuer="Sở Tư pháp",
        issue_date=date(2020, 1, 1),
        effective_date=None,
        summary="V/v triển khai thực hiện Quy chế tổ chức và hoạt động của "
        "Ban Biên tập công thông tin điện tử tỉnh Đồng Nai",
    )


def test_decision_attached_to_seed_000_with_multiline_issuer() -> None:
    lines = seed_lines("000")
    start = lines.index("AN KHU") + 1  # the attached Quyết định 172 begins after this scan noise
    meta = extract("", seed_head("000", start))
    assert meta == DocumentMetadata(
        doc_type="Quyết định",
        number="172/QĐ-BBT",  # written "172 /QĐ-BBT" in the header
        issuer="Ban Biên tập công thông tin điện tử tỉnh Đồng Nai",
        issue_date=date(2019, 12, 27),
        effective_date=date(2019, 12, 27),  # "có hiệu lực thi hành kể từ ngày ký"
        summary="Ban hành Quy chế tổ chức và hoạt động của Ban Biên tập "
        "Công Thông tin điện tử tỉnh Đồng Nai",
    )


def test_whole_seed_000_reads_the_first_document_only() -> None:
    text = "\n".join(seed_lines("000"))
    meta = extract("", text)
    assert meta.number == "52/STP-VP"
    # The attached decision's "kể từ ngày ký" (after "Nơi nhận") is not the letter's own.
    assert meta.effective_date is None


def test_cong_van_of_a_generic_unit_names_its_parent_seed_001() -> None:
    meta = extract("", seed_head("001"))
    assert meta.doc_type == "Công văn"  # VPUBND is an issuer code, not a form code
    assert meta.number == "1293/VPUBND-TTTH-CB"
    assert meta.issuer == "Văn phòng UBND tỉnh Bình Phước"
    assert meta.issue_date == date(2015, 9, 21)
    assert meta.summary == (
        "V/v góp ý Dự thảo Quy chế tổ chức hoạt động của Công TTĐT tỉnh Bình Phước"
    )


def test_decision_without_header_block_uses_authority_line_seed_002() -> None:
    meta = extract("", seed_head("002"))
    assert meta == DocumentMetadata(
        doc_type="Quyết định",
        number="1060/QĐ-UBND",
        issuer="Ủy ban nhân dân tỉnh Khánh Hoà",
        issue_date=date(2020, 5, 11),
        effective_date=date(2020, 5, 11),  # "thi hành Quyết định này kể từ ngày ký"
        summary="Ban hành Quy chế làm việc của Ban Biên tập Cổng thông tin "
        "Dịch vụ hành chính công trực tuyến tỉnh Khánh Hòa",
    )


def test_draft_regulation_without_number_seed_003() -> None:
    meta = extract("", seed_head("003"))
    assert meta.doc_type == "Quy chế"
    assert meta.number is None
    assert meta.issue_date is None  # "ngày tháng 9 năm 2021": the day was left blank
    assert meta.summary == "Làm việc của Ban Biên tập công thông tin điện tử tỉnh"


def test_district_decision_seed_004() -> None:
    meta = extract("", seed_head("004"))
    assert meta == DocumentMetadata(
        doc_type="Quyết định",
        number="217/QĐ-UBND",
        issuer="Ủy ban nhân dân huyện Lục Nam",
        issue_date=date(2019, 3, 29),
        effective_date=date(2019, 3, 29),
        summary="Về việc kiện toàn Ban biên tập Cổng thông tin điện tử huyện Lục Nam",
    )


@pytest.mark.parametrize("prefix", ["000", "001", "002", "003", "004"])
def test_every_seed_is_classified_as_an_official_document(prefix: str) -> None:
    assert kind_of("Văn bản gửi Ban Biên tập", seed_head(prefix), []) == "van_ban"


# --- hand-written headers ------------------------------------------------------------------


def test_title_and_summary_on_one_line() -> None:
    text = (
        "ỦY BAN NHÂN DÂN\nTỈNH ĐỒNG NAI\n\nCỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM\n"
        "Độc lập - Tự do - Hạnh phúc\n\nSố: 3581/QĐ-UBND\n\nĐồng Nai, ngày 6 tháng 11 năm 2019\n\n"
        "QUYẾT ĐỊNH Về việc thành lập Ban Biên tập Cổng thông tin điện tử tỉnh Đồng Nai\n\n"
        "CHỦ TỊCH ỦY BAN NHÂN DÂN TỈNH ĐỒNG NAI\n\nCăn cứ Luật Tổ chức chính quyền địa phương;\n"
        "Điều 3. Quyết định này có hiệu lực kể từ ngày 15/11/2019.\n"
    )
    meta = extract("", text)
    assert meta.doc_type == "Quyết định"
    assert meta.issuer == "Ủy ban nhân dân tỉnh Đồng Nai"
    assert meta.issue_date == date(2019, 11, 6)
    assert meta.effective_date == date(2019, 11, 15)
    assert meta.summary == ("Về việc thành lập Ban Biên tập Cổng thông tin điện tử tỉnh Đồng Nai")


def test_form_taken_from_symbol_code_when_the_title_is_missing() -> None:
    text = (
        "UBND TỈNH ĐỒNG NAI\tCỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM\n"
        "SỞ THÔNG TIN VÀ TRUYỀN THÔNG\tĐộc lập - Tự do - Hạnh phúc\n\n"
        "Số: 15/TB-STTTT\n\nĐồng Nai, ngày 3 tháng 4 năm 2024\n\n"
        "Kính gửi: Các cơ quan, đơn vị.\n"
    )
    meta = extract("", text)
    assert meta.doc_type == "Thông báo"
    assert meta.number == "15/TB-STTTT"
    assert meta.issuer == "Sở Thông tin và Truyền thông"  # table layout: left column only
    assert meta.summary is None


@pytest.mark.parametrize(
    "written",
    ["05/06/2024", "5/6/2024", "5-6-2024", "5.6.2024", "5 / 6 /2024", "5 tháng 6 năm 2024"],
)
def test_issue_date_forms(written: str) -> None:
    text = f"Số: 7/KH-UBND\n\nĐồng Nai, ngày {written}\n\nKẾ HOẠCH\nTổ chức Ngày Sách Việt Nam\n"
    meta = extract("", text)
    assert meta.issue_date == date(2024, 6, 5)
    assert meta.doc_type == "Kế hoạch"
    assert meta.summary == "Tổ chức Ngày Sách Việt Nam"


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("Biên Hòa ngày 5 tháng 6 năm 2024", date(2024, 6, 5)),  # the comma left out
        ("TP. Hồ Chí Minh ngày 05/06/2024.", date(2024, 6, 5)),
        ("Sáng ngày 05/06/2024", None),  # a time of day, not a place
        ("Tổ chức vào ngày 05/06/2024", None),  # a sentence
        ("Hội nghị diễn ra ngày 05/06/2024 tại hội trường", None),
    ],
)
def test_a_place_date_line_typed_without_its_comma(line: str, expected: date | None) -> None:
    meta = extract("", f"Số: 7/KH-UBND\n\n{line}\n\nKẾ HOẠCH\nTổ chức Ngày Sách Việt Nam\n")
    assert meta.issue_date == expected


def test_impossible_date_gives_none() -> None:
    meta = extract("", "Số: 7/KH-UBND\n\nĐồng Nai, ngày 31 tháng 02 năm 2024\n")
    assert meta.issue_date is None


@pytest.mark.parametrize(
    ("clause", "expected"),
    [
        ("Quyết định này có hiệu lực thi hành kể từ ngày ký.", date(2024, 6, 5)),
        ("Quyết định này có hiệu lực kể từ ngày ban hành.", date(2024, 6, 5)),
        ("Quyết định này có hiệu lực kể từ ngày được thông qua.", date(2024, 6, 5)),
        ("Quyết định này có hiệu lực từ ngày 1/7/2024.", date(2024, 7, 1)),
        ("Quyết định có hiệu lực thi hành kể từ ngày 01 tháng 8 năm 2024.", date(2024, 8, 1)),
        ("Các cơ quan, đơn vị căn cứ Quyết định thi hành./.", None),
    ],
)
def test_effective_date(clause: str, expected: date | None) -> None:
    text = f"Số: 9/QĐ-STP\n\nĐồng Nai, ngày 5/6/2024\n\nQUYẾT ĐỊNH\nVề việc X\n\nĐiều 2. {clause}\n"
    assert extract("", text).effective_date == expected


def test_effective_some_days_after_signing() -> None:
    text = "Số: 9/QĐ-STP\n\nĐồng Nai, ngày 5/6/2024\n\nQUYẾT ĐỊNH\nVề việc X\n\n"
    text += "Điều 2. Quyết định này có hiệu lực sau 10 ngày kể từ ngày ký.\n"
    assert extract("", text).effective_date == date(2024, 6, 15)


def test_a_cited_laws_effective_date_is_not_the_letters() -> None:
    text = (
        "Số: 123/UBND-KT\nV/v tăng cường phòng cháy mùa khô\n\nĐồng Nai, ngày 5/11/2026\n\n"
        "Kính gửi: Các sở, ban, ngành.\n\nLuật Phòng cháy, chữa cháy và cứu nạn, cứu hộ có hiệu "
        "lực thi hành từ ngày 01/7/2025. UBND tỉnh yêu cầu các đơn vị triển khai thực hiện.\n"
    )
    assert extract("", text).effective_date is None


def test_law_is_dated_the_day_it_was_passed() -> None:
    text = (
        "QUỐC HỘI\n\nCỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM\nĐộc lập - Tự do - Hạnh phúc\n\n"
        "Luật số: 24/2018/QH14\n\nLUẬT\nAN NINH MẠNG\n\nCăn cứ Hiến pháp;\n\n"
        "Điều 43. Luật này có hiệu lực thi hành từ ngày 01 tháng 01 năm 2019.\n\n"
        "Luật này đã được Quốc hội khóa XIV, kỳ họp thứ 5 thông qua ngày 12 tháng 6 năm 2018.\n"
    )
    assert extract("", text) == DocumentMetadata(
        doc_type="Luật",
        number="24/2018/QH14",
        issuer="Quốc hội",
        issue_date=date(2018, 6, 12),
        effective_date=date(2019, 1, 1),
        summary="An ninh mạng",
    )


def test_effective_on_signing_without_a_known_issue_date_is_unknown() -> None:
    text = "Số: 9/QĐ-STP\n\nQUYẾT ĐỊNH\n\nĐiều 2. Quyết định này có hiệu lực kể từ ngày ký.\n"
    meta = extract("", text)
    assert meta.issue_date is None
    assert meta.effective_date is None


def test_header_typed_without_diacritics() -> None:
    text = (
        "UY BAN NHAN DAN\nTINH DONG NAI\n\nCONG HOA XA HOI CHU NGHIA VIET NAM\n"
        "Doc lap - Tu do - Hanh phuc\n\nSo: 1060/QD-UBND\n\nDong Nai, ngay 05 thang 11 nam 2026\n\n"
        "QUYET DINH\nVe viec phe duyet Ke hoach chuyen doi so nam 2027\n\n"
        "Can cu Luat To chuc chinh quyen dia phuong;\n"
        "Dieu 2. Quyet dinh nay co hieu luc ke tu ngay ky.\n"
    )
    assert extract("", text) == DocumentMetadata(
        doc_type="Quyết định",
        number="1060/QD-UBND",
        issuer="Uy ban nhan dan tinh Dong Nai",
        issue_date=date(2026, 11, 5),
        effective_date=date(2026, 11, 5),
        summary="Ve viec phe duyet Ke hoach chuyen doi so nam 2027",
    )


@pytest.mark.parametrize(
    ("number_line", "number", "doc_type", "issuer"),
    [
        ("Số: 1060/QÐ–UBND", "1060/QĐ-UBND", "Quyết định", "Ủy ban nhân dân"),  # eth, en dash
        ("Luật số: 24/2018/QH14", "24/2018/QH14", "Luật", "Quốc hội"),
        ("Số 05-KH/TU", "05-KH/TU", "Kế hoạch", "Tỉnh ủy"),  # a Party document's symbol
    ],
)
def test_number_lines_as_written(number_line: str, number: str, doc_type: str, issuer: str) -> None:
    meta = extract("", f"{number_line}\n\nNội dung văn bản.\n")
    assert (meta.number, meta.doc_type, meta.issuer) == (number, doc_type, issuer)


def test_party_committee_plan() -> None:
    text = (
        "TỈNH ỦY ĐỒNG NAI\n*\n\nSố 05-KH/TU\n\nĐẢNG CỘNG SẢN VIỆT NAM\n\n"
        "Đồng Nai, ngày 05 tháng 11 năm 2026\n\nKẾ HOẠCH\n"
        "tuyên truyền kỷ niệm 80 năm Ngày thành lập Đảng bộ tỉnh\n\n"
        "- Căn cứ Hướng dẫn số 12-HD/BTGTW;\n"
    )
    assert extract("", text) == DocumentMetadata(
        doc_type="Kế hoạch",
        number="05-KH/TU",
        issuer="Tỉnh ủy Đồng Nai",  # the place after the committee is a name
        issue_date=date(2026, 11, 5),
        effective_date=None,
        summary="Tuyên truyền kỷ niệm 80 năm Ngày thành lập Đảng bộ tỉnh",
    )


TABLE_ROWS = [
    ("ỦY BAN NHÂN DÂN", "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM"),
    ("TỈNH ĐỒNG NAI", "Độc lập - Tự do - Hạnh phúc"),
    ("Số: 123/UBND-KT", ""),
    ("V/v tăng cường công tác phòng,", "Đồng Nai, ngày 5 tháng 11 năm 2026"),
    ("chống cháy nổ mùa khô năm 2026", ""),
]
TABLE_AS_HTML = "<table>{}</table><p>Kính gửi: Các sở, ban, ngành.</p>".format(
    "".join(f"<tr><td>{left}</td><td><i>{right}</i></td></tr>" for left, right in TABLE_ROWS)
)


@pytest.mark.parametrize(
    "text",
    [
        "\n".join(f"{left}\t{right}" for left, right in TABLE_ROWS) + "\n\nKính gửi: Các sở.",
        "\n".join(f"{left:<40}{right}" for left, right in TABLE_ROWS) + "\n\nKính gửi: Các sở.",
        html_to_text(TABLE_AS_HTML),  # cells without paragraphs: a row a line, tab-separated
    ],
    ids=["tabs", "spaces", "html"],
)
def test_header_typed_as_a_two_column_table(text: str) -> None:
    assert extract("", text) == DocumentMetadata(
        doc_type="Công văn",
        number="123/UBND-KT",
        issuer="Ủy ban nhân dân tỉnh Đồng Nai",
        issue_date=date(2026, 11, 5),  # in the right column of the number's or V/v's row
        effective_date=None,
        summary="V/v tăng cường công tác phòng, chống cháy nổ mùa khô năm 2026",
    )


DECISION_LINES = [
    ("ỦY BAN NHÂN DÂN", "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM"),
    ("TỈNH ĐỒNG NAI", "Độc lập - Tự do - Hạnh phúc"),
    ("Số: 1060/QĐ-UBND", "Đồng Nai, ngày 05 tháng 11 năm 2026"),
]
DECISION_BODY = [
    "QUYẾT ĐỊNH",
    "Về việc phê duyệt Kế hoạch chuyển đổi số",  # the trích yếu, typed as two paragraphs
    "tỉnh Đồng Nai năm 2027",
    "CHỦ TỊCH ỦY BAN NHÂN DÂN TỈNH ĐỒNG NAI",
    "Căn cứ Luật Tổ chức chính quyền địa phương ngày 19 tháng 6 năm 2015;",
    "Điều 2. Quyết định này có hiệu lực kể từ ngày ký.",
]
DECISION = DocumentMetadata(
    doc_type="Quyết định",
    number="1060/QĐ-UBND",
    issuer="Ủy ban nhân dân tỉnh Đồng Nai",
    issue_date=date(2026, 11, 5),
    effective_date=date(2026, 11, 5),
    summary="Về việc phê duyệt Kế hoạch chuyển đổi số tỉnh Đồng Nai năm 2027",
)


def test_decision_sent_as_a_word_file() -> None:
    document = Document()
    table = document.add_table(rows=len(DECISION_LINES), cols=2)
    for row, (left, right) in zip(table.rows, DECISION_LINES, strict=True):
        row.cells[0].text, row.cells[1].text = left, right
    for line in DECISION_BODY:
        document.add_paragraph(line)
    data = io.BytesIO()
    document.save(data)
    text = html_to_text(sanitize_html(docx_to_html(data.getvalue()).html).html)
    assert extract("", text) == DECISION


def test_decision_in_a_mail_a_paragraph_a_line() -> None:
    lines = [cell for row in DECISION_LINES for cell in row] + DECISION_BODY
    text = html_to_text("".join(f"<p>{line}</p>" for line in lines))
    assert extract("", text) == DECISION


@pytest.mark.parametrize(
    ("after", "summary"),
    [
        (  # the body's first sentence is not the trích yếu's next line
            "Thực hiện Kế hoạch số 123/KH-UBND của UBND tỉnh, Sở ban hành Kế hoạch như sau:",
            "Tuyên truyền về chuyển đổi số trên địa bàn tỉnh năm 2027",
        ),
        (
            "Nhằm nâng cao nhận thức của cán bộ, công chức về chuyển đổi số",
            "Tuyên truyền về chuyển đổi số trên địa bàn tỉnh năm 2027",
        ),
        ("I. MỤC ĐÍCH, YÊU CẦU", "Tuyên truyền về chuyển đổi số trên địa bàn tỉnh năm 2027"),
        ("__________", "Tuyên truyền về chuyển đổi số trên địa bàn tỉnh năm 2027"),
    ],
)
def test_trich_yeu_ends_where_the_body_begins(after: str, summary: str) -> None:
    lines = ["Số: 88/KH-STTTT", "Đồng Nai, ngày 5/11/2026", "KẾ HOẠCH"]
    lines += ["Tuyên truyền về chuyển đổi số", "trên địa bàn tỉnh năm 2027", after, "1. Mục đích"]
    assert extract("", html_to_text("".join(f"<p>{line}</p>" for line in lines))).summary == summary


def test_trich_yeu_ends_at_the_rule_under_it() -> None:
    text = "Số: 88/KH-STTTT\nĐồng Nai, ngày 5/11/2026\n\nKẾ HOẠCH\nTuyên truyền năm 2027\n-------\n"
    assert extract("", text).summary == "Tuyên truyền năm 2027"


# --- cover notes that label the fields (Đ8.1d) ------------------------------------------------


def test_cover_note_labelling_the_fields_the_regulation_names() -> None:
    note = (
        "Kính gửi: Ban Biên tập Cổng thông tin điện tử tỉnh\n\n"
        "Sở Thông tin và Truyền thông đề nghị đăng tải văn bản sau:\n"
        "- Hình thức văn bản: Quyết định\n- Số ký hiệu: 1060/QĐ-UBND\n"
        "- Cơ quan ban hành: UBND tỉnh Đồng Nai\n- Ngày ban hành: 05/11/2026\n"
        "- Ngày hiệu lực: kể từ ngày ký\n"
        "- Trích yếu: Phê duyệt Kế hoạch chuyển đổi số tỉnh Đồng Nai năm 2027\n\nTrân trọng."
    )
    assert extract("Đề nghị đăng tải văn bản", note) == DocumentMetadata(
        doc_type="Quyết định",
        number="1060/QĐ-UBND",
        issuer="UBND tỉnh Đồng Nai",
        issue_date=date(2026, 11, 5),
        effective_date=date(2026, 11, 5),
        summary="Phê duyệt Kế hoạch chuyển đổi số tỉnh Đồng Nai năm 2027",
    )
    assert kind_of("Đề nghị đăng tải văn bản", note, []) == "van_ban"


def test_cover_note_labels_typed_without_diacritics() -> None:
    note = (
        "Kinh gui Ban Bien tap,\nSo, ky hieu: 05/KH-BCĐ\nNgay ban hanh: 5/11/2026\n"
        "Trich yeu: Tuyen truyen ve chuyen doi so nam 2027\nTran trong."
    )
    meta = extract("Gui van ban dang tai", note)
    assert (meta.doc_type, meta.number, meta.issue_date, meta.summary) == (
        "Kế hoạch",
        "05/KH-BCĐ",
        date(2026, 11, 5),
        "Tuyen truyen ve chuyen doi so nam 2027",
    )


def test_cover_note_naming_the_document_on_one_line() -> None:
    note = (
        "Kính gửi Ban Biên tập.\n"
        "Văn bản: Thông báo số 47/TB-VPUBND ngày 05/11/2026 của Văn phòng UBND tỉnh\n"
        "Trích yếu: Kết luận của Chủ tịch UBND tỉnh tại buổi làm việc với Sở Nội vụ\nTrân trọng."
    )
    assert extract("Gửi văn bản đăng Cổng", note) == DocumentMetadata(
        doc_type="Thông báo",
        number="47/TB-VPUBND",
        issuer="Văn phòng UBND tỉnh",
        issue_date=date(2026, 11, 5),
        effective_date=None,
        summary="Kết luận của Chủ tịch UBND tỉnh tại buổi làm việc với Sở Nội vụ",
    )


def test_a_notice_with_other_labels_is_no_document() -> None:
    note = (
        "Kính gửi các đơn vị,\nSở tổ chức tập huấn:\n- Hình thức: trực tuyến\n"
        "- Thời gian: 8 giờ 00 ngày 15/11/2026\n- Số lượng: 50 người\nTrân trọng."
    )
    assert extract_document_metadata("Tập huấn chuyển đổi số", note) is None


# --- mail subjects -------------------------------------------------------------------------


def test_subject_send_form() -> None:
    subject = (
        "Gửi Quyết định số 1060/QĐ-UBND ngày 12/5/2024 của UBND tỉnh "
        "về việc ban hành Quy chế làm việc của Ban Biên tập"
    )
    meta = extract(subject, COVER_NOTE)
    assert meta == DocumentMetadata(
        doc_type="Quyết định",
        number="1060/QĐ-UBND",
        issuer="UBND tỉnh",
        issue_date=date(2024, 5, 12),
        effective_date=None,
        summary="Về việc ban hành Quy chế làm việc của Ban Biên tập",
    )


def test_subject_with_reply_prefix_tag_and_sender() -> None:
    subject = "Fwd: [Văn bản] Sở Tư pháp gửi Công văn 52/STP-VP V/v triển khai Quy chế"
    meta = extract(subject, COVER_NOTE)
    assert meta.doc_type == "Công văn"
    assert meta.number == "52/STP-VP"
    assert meta.issuer == "Sở Tư pháp"  # from the issuer code
    assert meta.summary == "V/v triển khai Quy chế"


@pytest.mark.parametrize("prefix", ["CT: ", "[Văn bản] TL: ", "Chuyển tiếp: ", "RE[2]: AW: "])
def test_subject_behind_any_client_reply_prefix(prefix: str) -> None:
    meta = extract(f"{prefix}Công văn 52/STP-VP V/v triển khai Quy chế", COVER_NOTE)
    assert (meta.doc_type, meta.number) == ("Công văn", "52/STP-VP")
    assert meta.summary == "V/v triển khai Quy chế"


def test_subject_fills_what_the_text_lacks() -> None:
    subject = "Gửi Quyết định số 9/QĐ-STP ngày 5.6.2024"
    text = "QUYẾT ĐỊNH\nVề việc X\n\nĐiều 2. Quyết định này có hiệu lực kể từ ngày ký.\n"
    meta = extract(subject, text)
    assert meta.issue_date == date(2024, 6, 5)
    assert meta.effective_date == date(2024, 6, 5)
    assert meta.summary == "Về việc X"


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        (  # the symbol's code is whole: not "05/KH" with "BCĐ tuyên truyền…" as summary
            "Kế hoạch 05/KH-BCĐ tuyên truyền chuyển đổi số năm 2027",
            ("Kế hoạch", "05/KH-BCĐ", "Ban Chỉ đạo", None, "Tuyên truyền chuyển đổi số năm 2027"),
        ),
        (
            "Gửi Quyết định số 1060/QĐ-UBND.",
            ("Quyết định", "1060/QĐ-UBND", "Ủy ban nhân dân", None, None),
        ),
        (
            "Gửi Quyết định số 1060/QĐ-UBND của UBND tỉnh để đăng tải",
            ("Quyết định", "1060/QĐ-UBND", "UBND tỉnh", None, None),
        ),
        (
            "Phòng VH-TT gửi Quyết định 217/QĐ-UBND đăng trên Cổng",
            ("Quyết định", "217/QĐ-UBND", "Ủy ban nhân dân", None, None),
        ),
        # abbreviated forms, "Văn bản số …"
        ("CV số 123/UBND-KT", ("Công văn", "123/UBND-KT", "Ủy ban nhân dân", None, None)),
        (
            "QĐ số 1060/QĐ-UBND ngày 05/11/2026",
            ("Quyết định", "1060/QĐ-UBND", "Ủy ban nhân dân", date(2026, 11, 5), None),
        ),
        (
            "QĐ 1060 - phê duyệt Kế hoạch chuyển đổi số năm 2027",
            ("Quyết định", None, None, None, "Phê duyệt Kế hoạch chuyển đổi số năm 2027"),
        ),
        ("Văn bản số 123/UBND-KT", ("Công văn", "123/UBND-KT", "Ủy ban nhân dân", None, None)),
        (
            "Đăng tải văn bản: Thông báo số 47/TB-VPUBND",
            ("Thông báo", "47/TB-VPUBND", "Văn phòng Ủy ban nhân dân", None, None),
        ),
        # typed without diacritics, in capitals, with Word's dash and a look-alike Ð
        (
            "Gui Quyet dinh so 1060/QD-UBND ngay 05/11/2026 cua UBND tinh ve viec phe duyet",
            ("Quyết định", "1060/QD-UBND", "UBND tinh", date(2026, 11, 5), "Ve viec phe duyet"),
        ),
        (
            "GỬI QUYẾT ĐỊNH SỐ 1060/QĐ-UBND CỦA UBND TỈNH VỀ VIỆC PHÊ DUYỆT KẾ HOẠCH",
            ("Quyết định", "1060/QĐ-UBND", "UBND tỉnh", None, "Về việc phê duyệt kế hoạch"),
        ),
        ("Gửi QÐ số 1060/QÐ–UBND", ("Quyết định", "1060/QĐ-UBND", "Ủy ban nhân dân", None, None)),
        # the issuer before the date; a Party document's symbol
        (
            "Gửi Quyết định số 1060/QĐ-UBND của UBND tỉnh ngày 05/11/2026",
            ("Quyết định", "1060/QĐ-UBND", "UBND tỉnh", date(2026, 11, 5), None),
        ),
        (
            "Gửi Kế hoạch số 05-KH/TU ngày 5/11/2026 của Tỉnh ủy",
            ("Kế hoạch", "05-KH/TU", "Tỉnh ủy", date(2026, 11, 5), None),
        ),
        # what follows the symbol in brackets, after a comma or an "và" is no trích yếu
        (
            "Gửi Quyết định 1060/QĐ-UBND (05/11/2026)",
            ("Quyết định", "1060/QĐ-UBND", "Ủy ban nhân dân", date(2026, 11, 5), None),
        ),
        (
            "Gửi QĐ 1060/QĐ-UBND (kèm file)",
            ("Quyết định", "1060/QĐ-UBND", "Ủy ban nhân dân", None, None),
        ),
        (
            "Gửi Quyết định 1060/QĐ-UBND và Kế hoạch 05/KH-BCĐ",
            ("Quyết định", "1060/QĐ-UBND", "Ủy ban nhân dân", None, None),
        ),
        (
            "Gửi Quyết định 1060/QĐ-UBND, Kế hoạch 05/KH-BCĐ",
            ("Quyết định", "1060/QĐ-UBND", "Ủy ban nhân dân", None, None),
        ),
        (
            "Gửi Quyết định 1060/QĐ-UBND: đề nghị đăng tải",
            ("Quyết định", "1060/QĐ-UBND", "Ủy ban nhân dân", None, None),
        ),
        (
            "Gửi Quyết định 1060/QĐ-UBND, phê duyệt kế hoạch",
            ("Quyết định", "1060/QĐ-UBND", "Ủy ban nhân dân", None, "Phê duyệt kế hoạch"),
        ),
    ],
)
def test_subjects_as_agencies_write_them(
    subject: str, expected: tuple[str | None, str | None, str | None, date | None, str | None]
) -> None:
    meta = extract(subject, COVER_NOTE)
    assert (meta.doc_type, meta.number, meta.issuer, meta.issue_date, meta.summary) == expected


@pytest.mark.parametrize(
    "subject",
    [
        "Báo cáo 6 tháng đầu năm 2026",  # a number of months, not a document's
        "Kế hoạch 2027",  # a year
        "Gửi tin: Hội nghị triển khai Quyết định 1060/QĐ-UBND",
        "Thông báo 45/2026: lịch nghỉ",
    ],
)
def test_subjects_that_name_no_document(subject: str) -> None:
    assert extract_document_metadata(subject, COVER_NOTE) is None


def test_header_wins_over_subject() -> None:
    meta = extract("Gửi Công văn số 1/STP-VP ngày 1/1/2019", seed_head("000"))
    assert meta.number == "52/STP-VP"
    assert meta.issue_date == date(2020, 1, 1)


@pytest.mark.parametrize(
    ("number", "doc_type", "issuer"),
    [
        ("123/KH-UBND", "Kế hoạch", "Ủy ban nhân dân"),
        ("52/STP-VP", "Công văn", "Sở Tư pháp"),
        ("77/CV-STP", "Công văn", "Sở Tư pháp"),
        ("172/QĐ-BBT", "Quyết định", "Ban Biên tập"),
        ("1060/QD-UBND", "Quyết định", "Ủy ban nhân dân"),  # typed without "Đ"
        ("05/2023/TT-BTTTT", "Thông tư", "Bộ Thông tin và Truyền thông"),
        ("43/2011/NĐ-CP", "Nghị định", "Chính phủ"),
        ("17/2008/QH12", "Luật", "Quốc hội"),
        ("01/CT-UBND", "Chỉ thị", "Ủy ban nhân dân"),
        ("12/NQ-HĐND", "Nghị quyết", "Hội đồng nhân dân"),
        ("30/BC-SNV", "Báo cáo", "Sở Nội vụ"),
        ("2570/TTr-VP", "Tờ trình", None),
        ("08/HD-STTTT", "Hướng dẫn", "Sở Thông tin và Truyền thông"),
        ("02/CĐ-UBND", "Công điện", "Ủy ban nhân dân"),
        ("45/GM-UBND", "Giấy mời", "Ủy ban nhân dân"),
        ("03/QC-BBT", "Quy chế", "Ban Biên tập"),
        ("10/TTg-KGVX", "Công văn", "Thủ tướng Chính phủ"),
    ],
)
def test_symbol_codes(number: str, doc_type: str, issuer: str | None) -> None:
    meta = extract(f"Gửi văn bản số {number}", COVER_NOTE)
    assert (meta.number, meta.doc_type, meta.issuer) == (number, doc_type, issuer)


def test_news_story_citing_a_decision_is_not_a_document() -> None:
    subject = "UBND tỉnh ban hành Quyết định số 123/QĐ-UBND về chiến dịch hè"
    assert extract_document_metadata(subject, NEWS) is None
    assert kind_of(subject, NEWS, []) == "tin"


@pytest.mark.parametrize(
    "headline",
    ["LUẬT SƯ TƯ VẤN MIỄN PHÍ CHO NGƯỜI DÂN XÃ PHÚ LÝ", "KẾ HOẠCH NHỎ - Ý NGHĨA LỚN"],
)
def test_headline_in_capitals_starting_with_a_forms_name_is_news(headline: str) -> None:
    story = f"{headline}\n\nVĩnh Cửu, ngày 5/11/2026\n\nSáng 5/11, hơn 200 người dân được giúp đỡ."
    assert extract_document_metadata("Gửi tin", story) is None
    assert kind_of("Gửi tin", story, []) == "tin"


@pytest.mark.parametrize("text", ["", "\n", "   "])
def test_a_mail_with_no_text_is_named_by_its_subject(text: str) -> None:
    meta = extract("Gửi Quyết định số 1060/QĐ-UBND", text)
    assert (meta.doc_type, meta.number) == ("Quyết định", "1060/QĐ-UBND")
    assert extract_document_metadata("Ảnh hoạt động", text) is None


def test_to_dict_is_json_friendly() -> None:
    data = extract("", seed_head("004")).to_dict()
    assert data["issue_date"] == "2019-03-29"
    assert data["effective_date"] == "2019-03-29"
    assert data["number"] == "217/QĐ-UBND"
    assert json.loads(json.dumps(data, ensure_ascii=False)) == data
    assert set(data) == {"doc_type", "number", "issuer", "issue_date", "effective_date", "summary"}


# --- kinds of item -------------------------------------------------------------------------


def test_kind_labels() -> None:
    assert KIND_LABELS == {
        "tin": "Tin",
        "bai": "Bài",
        "anh": "Ảnh",
        "video": "Video",
        "van_ban": "Văn bản",
    }


def test_long_article_is_bai_and_short_one_is_tin() -> None:
    assert len(LONG_ARTICLE.split()) >= ARTICLE_MIN_WORDS
    subject = "Chuyển đổi số: bắt đầu từ con người"
    assert kind_of(subject, LONG_ARTICLE, []) == "bai"
    short = "\n\n".join(ARTICLE_PARAGRAPHS[:2])
    assert kind_of(subject, short, []) == "tin"
    assert kind_of(subject, short, [], article_min_words=50) == "bai"


def test_photo_mail_is_anh() -> None:
    photos = [(f"IMG_04{i}.JPG", "image/jpeg") for i in range(3)]
    caption = "Ảnh: Lãnh đạo tỉnh trao quà cho hộ nghèo xã Phú Lý, huyện Vĩnh Cửu sáng 15/6."
    assert kind_of("Ảnh hoạt động", caption, photos) == "anh"
    # The same photos with a full story are an article, and a lone attachment among many
    # documents does not make a photo mail.
    assert kind_of("Ảnh hoạt động", LONG_ARTICLE, photos) == "bai"
    docs = [("danh-sach.xlsx", "application/vnd.ms-excel")] * 3
    assert kind_of("Tài liệu", caption, [photos[0], *docs]) == "tin"


@pytest.mark.parametrize(
    "attachment",
    [("phong-su.mp4", "video/mp4"), ("CLIP_LE_RA_QUAN.MOV", "application/octet-stream")],
)
def test_video_attachment_is_video(attachment: tuple[str, str]) -> None:
    caption = "Phóng sự lễ ra quân chiến dịch Thanh niên tình nguyện hè."
    assert kind_of("Phóng sự", caption, [attachment, ("anh.jpg", "image/jpeg")]) == "video"


@pytest.mark.parametrize(
    ("filename", "expected"),
    [
        ("1060-QD-UBND.pdf", "van_ban"),
        ("52_STP-VP.docx", "van_ban"),
        ("QĐ 172.doc", "van_ban"),
        ("05_2023_TT-BTTTT.pdf", "van_ban"),
        ("Thu moi du hoi nghi.pdf", "tin"),
        ("IMG_0412.pdf", "tin"),
        ("1060-QD-UBND.zip", "tin"),
    ],
)
def test_document_attachment_names(filename: str, expected: str) -> None:
    attachments = [(filename, "application/octet-stream")]
    assert kind_of("Gửi tài liệu", "Kính gửi Ban Biên tập.", attachments) == expected


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("[Tin] Chuyển đổi số: bắt đầu từ con người", "tin"),
        ("[BÀI] Hội nghị sơ kết", "bai"),
        ("Fwd: [ảnh] Hội nghị sơ kết", "anh"),
        ("[Video] Lễ ra quân", "video"),
        ("[Van ban] Kế hoạch tuyên truyền", "van_ban"),
        ("[Văn bản] Kế hoạch tuyên truyền", "van_ban"),
    ],
)
def test_subject_tags_come_first(subject: str, expected: str) -> None:
    # A long text with a video and a document-named file: only the tag decides.
    attachments = [("clip.mp4", "video/mp4"), ("123-KH-UBND.pdf", "application/pdf")]
    assert kind_of(subject, LONG_ARTICLE, attachments) == expected


def test_extra_subject_tags() -> None:
    tags = {"Phóng sự": "video", "Thông cáo": "van_ban"}
    assert kind_of("[PHONG SU] Mùa lúa mới", NEWS, [], tags) == "video"
    assert kind_of("[Thông cáo] Kết quả kỳ họp", NEWS, [], tags) == "van_ban"
    assert kind_of("[Phóng sự] Mùa lúa mới", NEWS, []) == "tin"  # not a default tag
    with pytest.raises(ValueError, match="unknown kind"):
        kind_of("[X] y", NEWS, [], {"X": "podcast"})


@pytest.mark.parametrize(
    "link",
    [
        "https://www.youtube.com/watch?v=Xy12AbCdEf0",
        "https://youtu.be/Xy12AbCdEf0",
        "https://fb.watch/q1w2e3r4t5/",
        "https://www.facebook.com/cttdtbinhphuoc/videos/1234567890/",
    ],
)
def test_a_short_mail_with_a_link_to_a_clip_is_video(link: str) -> None:
    note = f"Kính gửi Ban Biên tập,\nĐài gửi clip phóng sự lễ ra quân:\n{link}\nTrân trọng."
    assert kind_of("Phóng sự lễ ra quân", note, []) == "video"
    html = f'<p>Đài gửi <a href="{link}">clip phóng sự</a> lễ ra quân.</p>'
    assert (
        classify_submission("Phóng sự", "Đài gửi clip phóng sự lễ ra quân.", [], html=html)[0]
        == "video"
    )
    # An article that links a clip in passing is still the article; a channel is no clip.
    assert kind_of("Chuyển đổi số", f"{LONG_ARTICLE}\n{link}", []) == "bai"
    assert kind_of("Kênh của Đài", "https://www.youtube.com/@dnrtv", []) == "tin"
