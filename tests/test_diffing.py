"""What a reviewer sees of the changes between two versions of an item."""

from __future__ import annotations

import unicodedata
from html.parser import HTMLParser

from pipeline.diffing import summary, text_diff_html, text_diff_plain

OLD = (
    "Sở Giáo dục và Đào tạo tổ chức hội nghị tổng kết năm học 2023 tại Biên Hòa.\n\n"
    "Hội nghị có 200 đại biểu tham dự."
)
NEW = (
    "Sở Giáo dục và Đào tạo tổ chức hội nghị tổng kết năm học 2024 tại thành phố Biên Hòa.\n\n"
    "Hội nghị có 250 đại biểu tham dự."
)


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.text: list[str] = []
        self.old_side: list[str] = []  # what is not inserted: the old version
        self.new_side: list[str] = []  # what is not deleted: the new version
        self.marked: dict[str, list[str]] = {"del": [], "ins": []}
        self._open: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        if tag in ("del", "ins"):
            self._open.append(tag)
            self.marked[tag].append("")

    def handle_endtag(self, tag: str) -> None:
        if self._open and self._open[-1] == tag:
            self._open.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if "ins" not in self._open:
            self.old_side.append(data)
        if "del" not in self._open:
            self.new_side.append(data)
        if self._open:
            self.marked[self._open[-1]][-1] += data


def _parse(html: str) -> _Tags:
    parser = _Tags()
    parser.feed(html)
    parser.close()
    return parser


def test_changed_words_are_struck_and_added_in_html() -> None:
    page = _parse(text_diff_html(OLD, NEW))
    assert [s.strip() for s in page.marked["del"]] == ["2023", "200"]
    assert [s.strip() for s in page.marked["ins"]] == ["2024", "thành phố", "250"]
    assert "Sở Giáo dục và Đào tạo tổ chức hội nghị" in "".join(page.text)


def test_marks_carry_inline_styles_for_mail_clients() -> None:
    out = text_diff_html("một hai", "một ba")
    assert '<del style="' in out and "line-through" in out
    assert '<ins style="' in out


def test_both_versions_read_back_whole_with_their_paragraphs() -> None:
    out = text_diff_html(OLD, NEW)
    assert out.count("<br>") == 2
    page = _parse(out)
    assert "".join(page.new_side) == NEW
    assert "".join(page.old_side) == OLD


def test_no_input_can_inject_markup() -> None:
    old = 'Tin cũ <b onmouseover="x()">đậm</b>'
    new = "Tin mới <script>alert('x')</script> <img src=x onerror=alert(1)> \"&\""
    page = _parse(text_diff_html(old, new))
    assert set(page.tags) <= {"div", "del", "ins", "br"}
    assert "".join(page.new_side) == new
    assert "".join(page.old_side) == old


def test_decomposed_and_precomposed_vietnamese_are_the_same_text() -> None:
    decomposed = unicodedata.normalize("NFD", NEW)
    assert summary(NEW, decomposed) == "Không có thay đổi về nội dung"
    page = _parse(text_diff_html(NEW, decomposed))
    assert page.marked == {"del": [], "ins": []}
    assert unicodedata.is_normalized("NFC", "".join(page.text))


def test_summary_counts_words_in_vietnamese() -> None:
    assert summary(OLD, NEW) == "Thêm 4 từ, bỏ 2 từ"
    assert summary("một hai ba", "một ba") == "Bỏ 1 từ"
    assert summary("một", "một hai") == "Thêm 1 từ"
    assert summary(OLD, OLD) == "Không có thay đổi về nội dung"


def test_summary_of_layout_and_punctuation_changes() -> None:
    assert summary("Một  hai.\nBa", "Một hai. Ba").startswith("Không có thay đổi về nội dung")
    assert summary("Một, hai", "Một hai") == "Chỉ thay đổi dấu câu, ký hiệu"


def test_plain_diff_marks_changes_inline_with_context() -> None:
    out = text_diff_plain(OLD, NEW)
    assert "năm học [-2023-]{+2024+} tại {+thành phố+} Biên Hòa." in out
    assert "có [-200-]{+250+} đại biểu" in out
    assert "[-phần bỏ-] {+phần thêm+}" in out.splitlines()[0]  # a legend first


def test_plain_diff_shows_only_a_little_context() -> None:
    old = " ".join(f"từ{i}" for i in range(300))
    new = old.replace("từ150 ", "mới ")
    out = text_diff_plain(old, new)
    assert "[-từ150-]{+mới+}" in out
    assert "từ10 " not in out and "từ290" not in out
    assert "…" in out


def test_plain_diff_is_capped_and_says_how_much_was_left_out() -> None:
    old = "\n\n".join(f"Đoạn {i}: nội dung của đoạn văn số {i} trong bài." for i in range(200))
    new = old.replace("nội dung", "phần")
    out = text_diff_plain(old, new)
    lines = out.splitlines()
    assert len(lines) <= 60
    assert "[-nội dung-]{+phần+}" in lines[1]
    assert "còn" in lines[-1] and "chỗ thay đổi" in lines[-1]


def test_plain_diff_is_empty_without_changes() -> None:
    assert text_diff_plain(OLD, OLD) == ""


def test_a_complete_rewrite_shows_both_versions() -> None:
    old = "\n".join(f"Câu cũ số {i} về chủ đề thứ nhất." for i in range(400))
    new = "\n".join(f"Dòng mới {i} nói chuyện khác hẳn" for i in range(300))
    page = _parse(text_diff_html(old, new))
    assert "".join(page.new_side) == new
    assert "".join(page.old_side) == old
    assert "Câu cũ số" in "".join(page.marked["del"])
    assert "nói chuyện khác hẳn" in "".join(page.marked["ins"])
