"""A Word article's first line, set apart, is its headline (pipeline/headline.py)."""

from __future__ import annotations

import pytest

from pipeline.headline import split_headline


@pytest.mark.parametrize(
    ("html", "headline", "body"),
    [
        # Word users space with empty paragraphs; a bold run split in two is one headline
        (
            "<p></p><p><strong>Khai mạc hội thi giáo viên</strong></p><p>Sáng 5/11.</p>",
            "Khai mạc hội thi giáo viên",
            "<p>Sáng 5/11.</p>",
        ),
        (
            "<p><strong>Khai mạc hội </strong><strong>thi giáo viên</strong></p><p>Sáng.</p>",
            "Khai mạc hội thi giáo viên",
            "<p>Sáng.</p>",
        ),
        (
            "<h1>Hội nghị<br>tổng kết năm 2025</h1><p>Sáng.</p>",
            "Hội nghị tổng kết năm 2025",
            "<p>Sáng.</p>",
        ),
    ],
)
def test_the_first_line_set_apart_is_taken_out_as_the_headline(
    html: str, headline: str, body: str
) -> None:
    found = split_headline(html)
    assert found is not None
    assert (found.headline, found.html, found.text) == (headline, body, body[3:-4])


@pytest.mark.parametrize(
    "html",
    [
        "<p><strong>Tin:</strong> Hội nghị tổng kết năm 2025</p>",  # a label, then text
        "<p><img src='cid:anh'></p><p><strong>Khai mạc hội thi</strong></p>",  # a photo first
        "<table><tr><td>ỦY BAN NHÂN DÂN</td></tr></table><p><strong>Khai mạc</strong></p>",
        "<p><strong>CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM</strong></p><p>Sáng.</p>",
        "<p><strong>Hai từ</strong></p><p>Sáng.</p>",  # too short to be a headline
    ],
)
def test_no_headline_is_made_of_what_is_no_headline(html: str) -> None:
    assert split_headline(html) is None
