"""The checks that raise flags on a submission, on the forms real mail gives them."""

from __future__ import annotations

import re
from functools import cache
from io import BytesIO
from pathlib import Path

import docx
import pytest

from pipeline import byline, checks, classify
from pipeline.config import Board, load_board
from pipeline.docx import DOCX_TYPE
from pipeline.models import State
from pipeline.samples import NEWS_BODY, article_mail
from tests.helpers import CONFIG, DEMO_BOX, make_rig

STORY = (
    "Sáng 12/3, UBND huyện tổ chức hội nghị triển khai kế hoạch tuyên truyền năm 2026.\n"
    "Dự hội nghị có lãnh đạo các phòng, ban, ngành và đại diện 21 xã, thị trấn.\n"
    "Tác giả: Nguyễn Văn An\n"
)


@cache
def board(board_id: str = "demo") -> Board:
    return load_board(CONFIG / f"{board_id}.toml")


def codes(
    text: str,
    title: str = "Hội nghị triển khai kế hoạch tuyên truyền",
    files: tuple[str, ...] = (),
    board_id: str = "demo",
) -> list[str]:
    """The flags an item from a known agency of ``board_id`` would get."""
    b = board(board_id)
    facts = checks.Facts(
        board=b,
        sender=classify.Sender(None, b.agencies[0]),
        title=title,
        text=text,
        byline=byline.extract(text),
        file_names=files,
        oversized=(),
        duplicate_of=None,
        legacy_encoding=None,
        remote_images=(),
    )
    return [f.code for f in checks.run_checks(facts)]


def marking(text: str, title: str = "Báo cáo quý I", files: tuple[str, ...] = ()) -> str | None:
    found = checks.security_marking(
        checks.Facts(
            board=board(),
            sender=classify.Sender(None, board().agencies[0]),
            title=title,
            text=text,
            byline=None,
            file_names=files,
            oversized=(),
            duplicate_of=None,
            legacy_encoding=None,
            remote_images=(),
        )
    )
    return None if found is None else str(found.detail["marking"])


@pytest.mark.parametrize(
    ("text", "title", "files", "stamp"),
    [
        ("Mật\n\n" + STORY, "Báo cáo quý I", (), "MẬT"),
        ("MAT\n\n" + STORY, "Bao cao quy I", (), "MẬT"),
        ("TOI MAT\n\n" + STORY, "Bao cao quy I", (), "TỐI MẬT"),
        ("T Ố I  M Ậ T\n\n" + STORY, "Báo cáo quý I", (), "TỐI MẬT"),
        (
            "UBND HUYỆN\tCỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM\nTUYỆT MẬT\t\n" + STORY,
            "BC",
            (),
            "TUYỆT MẬT",
        ),
        ("Độ mật: Mật; Độ khẩn: Khẩn\n" + STORY, "Báo cáo quý I", (), "MẬT"),
        ("Độ mật: Mật  Độ khẩn: Thượng khẩn\n" + STORY, "Báo cáo quý I", (), "MẬT"),
        ("Số: 12/BC-UBND, Độ mật: Tối mật, Độ khẩn: Khẩn\n" + STORY, "Báo cáo", (), "TỐI MẬT"),
        ("Do mat: Tuyet mat\n" + STORY, "Bao cao", (), "TUYỆT MẬT"),
        (STORY, "MẬT - Báo cáo kết quả rà soát đối tượng quý I năm 2026", (), "MẬT"),
        (STORY, "Báo cáo kết quả rà soát đối tượng quý I năm 2026 (Mật)", (), "MẬT"),
        (STORY, "[MAT] Bao cao ket qua ra soat", (), "MẬT"),
        (STORY, "Gửi báo cáo", ("Bao cao MAT.pdf",), "MẬT"),
        (STORY, "Gửi báo cáo", ("BC_an_ninh_quy_I_TỐI_MẬT.pdf",), "TỐI MẬT"),
        (STORY, "Gửi báo cáo", ("TÀI LIỆU MẬT - Kế hoạch bảo vệ.pdf",), "MẬT"),
        ("UBND HUYỆN\nKHẨN, MẬT\n" + STORY, "Báo cáo quý I", (), "MẬT"),
        ("MẬT - HỎA TỐC\n" + STORY, "Báo cáo quý I", (), "MẬT"),
        (STORY, "[KHẨN, MẬT] Báo cáo kết quả rà soát", (), "MẬT"),
    ],
    ids=[
        "title-case-line",
        "without-diacritics",
        "toi-mat-without-diacritics",
        "letters-spaced",
        "a-cell-of-a-header-typed-as-text",
        "degree-line-with-urgency",
        "degree-and-urgency-spaced",
        "degree-in-a-line-of-fields",
        "degree-without-diacritics",
        "subject-lead",
        "subject-ending-in-parentheses",
        "subject-tag-without-diacritics",
        "file-name-ending",
        "file-name-with-underscores",
        "file-name-lead",
        "beside-urgency",
        "before-urgency-dashed",
        "subject-tag-with-urgency",
    ],
)
def test_a_stamp_in_the_forms_agencies_type_it_quarantines(
    text: str, title: str, files: tuple[str, ...], stamp: str
) -> None:
    assert marking(text, title, files) == stamp


@pytest.mark.parametrize(
    ("text", "title", "files"),
    [
        ("MẬT ONG VẢI THIỀU LỤC NAM\n\n" + STORY, "Nông dân thu hoạch mật ong", ()),
        ("MẬT ĐỘ DÂN SỐ\n\n" + STORY, "Kết quả điều tra dân số", ()),
        (STORY, "GẶP MẶT THÂN MẬT", ()),
        (STORY, "BẢO MẬT THÔNG TIN", ()),
        ("BẢO MẬT THÔNG TIN\n\n" + STORY, "Tập huấn an toàn thông tin", ()),
        (STORY, "TẬP HUẤN BẢO VỆ TÀI LIỆU MẬT", ()),
        ("Độ mật: Không\n" + STORY, "Báo cáo", ()),
        ("Độ mật: Thường, Độ khẩn: Hỏa tốc\n" + STORY, "Báo cáo", ()),
        ("Mật độ dân số toàn huyện đạt 520 người/km2, tăng so với năm 2020.\n" + STORY, "BC", ()),
        (STORY, "Gửi báo cáo", ("BC_Mat_tran_To_quoc.pdf",)),
        ("Hội nghị quán triệt công tác chống lộ lọt bí mật nhà nước.\n" + STORY, "Tập huấn", ()),
    ],
    ids=[
        "mat-ong-heading",
        "mat-do-heading",
        "than-mat-subject",
        "bao-mat-subject",
        "bao-mat-heading",
        "training-on-secret-documents",
        "degree-line-saying-none",
        "degree-ordinary",
        "mat-do-sentence",
        "mat-tran-file-name",
        "training-news",
    ],
)
def test_the_word_in_a_phrase_is_no_stamp(text: str, title: str, files: tuple[str, ...]) -> None:
    assert marking(text, title, files) is None


@pytest.mark.parametrize(
    ("board_id", "sentence", "escalated"),
    [
        ("demo", "Khu vực này là điểm nóng về khai thác cát trái phép.", True),
        ("demo", "ĐIỂM NÓNG GIAO THÔNG", True),
        ("demo", "Khu vuc nay la diem nong ve khai thac cat.", True),
        ("demo", "Huyện chọn xã Cẩm Lý làm xã điểm nông thôn mới nâng cao.", False),
        ("binhphuoc", "Những kẻ gieo rắc hận thù trên mạng xã hội.", True),
        ("binhphuoc", "Thời hạn thu thuế đất phi nông nghiệp kết thúc ngày 31/10.", False),
        ("binhphuoc", "Xe tải đâm ô tô con trên quốc lộ 14.", False),
        ("binhphuoc", "Trong vụ không có ai bị thương.", False),
    ],
    ids=[
        "diem-nong",
        "in-capitals",
        "typed-without-diacritics",
        "xa-diem-nong-thon-moi",
        "han-thu",
        "thoi-han-thu-thue",
        "dam-o-to",
        "vu-khong-co",
    ],
)
def test_a_sensitive_keyword_is_the_phrase_not_words_that_fold_like_it(
    board_id: str, sentence: str, escalated: bool
) -> None:
    assert ("sensitive-topic" in codes(f"{sentence}\n{STORY}", board_id=board_id)) is escalated


LEAD = "Sáng 12/3, UBND huyện tổ chức hội nghị triển khai kế hoạch tuyên truyền năm 2026.\n"


@pytest.mark.parametrize(
    ("closing", "author"),
    [
        ("Thu Hà (TTVH)", "Thu Hà"),
        ("Nguyễn Thu Hà (Trung tâm VH-TT&TT huyện)", "Nguyễn Thu Hà"),
        ("Thu Hà - Trung tâm Văn hóa, Thông tin và Thể thao", "Thu Hà"),
        ("Văn Toàn - Hải Yến", "Văn Toàn - Hải Yến"),
        ("CTV Lê Văn Tám", "Lê Văn Tám"),
        ("Nguyễn Văn Hùng - ĐT: 0987 654 321", "Nguyễn Văn Hùng"),
        ("Bài: PV", "PV"),
        ("Ảnh: Minh Anh", "Minh Anh"),
        ("Tin: Hoàng Anh - Ảnh: Minh Đức", "Hoàng Anh - Ảnh: Minh Đức"),
        ("NGUYỄN VĂN AN", "Nguyễn Văn An"),  # signed in capitals, as many agencies do
        ("ĐỖ THỊ THU HÀ - TTVH", "Đỗ Thị Thu Hà"),
    ],
)
def test_a_signed_item_is_not_sent_back_for_its_author(closing: str, author: str) -> None:
    assert byline.extract(f"{LEAD}\n{closing}").author == author
    assert codes(f"{LEAD}\n{closing}") == []


@pytest.mark.parametrize(
    "closing",
    [
        "Ảnh: Toàn cảnh hội nghị.",
        "Ảnh: Lãnh đạo huyện phát biểu tại hội nghị",
        "Tin: sẽ cập nhật sau",
    ],
)
def test_a_photo_caption_is_no_author(closing: str) -> None:
    assert codes(f"{LEAD}\n{closing}") == ["missing-author"]


@pytest.mark.parametrize(
    "closing", ["TRÂN TRỌNG CẢM ƠN", "VĂN PHÒNG UBND HUYỆN LỤC NAM", "THU HÀ", "UBND HUYỆN"]
)
def test_a_line_in_capitals_is_no_signature_unless_it_is_a_full_name(closing: str) -> None:
    assert codes(f"{LEAD}\n{closing}") == ["missing-author"]


def test_a_label_in_brackets_loses_its_closing_bracket_and_a_value_keeps_its_own() -> None:
    assert byline.extract(f"{LEAD}\n(Tác giả: Nguyễn Văn An)").author == "Nguyễn Văn An"
    assert byline.extract(f"{LEAD}\nĐơn vị: Trung tâm Văn hóa (huyện)").unit == (
        "Trung tâm Văn hóa (huyện)"
    )


def test_a_unit_in_parentheses_after_the_name_is_the_writers_unit() -> None:
    assert byline.extract(f"{LEAD}\nVũ Thị Giang (Văn phòng UBND tỉnh)").unit == (
        "Văn phòng UBND tỉnh"
    )


@pytest.mark.parametrize(
    ("closing", "collected"),
    [
        ("Phòng đã tổng hợp từ báo cáo của các xã.\nTác giả: Nguyễn Văn An", False),
        ("Bảo tàng đã sưu tầm 300 hiện vật.\nTác giả: Nguyễn Văn An", False),
        ("Tổng hợp từ báo Bắc Giang\nNgười sưu tầm: Nguyễn Văn An", True),
        ("(Sưu tầm)\nNgười sưu tầm: Nguyễn Văn An", True),
        ("Nguyễn Văn An (st)", True),
    ],
)
def test_an_item_is_collected_when_its_closing_lines_say_so(closing: str, collected: bool) -> None:
    missing = "missing-source" in codes(f"{LEAD}\n{closing}", board_id="lucnam")
    assert missing is collected


def test_a_return_notice_names_what_is_missing_and_the_lines_that_supply_it(
    tmp_path: Path, db_url: str
) -> None:
    """A collected item without its collector or its source (Lục Nam Đ12.1), from a
    member of no agency: the sender is told each, in the words of the form, with the line
    to write; those lines, written as shown, are what the board reads."""
    demo = board()
    checks_ = demo.checks.model_copy(update={"require_source_for_collected": True})
    rig = make_rig(tmp_path, db_url, demo.model_copy(update={"checks": checks_}))
    rig.drop(article_mail("giang.vt@demo.bientap.vn", DEMO_BOX, "Lễ hội", LEAD + "\nSưu tầm\n"))
    rig.runner.run_once()
    [notice] = rig.sent()
    text = notice.get_content()
    for missing in ("Thiếu tên người sưu tầm.", "Thiếu đơn vị", "chưa ghi nguồn"):
        assert missing in text
    examples = re.findall(r"“([^”]+: [^”]+)”", text)
    assert len(examples) == 4  # author, unit, address, source
    item = f"{LEAD}\nSưu tầm\n" + "\n".join(examples)
    assert codes(item, board_id="lucnam") == []
    assert byline.extract(item).author == "Nguyễn Văn A"


def test_a_stamp_in_a_docx_attached_to_an_article_quarantines(tmp_path: Path, db_url: str) -> None:
    """The article is the mail's body; the .docx beside it would be published as its file,
    and it is stamped."""
    document = docx.Document()
    for line in ("TỐI MẬT", "Danh sách đối tượng cần theo dõi."):
        document.add_paragraph(line)
    stamped = BytesIO()
    document.save(stamped)
    rig = make_rig(tmp_path, db_url)
    body = NEWS_BODY * 3  # long: the body is the article, not a cover note
    rig.drop(
        article_mail(
            "nhung.ltt@sgddt.demo.bientap.vn",
            DEMO_BOX,
            "Báo cáo kết quả rà soát",
            body,
            attachments=[("phu-luc.docx", DOCX_TYPE, stamped.getvalue())],
        )
    )
    rig.runner.run_once()
    [item] = rig.items()
    assert item.state == State.QUARANTINED
    assert [f["detail"] for f in item.flags if f["code"] == "security-marking"] == [
        {"marking": "TỐI MẬT"}
    ]
