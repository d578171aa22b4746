"""pipeline.docx: Word articles to HTML, legacy Vietnamese fonts converted, images collected."""

from __future__ import annotations

import base64
import re
import unicodedata
import zipfile
from collections.abc import Callable
from io import BytesIO
from pathlib import Path

import docx
import pytest
from bs4 import BeautifulSoup
from docx.shared import Pt

from pipeline.docx import DocxError, _convert_legacy_runs, docx_text, docx_to_html
from pipeline.vietnamese import Legacy, encode_legacy
from tests.helpers import within

# 1x1 RGBA PNG: python-docx reads its header, mammoth hands its bytes back.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)
TITLE = "Hội nghị tổng kết công tác năm 2024"
LEAD = "Sáng nay, Ủy ban nhân dân tỉnh tổ chức hội nghị tổng kết công tác năm 2024."
# Legacy text avoids upper-case toned letters: TCVN3 keeps those in a separate font (.VnTimeH).
LEGACY = "Quyết định số 15/QĐ-UBND về việc tăng cường phòng, chống thiên tai năm 2024"
LEGACY_2 = "để các sở, ngành triển khai ngay"  # continues a sentence: stays lower-case
LEGACY_3 = "Các sở, ngành báo cáo kết quả trước ngày 15/12."


def save(document: docx.document.Document) -> bytes:
    buffer = BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def paragraphs(html: str) -> list[str]:
    return [p.get_text() for p in BeautifulSoup(html, "html.parser").find_all("p")]


def unicode_article() -> bytes:
    document = docx.Document()
    document.add_heading(TITLE, level=1)
    document.add_paragraph(LEAD)
    document.add_heading("Kết quả đạt được", level=2)
    table = document.add_table(rows=2, cols=2)
    for row, (label, value) in enumerate([("Chỉ tiêu", "Kết quả"), ("Tăng trưởng", "8,5%")]):
        table.cell(row, 0).text = label
        table.cell(row, 1).text = value
    document.add_picture(BytesIO(PNG))
    document.add_paragraph("Ảnh: Hội nghị")
    return save(document)


def edited(edit: Callable[[str, bytes], bytes]) -> bytes:
    """The unicode article with each part (name, bytes) passed through ``edit``."""
    source = zipfile.ZipFile(BytesIO(unicode_article()))
    buffer = BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for info in source.infolist():
            archive.writestr(info.filename, edit(info.filename, source.read(info)))
    return buffer.getvalue()


def test_unicode_article_headings_paragraphs_table_and_image() -> None:
    article = docx_to_html(unicode_article())
    soup = BeautifulSoup(article.html, "html.parser")
    assert [h.get_text() for h in soup.find_all("h1")] == [TITLE]
    assert [h.get_text() for h in soup.find_all("h2")] == ["Kết quả đạt được"]
    assert LEAD in paragraphs(article.html)
    cells = [td.get_text(strip=True) for td in soup.find_all("td")]
    assert cells == ["Chỉ tiêu", "Kết quả", "Tăng trưởng", "8,5%"]

    (image,) = article.images
    assert image.data == PNG
    assert image.content_type == "image/png"
    assert image.inline is True
    assert image.filename == "image-1.png"
    assert image.content_id is not None
    (img,) = soup.find_all("img")
    assert img["src"] == f"cid:{image.content_id}"
    assert "data:" not in article.html
    assert unicodedata.is_normalized("NFC", article.html)


def test_docx_text() -> None:
    text = docx_text(unicode_article())
    assert TITLE in text and LEAD in text and "Tăng trưởng" in text


@pytest.mark.parametrize(
    ("font", "encoding"),
    [(".VnTime", "tcvn3"), ("VNI-Times", "vni")],
)
def test_run_in_legacy_font_becomes_unicode(font: str, encoding: Legacy) -> None:
    document = docx.Document()
    document.add_paragraph(LEAD)  # a Unicode paragraph next to it must stay intact
    paragraph = document.add_paragraph()
    run = paragraph.add_run(encode_legacy(LEGACY, encoding))
    run.font.name = font
    run.font.size = Pt(14)
    paragraph.add_run(" ")
    bold = paragraph.add_run(encode_legacy(LEGACY_2, encoding))
    bold.font.name = font
    bold.bold = True
    data = save(document)

    article = docx_to_html(data)
    assert paragraphs(article.html) == [LEAD, f"{LEGACY} {LEGACY_2}"]
    assert f"<strong>{LEGACY_2}</strong>" in article.html
    assert LEGACY in docx_text(data)


@pytest.mark.parametrize(
    ("font", "encoding"),
    [(".VnTime", "tcvn3"), ("VNI-Times", "vni")],
)
def test_legacy_font_from_the_paragraph_style(font: str, encoding: Legacy) -> None:
    document = docx.Document()
    document.styles["Normal"].font.name = font  # no direct formatting on the runs
    document.add_paragraph(encode_legacy(LEGACY, encoding))
    document.add_paragraph(encode_legacy(LEGACY_3, encoding))
    article = docx_to_html(save(document))
    assert paragraphs(article.html) == [LEGACY, LEGACY_3]


@pytest.mark.parametrize("font", [".VnTime", ".VnTimeH", "VNI-Times"])
def test_unicode_text_in_a_legacy_font_is_left_alone(font: str) -> None:
    # Offices type Unicode in documents whose style still says ".VnTime" (or convert the
    # text and keep the font): converting it again made "Thụng bỏo ... ĐỔo tạo".
    document = docx.Document()
    document.styles["Normal"].font.name = font
    document.add_paragraph(LEAD)
    document.add_paragraph("Thông báo")
    document.add_paragraph("TỔNG KẾT CÔNG TÁC NĂM 2024")
    document.add_paragraph(unicodedata.normalize("NFD", "Nguyễn Thị Đào"))
    paragraph = document.add_paragraph()  # Word splits a paragraph into runs
    for part in ("Sở Giáo d", "ục và Đà", "o tạo"):
        paragraph.add_run(part)
    article = docx_to_html(save(document))
    assert paragraphs(article.html) == [
        LEAD,
        "Thông báo",
        "TỔNG KẾT CÔNG TÁC NĂM 2024",
        "Nguyễn Thị Đào",
        "Sở Giáo dục và Đào tạo",
    ]


def test_unicode_font_overrides_a_legacy_style() -> None:
    document = docx.Document()
    document.styles["Normal"].font.name = ".VnTime"
    unicode_run = document.add_paragraph().add_run(LEAD)
    unicode_run.font.name = "Times New Roman"
    article = docx_to_html(save(document))
    assert paragraphs(article.html) == [LEAD]


def test_legacy_text_in_a_unicode_font_is_normalized_per_paragraph() -> None:
    document = docx.Document()
    document.add_paragraph(LEAD)
    document.add_paragraph(encode_legacy(LEGACY_3, "tcvn3"))  # font lost on copy and paste
    document.add_paragraph(TITLE)
    article = docx_to_html(save(document))
    assert paragraphs(article.html) == [LEAD, LEGACY_3, TITLE]


def test_document_without_legacy_fonts_is_passed_through_unchanged() -> None:
    data = unicode_article()

    assert _convert_legacy_runs(data) is data


def test_hidden_text_is_never_published() -> None:
    """Word shows no text formatted hidden; mammoth showed it all: a note to colleagues
    left hidden in the article went to the reviewers and the portal."""
    from docx.enum.style import WD_STYLE_TYPE

    document = docx.Document()
    note = document.styles.add_style("Ghi chu", WD_STYLE_TYPE.CHARACTER)
    note.font.hidden = True
    internal = document.styles.add_style("Noi bo", WD_STYLE_TYPE.PARAGRAPH)
    internal.font.hidden = True
    paragraph = document.add_paragraph(LEAD)
    paragraph.add_run(" Chưa xin ý kiến lãnh đạo.").font.hidden = True
    paragraph.add_run("Số liệu chưa thẩm định.", style="Ghi chu")
    document.add_paragraph("Danh sách cán bộ bị phê bình.", style="Noi bo")
    shown = document.add_paragraph("Kết quả: ", style="Noi bo").add_run("98,5% đúng hạn.")
    shown.font.hidden = False  # the run's own formatting wins over its style
    data = save(document)

    html = docx_to_html(data).html
    assert paragraphs(html) == [LEAD, "98,5% đúng hạn."]
    assert "lãnh đạo" not in docx_text(data) and "phê bình" not in docx_text(data)


def test_the_prompt_of_a_form_field_nobody_filled_in_is_not_published() -> None:
    """Agencies write on templates with content controls; one left empty shows Word's
    prompt, which mammoth read as the text ("Bấm vào đây để nhập văn bản.")."""

    def with_controls(name: str, content: bytes) -> bytes:
        if name != "word/document.xml":
            return content
        prompt = "<w:r><w:t>Bấm vào đây để nhập văn bản.</w:t></w:r>".encode()
        filled = "<w:r><w:t>Thu Hà</w:t></w:r>".encode()
        controls = (
            b"<w:sdt><w:sdtPr><w:showingPlcHdr/></w:sdtPr><w:sdtContent><w:p>"
            + prompt
            + b"</w:p></w:sdtContent></w:sdt><w:p><w:sdt><w:sdtPr/><w:sdtContent>"
            + filled
            + b"</w:sdtContent></w:sdt></w:p>"
        )
        return content.replace(b"<w:sectPr", controls + b"<w:sectPr", 1)

    html = docx_to_html(edited(with_controls)).html
    assert "Bấm vào đây" not in html
    assert paragraphs(html)[-1] == "Thu Hà"


def test_deleted_tracked_changes_and_comments_are_never_published() -> None:
    def tracked(name: str, content: bytes) -> bytes:
        if name != "word/document.xml":
            return content
        change = (
            b'<w:p><w:r><w:t xml:space="preserve">Kinh ph\xc3\xad </w:t></w:r>'
            b'<w:del w:id="1" w:author="H"><w:r><w:delText>15 t\xe1\xbb\xb7 (SAI)</w:delText>'
            b'</w:r></w:del><w:ins w:id="2" w:author="H"><w:r><w:t>12 t\xe1\xbb\xb7</w:t></w:r>'
            b'</w:ins><w:moveFrom w:id="3" w:author="H"><w:r><w:t>(DOI DI)</w:t></w:r>'
            b"</w:moveFrom></w:p>"
        )
        return content.replace(b"<w:body>", b"<w:body>" + change, 1)

    document = docx.Document(BytesIO(edited(tracked)))
    commented = document.add_paragraph().add_run("Hội nghị thành công.")
    document.add_comment([commented], text="Anh xem lại, chưa được đăng", author="H")
    data = save(document)

    html = docx_to_html(data).html
    assert "Kinh phí 12 tỷ" in paragraphs(html)
    assert "Hội nghị thành công." in paragraphs(html)
    for unseen in ("SAI", "DOI DI", "chưa được đăng"):
        assert unseen not in html and unseen not in docx_text(data)


def test_converted_package_is_still_a_valid_docx() -> None:
    document = docx.Document()
    document.add_paragraph().add_run(encode_legacy(LEGACY, "tcvn3")).font.name = ".VnTime"

    converted = _convert_legacy_runs(save(document))
    reopened = docx.Document(BytesIO(converted))
    (paragraph,) = reopened.paragraphs
    assert paragraph.text == LEGACY
    assert paragraph.runs[0].font.name == "Times New Roman"


@pytest.mark.parametrize(
    "data",
    [b"", b"not a zip at all", b"PK\x03\x04broken", "zip-without-document"],
    ids=["empty", "text", "truncated-zip", "no-document"],
)
def test_unreadable_files_raise_docx_error(data: bytes | str) -> None:
    if data == "zip-without-document":
        buffer = BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            archive.writestr("hello.txt", "xin chào")
        data = buffer.getvalue()
    assert isinstance(data, bytes)
    with pytest.raises(DocxError) as caught:
        docx_to_html(data)
    assert caught.value.reason


def test_part_with_a_dtd_is_refused() -> None:
    def with_dtd(name: str, content: bytes) -> bytes:
        if name != "word/document.xml":
            return content
        return content.replace(b"?>", b'?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa">]>', 1)

    with pytest.raises(DocxError, match="DTD"):
        docx_to_html(edited(with_dtd))


def test_a_document_too_large_to_read_in_reasonable_time_is_refused() -> None:
    """A mail of 227 KB can carry a document.xml of 60 MB: mammoth would take hours and
    gigabytes over it. Past the limit the file is refused (it stays an attachment)."""
    filler = b"<w:p><w:r><w:t>giao duc</w:t></w:r></w:p>" * 120_000  # 5 MB

    def padded(name: str, content: bytes) -> bytes:
        if name != "word/document.xml":
            return content
        return content.replace(b"<w:body>", b"<w:body>" + filler, 1)

    with pytest.raises(DocxError, match="too large"):
        docx_to_html(edited(padded))


def test_an_image_linked_to_a_file_on_the_server_is_never_read(tmp_path: Path) -> None:
    """A .docx may "link" an image to any path (TargetMode="External"): read, the
    daemon's own files would end up in the article for all to see (CVE-2025-11849)."""
    secret = tmp_path / "bi-mat.png"
    secret.write_bytes(PNG + b"SECRET")
    external = f'Target="{secret.as_uri()}" TargetMode="External"'.encode()

    def linked(name: str, content: bytes) -> bytes:
        if name == "word/_rels/document.xml.rels":
            return re.sub(rb'Target="media/[^"]+"', external, content)
        if name == "word/document.xml":
            return content.replace(b"r:embed=", b"r:link=")
        return content

    try:
        images = docx_to_html(edited(linked)).images
    except DocxError:
        images = ()
    assert not any(b"SECRET" in image.data for image in images)


def test_a_paragraph_of_thousands_of_legacy_runs_is_converted() -> None:
    """Each run's paragraph style was looked for among all the paragraph's children: a
    paragraph of 4,000 runs in .VnTime took a minute, Word writes one a formatting change."""
    document = docx.Document()
    paragraph = document.add_paragraph()
    for _ in range(6000):
        paragraph.add_run(encode_legacy("Thông báo ", "tcvn3")).font.name = ".VnTime"
    data = save(document)
    with within():
        article = docx_to_html(data)
    assert paragraphs(article.html) == ["Thông báo " * 6000]
