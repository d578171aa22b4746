"""The embedded static-site CMS: pages, media and the index written to a folder."""

from __future__ import annotations

import contextlib
import functools
import http.server
import json
import mimetypes
import multiprocessing
import os
import re
import threading
import unicodedata
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urljoin, urlsplit

import pytest
from bs4 import BeautifulSoup
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Page

from connectors.cms import Article, CmsRejected, Document, Media
from connectors.media import safe_filename
from connectors.static_site import StaticSiteCms
from pipeline.config import StaticSite
from pipeline.sanitize import sanitize_html

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(64)) + b"\xff\xd9"
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
BODY = (
    "<p>Sáng 15/3, UBND tỉnh Đồng Nai tổ chức hội nghị tổng kết công tác năm 2025.</p>"
    '<p><img alt="Quang cảnh hội nghị" src="cid:anh1@bientap"></p>'
    "<p>Phát biểu tại hội nghị, đồng chí Chủ tịch nhấn mạnh &amp; giao nhiệm vụ.</p>"
)


def article(**changes: object) -> Article:
    base = Article(
        key="bientap-dongnai-12-a1b2c3d4e5f6",
        title="Hội nghị tổng kết công tác năm 2025",
        body_html=BODY,
        summary="Tỉnh Đồng Nai tổng kết công tác năm 2025.",
        author="Nguyễn Văn An – Sở Thông tin và Truyền thông",
        section="Tin hoạt động",
        tags=("hội nghị", "tổng kết"),
        media=(
            Media("hoi-nghi.jpg", "image/jpeg", JPEG, content_id="anh1@bientap", role="image"),
            Media("Quyết định 123.pdf", "application/pdf", PDF),
        ),
        document=Document(
            kind="Quyết định",
            number="123/QĐ-UBND",
            issuer="UBND tỉnh Đồng Nai",
            issued="2026-03-10",
            summary="Về việc ban hành kế hoạch năm 2026",
        ),
        scheduled_at=datetime(2026, 3, 15, 2, 30, tzinfo=UTC),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


@pytest.fixture
def cms(tmp_path: Path) -> StaticSiteCms:
    return StaticSiteCms(StaticSite(path="site", base_url="http://portal.test/"), tmp_path)


def page_of(cms: StaticSiteCms, remote_id: str) -> BeautifulSoup:
    return BeautifulSoup((cms.root / "posts" / remote_id / "index.html").read_text(), "html.parser")


def index_json(cms: StaticSiteCms) -> list[dict[str, str]]:
    entries: list[dict[str, str]] = json.loads((cms.root / "index.json").read_text("utf-8"))
    return entries


def test_publish_writes_a_complete_page_with_its_media(cms: StaticSiteCms, tmp_path: Path) -> None:
    live = cms.publish(article())

    folder = tmp_path / "site" / "posts" / live.remote_id
    assert live.remote_id.startswith("hoi-nghi-tong-ket-cong-tac-nam-2025-")
    assert live.url == f"http://portal.test/posts/{live.remote_id}/"
    html = (folder / "index.html").read_text("utf-8")
    assert html.startswith("<!doctype html>")
    soup = BeautifulSoup(html, "html.parser")
    assert soup.html is not None and soup.html["lang"] == "vi"
    assert soup.find("meta", charset="utf-8") is not None
    assert soup.title is not None and soup.title.string == "Hội nghị tổng kết công tác năm 2025"
    text = soup.get_text(" ")
    for shown in (
        "Nguyễn Văn An – Sở Thông tin và Truyền thông",
        "Tin hoạt động",
        "15/03/2026 09:30",  # 02:30 UTC, shown in Viet Nam's time
        "123/QĐ-UBND",
        "10/03/2026",
        "Tỉnh Đồng Nai tổng kết công tác năm 2025.",
    ):
        assert shown in text

    image = soup.select_one("#noi-dung img")
    assert image is not None and image["src"] == "hoi-nghi.jpg"
    assert len(soup.find_all("img")) == 1  # the inline image is not shown again below
    assert (folder / "hoi-nghi.jpg").read_bytes() == JPEG
    links = {unquote(str(a["href"])): a.get_text() for a in soup.select(".tep-dinh-kem a")}
    assert links == {"Quyết định 123.pdf": "Quyết định 123.pdf"}
    assert (folder / "Quyết định 123.pdf").read_bytes() == PDF
    assert "Cập nhật" not in text  # only a post changed later says so
    assert "cid:" not in html
    assert sorted(live.media) == ["Quyết định 123.pdf", "hoi-nghi.jpg"]


def test_the_index_lists_posts_newest_first(cms: StaticSiteCms) -> None:
    older = cms.publish(article(scheduled_at=datetime(2026, 3, 1, tzinfo=UTC)))
    newer = cms.publish(
        article(
            key="bientap-dongnai-13-ffffffffffff",
            title="Tiếp công dân định kỳ tháng 3",
            scheduled_at=datetime(2026, 3, 20, tzinfo=UTC),
        )
    )

    entries = index_json(cms)
    assert [e["id"] for e in entries] == [newer.remote_id, older.remote_id]
    assert entries[1]["key"] == "bientap-dongnai-12-a1b2c3d4e5f6"
    assert entries[1]["url"] == older.url
    assert entries[1]["title"] == "Hội nghị tổng kết công tác năm 2025"
    assert entries[1]["section"] == "Tin hoạt động"
    assert {"id", "key", "title", "url", "section", "updated"} <= set(entries[0])
    root = BeautifulSoup((cms.root / "index.html").read_text("utf-8"), "html.parser")
    hrefs = [a["href"] for a in root.select("ul.bai a")]
    assert hrefs == [f"posts/{newer.remote_id}/", f"posts/{older.remote_id}/"]


def test_find_by_key_and_publishing_a_key_twice_keeps_one_post(cms: StaticSiteCms) -> None:
    live = cms.publish(article())

    found = cms.find("bientap-dongnai-12-a1b2c3d4e5f6")
    assert found is not None and found.remote_id == live.remote_id
    assert found.url == live.url
    assert cms.find("bientap-dongnai-99-000000000000") is None

    again = cms.publish(article())  # a retry after a crash
    assert again.remote_id == live.remote_id
    assert len(index_json(cms)) == 1


def test_update_rewrites_the_page(cms: StaticSiteCms) -> None:
    live = cms.publish(article())

    changed = article(
        title="Hội nghị tổng kết năm 2025 (cập nhật)",
        body_html="<p>Nội dung đã sửa theo ý kiến Trưởng ban.</p>",
        media=(Media("Quyết định 123.pdf", "application/pdf", PDF),),
    )
    updated = cms.update(live.remote_id, changed)

    assert updated.remote_id == live.remote_id and updated.url == live.url
    soup = page_of(cms, live.remote_id)
    assert soup.h1 is not None and soup.h1.get_text() == "Hội nghị tổng kết năm 2025 (cập nhật)"
    assert "Cập nhật" in soup.get_text()
    assert "Nội dung đã sửa theo ý kiến Trưởng ban." in soup.get_text()
    assert not (cms.root / "posts" / live.remote_id / "hoi-nghi.jpg").exists()
    assert index_json(cms)[0]["title"] == "Hội nghị tổng kết năm 2025 (cập nhật)"
    with pytest.raises(CmsRejected):
        cms.update("khong-co-bai-nay-00000000", changed)


def test_withdraw_removes_the_post_and_its_entry(cms: StaticSiteCms) -> None:
    live = cms.publish(article())

    cms.withdraw(live.remote_id)

    assert not (cms.root / "posts" / live.remote_id).exists()
    assert index_json(cms) == []
    assert live.remote_id not in (cms.root / "index.html").read_text("utf-8")
    assert cms.find(article().key) is None
    assert cms.read(live.remote_id) is None
    cms.withdraw(live.remote_id)  # withdrawing twice is not an error


def test_read_gives_back_what_was_published(cms: StaticSiteCms) -> None:
    live = cms.publish(article())

    read = cms.read(live.remote_id)

    assert read is not None
    assert read.title == "Hội nghị tổng kết công tác năm 2025"
    assert read.body_html == live.body_html
    assert read.body_html == BODY.replace("cid:anh1@bientap", "hoi-nghi.jpg")
    assert read.media == ("Quyết định 123.pdf", "hoi-nghi.jpg")
    assert read.section == "Tin hoạt động"
    assert read.tags == ("hội nghị", "tổng kết")
    assert read.known == {"section", "tags"}, "read from the page: compared"
    assert read.meta == {
        "key": "bientap-dongnai-12-a1b2c3d4e5f6",
        "document_kind": "Quyết định",
        "document_number": "123/QĐ-UBND",
        "document_issuer": "UBND tỉnh Đồng Nai",
        "document_issued": "2026-03-10",
        "document_summary": "Về việc ban hành kế hoạch năm 2026",
    }
    assert read == live


def test_two_attachments_of_one_name_keep_their_names(cms: StaticSiteCms) -> None:
    other = JPEG.replace(b"JFIF", b"Exif")
    live = cms.publish(
        article(
            body_html='<p>Ảnh:</p><p><img src="cid:a"><img src="cid:b"></p>',
            media=(
                Media("image001.jpg", "image/jpeg", JPEG, content_id="a", role="image"),
                Media("image001.jpg", "image/jpeg", other, content_id="b", role="image"),
            ),
        )
    )

    folder = cms.root / "posts" / live.remote_id
    assert (folder / "image001.jpg").read_bytes() == JPEG
    assert (folder / "2" / "image001.jpg").read_bytes() == other
    srcs = [img["src"] for img in page_of(cms, live.remote_id).select("#noi-dung img")]
    assert srcs == ["image001.jpg", "2/image001.jpg"]
    read = cms.read(live.remote_id)
    assert read is not None and read.media == ("image001.jpg", "image001.jpg") == live.media


def test_a_file_named_like_a_folder_of_duplicates_is_published(cms: StaticSiteCms) -> None:
    """Files "2", "anh.png", "anh.png": the post must not fail to publish for ever for
    a folder "2" of duplicates beside a file "2". A name of no known type is written with
    ".bin" added, so the file is "2.bin" and the folder is free (the placing still keeps
    a folder from taking a file's name)."""
    other = JPEG.replace(b"JFIF", b"Exif")
    live = cms.publish(
        article(
            media=(
                Media("2", "application/octet-stream", b"hai"),
                Media("anh.png", "image/png", JPEG),
                Media("anh.png", "image/png", other),
                Media("2", "application/octet-stream", b"hai nua"),
            )
        )
    )

    folder = cms.root / "posts" / live.remote_id
    assert (folder / "2.bin").read_bytes() == b"hai"
    assert (folder / "anh.png").read_bytes() == JPEG
    assert (folder / "2" / "anh.png").read_bytes() == other
    assert (folder / "2" / "2.bin").read_bytes() == b"hai nua"
    read = cms.read(live.remote_id)
    assert read is not None
    assert read.media == ("2.bin", "2.bin", "anh.png", "anh.png") == live.media


def test_nothing_in_the_item_can_run_script(cms: StaticSiteCms) -> None:
    live = cms.publish(
        article(
            title='Tin <script>alert("x")</script> nóng',
            author='"><script>alert(1)</script>',
            section="<b>Thời sự</b>",
            document=Document(number='1/QĐ"><img src=x onerror=alert(1)>'),
            media=(Media("bao-cao.html", "text/html", b"<script>alert(1)</script>"),),
            body_html="<p>Nội dung.</p>",
        )
    )

    for path in (cms.root / "posts" / live.remote_id / "index.html", cms.root / "index.html"):
        html = path.read_text("utf-8")
        assert "<script" not in html
        elements = BeautifulSoup(html, "html.parser").find_all(True)
        assert not [e for e in elements if e.name == "script" or e.get("src") == "x"]
        assert not [a for e in elements for a in e.attrs if a.lower().startswith("on")]
    soup = page_of(cms, live.remote_id)
    assert soup.h1 is not None and soup.h1.get_text() == 'Tin <script>alert("x")</script> nóng'
    # an HTML attachment served from the portal would run there: it is written inert
    assert (cms.root / "posts" / live.remote_id / "bao-cao.html.txt").exists()
    assert not (cms.root / "posts" / live.remote_id / "bao-cao.html").exists()
    read = cms.read(live.remote_id)
    assert read is not None and read.title == 'Tin <script>alert("x")</script> nóng'
    assert read.meta["document_number"] == '1/QĐ"><img src=x onerror=alert(1)>'


class _NoTypeForUnknownFiles(http.server.SimpleHTTPRequestHandler):
    """A web server as Apache 2.4 serves a file of a type it does not know: with no
    Content-Type at all, so that the browser guesses from the bytes."""

    def guess_type(self, path: str | os.PathLike[str]) -> str:
        return mimetypes.guess_type(str(path))[0] or ""

    def send_header(self, keyword: str, value: str) -> None:
        if keyword.lower() != "content-type" or value:
            super().send_header(keyword, value)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def test_a_file_of_no_known_type_is_downloaded_not_run(cms: StaticSiteCms, page: Page) -> None:
    """Names without a type a server knows are written with ".bin" added: served as
    application/octet-stream, not sniffed by Chromium as the page their bytes make."""
    page_bytes = b"<!doctype html><body><script>window.ran = document.domain</script>Bao cao"
    names = ("thong-bao", "bao-cao.dat", "ke-hoach.2026", "lich.bientap")
    live = cms.publish(
        article(media=tuple(Media(n, "application/octet-stream", page_bytes) for n in names))
    )
    written = sorted(p.name for p in (cms.root / "posts" / live.remote_id).iterdir())
    expected = sorted(f"{n}.bin" for n in names)
    assert written == sorted([*expected, "index.html"])
    read = cms.read(live.remote_id)
    assert read is not None and list(read.media) == expected

    handler = functools.partial(_NoTypeForUnknownFiles, directory=str(cms.root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    downloads: list[str] = []
    page.on("download", lambda d: downloads.append(d.suggested_filename))
    try:
        page.goto(f"http://127.0.0.1:{server.server_port}/posts/{live.remote_id}/")
        links = page.eval_on_selector_all("article ul a", "links => links.map(a => a.href)")
        assert len(links) == len(names)
        for link in links:
            with contextlib.suppress(PlaywrightError):  # a download ends the navigation
                page.goto(link)
            assert page.evaluate("window.ran") is None, f"{link} ran as a page"
    finally:
        server.shutdown()
        server.server_close()
    assert sorted(downloads) == expected


@pytest.mark.parametrize(
    ("sent", "written"),
    [
        ("thong-bao", "thong-bao.bin"),
        ("Báo cáo.DAT", "Báo cáo.DAT.bin"),
        ("Quyết định.PDF", "Quyết định.PDF"),
        ("../..\\ke-hoach.docx", "ke-hoach.docx"),
        (".htaccess", "htaccess.bin"),
        ("lich.html", "lich.html.txt"),
        ("", "tep.bin"),
        ("ຂ" * 98 + ".pdf", "ຂ" * 65 + ".pdf"),  # 3 bytes a letter: 199 of 200 bytes
        ("a" * 300 + ".html", "a" * 196 + ".txt"),  # ".html" cut off: still inert
        ("x." + "é" * 200, "x." + "é" * 97 + ".bin"),
    ],
    ids=[
        "no-extension",
        "unknown-extension",
        "upper-case",
        "folders",
        "dot-file",
        "active",
        "empty",
        "long-lao",
        "long-active",
        "long-extension",
    ],
)
def test_a_file_name_is_made_safe_once_and_stays_so(sent: str, written: str) -> None:
    """A safe name is one the publish read-back can name again: it stays as it is."""
    assert safe_filename(sent) == written
    assert len(written.encode("utf-8")) <= 200  # Linux takes 255 bytes, and no more
    assert safe_filename(written) == written


def test_a_folder_name_the_file_system_refuses_is_no_outage(tmp_path: Path) -> None:
    """A name longer than 255 bytes will be refused again and again: rejected, not a
    temporary failure to retry (which would count towards the CMS circuit breaker)."""
    cms = StaticSiteCms(StaticSite(path=str(tmp_path / ("ຂ" * 90))), tmp_path)
    with pytest.raises(CmsRejected, match="File name too long") as caught:
        cms.publish(article())
    # the secretary reads it in the dead-letter mail: what failed, in Vietnamese, first
    assert str(caught.value).startswith("Trang tĩnh: không khóa được thư mục trang")


def test_text_that_looks_like_an_image_reference_stays_inside_its_attribute(
    cms: StaticSiteCms,
) -> None:
    """A sender's link title holding ``src='cid:…' style=… onmouseover=…``: putting the
    image's file name in place must not close the title and make the rest attributes."""
    trick = "Xem src='cid:anh1@bientap' style='position:fixed;width:100%' onmouseover='alert(1)'"
    body = sanitize_html(
        '<p><img alt="Ảnh" src="cid:anh1@bientap"></p>'
        f'<p><a href="https://vi.example/" title="{trick}">Xem thêm</a></p>'
    ).html
    live = cms.publish(article(body_html=body))

    content = page_of(cms, live.remote_id).select_one("#noi-dung")
    assert content is not None
    [link] = content.find_all("a")
    assert sorted(link.attrs) == ["href", "rel", "title"] and link["title"] == trick
    assert [img["src"] for img in content.find_all("img")] == ["hoi-nghi.jpg"]


def test_vietnamese_is_written_precomposed(cms: StaticSiteCms) -> None:
    decomposed = unicodedata.normalize("NFD", "Kỷ niệm ngày Quốc tế Phụ nữ 8/3")
    assert decomposed != unicodedata.normalize("NFC", decomposed)

    live = cms.publish(article(title=decomposed, body_html=f"<p>{decomposed}</p>"))

    html = (cms.root / "posts" / live.remote_id / "index.html").read_text("utf-8")
    assert html.count("Kỷ niệm ngày Quốc tế Phụ nữ 8/3") >= 2  # <title>, <h1>, body
    assert decomposed not in html
    assert live.remote_id.startswith("ky-niem-ngay-quoc-te-phu-nu-8-3-")
    read = cms.read(live.remote_id)
    assert read is not None and read.title == "Kỷ niệm ngày Quốc tế Phụ nữ 8/3"
    assert index_json(cms)[0]["title"] == "Kỷ niệm ngày Quốc tế Phụ nữ 8/3"


def test_a_post_id_cannot_leave_the_site(cms: StaticSiteCms, tmp_path: Path) -> None:
    (tmp_path / "secret").mkdir()
    for bad in ("../secret", "..", "a/b", "", "bai-1\n"):
        with pytest.raises(CmsRejected):
            cms.withdraw(bad)
        with pytest.raises(CmsRejected):
            cms.read(bad)
    assert (tmp_path / "secret").exists()


def test_an_absolute_path_is_used_as_it_is(tmp_path: Path) -> None:
    site = tmp_path / "www"
    cms = StaticSiteCms(StaticSite(path=str(site)), tmp_path / "var")

    live = cms.publish(article())

    assert (site / "posts" / live.remote_id / "index.html").exists()
    assert live.url.startswith("http://127.0.0.1:8480/posts/")


def test_an_image_the_body_does_not_show_is_shown_below_it(cms: StaticSiteCms) -> None:
    live = cms.publish(
        article(
            body_html="<p>Toàn cảnh buổi lễ.</p>",
            media=(Media("le-khai-mac.jpg", "image/jpeg", JPEG, role="image"),),
        )
    )

    soup = page_of(cms, live.remote_id)
    assert [img["src"] for img in soup.select("figure img")] == ["le-khai-mac.jpg"]
    assert soup.select("#noi-dung img") == []
    read = cms.read(live.remote_id)
    assert read is not None and read.media == ("le-khai-mac.jpg",)


def _publish_many(root: str, worker: int, count: int, ready: Any) -> None:
    """One daemon process's publisher: ``count`` posts of its own, once every process is
    ready to start."""
    cms = StaticSiteCms(StaticSite(path=root, base_url="http://portal.test/"), Path(root))
    ready.wait()
    for n in range(count):
        title = f"Tin số {n} của tiến trình {worker}"
        cms.publish(article(key=f"bientap-demo-{worker}-{n}", title=title, media=()))


def test_processes_publishing_at_once_lose_no_index_entry(tmp_path: Path) -> None:
    workers, count = 4, 12
    spawn = multiprocessing.get_context("spawn")  # real processes, as several daemons are
    ready = spawn.Barrier(workers)
    site = tmp_path / "site"
    processes = [
        spawn.Process(target=_publish_many, args=(str(site), w, count, ready))
        for w in range(workers)
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join(300)  # a guard against a hang, not a measurement
    assert [p.exitcode for p in processes] == [0] * workers

    cms = StaticSiteCms(StaticSite(path=str(site), base_url="http://portal.test/"), tmp_path)
    entries = index_json(cms)
    expected = {f"bientap-demo-{w}-{n}" for w in range(workers) for n in range(count)}
    assert sorted(e["key"] for e in entries) == sorted(expected)
    listed = BeautifulSoup((site / "index.html").read_text("utf-8"), "html.parser")
    assert {a.get_text() for a in listed.select("ul.bai a")} == {e["title"] for e in entries}
    assert all((site / "posts" / e["id"] / "index.html").is_file() for e in entries)


# HTML's global date and time string: at most three digits of a second (a validator
# refused every page for the six that ``isoformat`` writes).
_HTML_MOMENT = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d(?::\d\d(?:\.\d{1,3})?)?(?:Z|[+-]\d\d:\d\d)")


def test_every_date_is_one_html_accepts(cms: StaticSiteCms) -> None:
    live = cms.publish(article(scheduled_at=datetime(2026, 3, 15, 2, 30, 5, 123456, tzinfo=UTC)))
    cms.update(live.remote_id, article(title="Hội nghị tổng kết (cập nhật)"))

    pages = (cms.root / "index.html", cms.root / "posts" / live.remote_id / "index.html")
    moments = [
        str(t["datetime"])
        for path in pages
        for t in BeautifulSoup(path.read_text("utf-8"), "html.parser").find_all("time")
    ]
    assert len(moments) == 3  # the index's date, the page's date and its update
    assert [m for m in moments if not _HTML_MOMENT.fullmatch(m)] == []
    assert moments[0] == moments[1] == "2026-03-15T02:30:05+00:00"


def test_an_editors_summary_is_the_lead_and_a_credit_the_body_lacks_is_shown(
    cms: StaticSiteCms,
) -> None:
    """What the page adds to the body it shows only when the body does not say it: a
    summary cut from the body's opening, and a credit the body carries, are not repeated."""
    own = cms.publish(article())
    body = (
        "<p>Sáng 15/3, UBND tỉnh Đồng Nai tổ chức hội nghị.</p>"
        "<p><strong>Nguyễn Văn An</strong></p>"
    )
    cut = cms.publish(
        article(
            key="bientap-dongnai-13-000000000000",
            body_html=body,
            summary="Sáng 15/3, UBND tỉnh Đồng Nai tổ chức…",
            author="Nguyễn Văn An",
        )
    )

    shown = page_of(cms, own.remote_id)
    assert [p.get_text() for p in shown.select(".sapo")] == [
        "Tỉnh Đồng Nai tổng kết công tác năm 2025."
    ]
    assert [p.get_text() for p in shown.select(".tac-gia")] == [
        "Nguyễn Văn An – Sở Thông tin và Truyền thông"
    ]
    repeated = page_of(cms, cut.remote_id)
    assert repeated.select(".sapo") == [] and repeated.select(".tac-gia") == []
    meta = repeated.find("meta", attrs={"name": "description"})
    assert meta is not None and meta["content"] == "Sáng 15/3, UBND tỉnh Đồng Nai tổ chức…"


def test_an_english_edition_page_speaks_english_around_it(cms: StaticSiteCms) -> None:
    """Bình Phước's English edition (Đ7.2): the page said lang="en" while everything
    around the article was Vietnamese («Đăng ngày», «Tệp đính kèm»), read out by a screen
    reader as English words. The index, in Vietnamese, marks the English title."""
    vietnamese = cms.publish(article())
    english = cms.publish(
        article(
            key="bientap-binhphuoc-7-000000000000",
            title="Binh Phuoc welcomes investors to the Becamex industrial park",
            body_html="<p>The province held a conference with investors on 15 March.</p>",
            summary="",
            author="",
            language="en",
            section="English",
        )
    )

    page = page_of(cms, english.remote_id)
    assert page.html is not None and page.html["lang"] == "en"
    shown = " ".join(page.get_text(" ").split())
    assert "Published 15/03/2026 09:30" in shown and "Attachments" in shown
    assert "Number 123/QĐ-UBND" in shown and "Keywords: hội nghị, tổng kết" in shown
    assert not [w for w in ("Đăng ngày", "Tệp đính kèm", "Tin bài đã đăng") if w in shown]
    other = page_of(cms, vietnamese.remote_id)
    assert other.html is not None and other.html["lang"] == "vi"
    assert "Đăng ngày 15/03/2026 09:30" in " ".join(other.get_text(" ").split())
    index = BeautifulSoup((cms.root / "index.html").read_text("utf-8"), "html.parser")
    assert index.html is not None and index.html["lang"] == "vi"
    assert {str(a["href"]): a.get("lang") for a in index.select("ul.bai a")} == {
        f"posts/{english.remote_id}/": "en",
        f"posts/{vietnamese.remote_id}/": None,
    }


def _listed(cms: StaticSiteCms, page: str = "index.html") -> tuple[list[str], str, str]:
    """The post ids a list page links to, in order, and its older and newer links."""
    path = cms.root / page
    soup = BeautifulSoup(path.read_text("utf-8"), "html.parser")
    ids = [str(a["href"]).rstrip("/").rsplit("/", 1)[1] for a in soup.select("ul.bai a")]
    older, newer = (soup.find("a", rel=rel) for rel in ("next", "prev"))
    return (
        ids,
        str(older["href"]) if older else "",
        str(newer["href"]) if newer else "",
    )


def _walk(cms: StaticSiteCms) -> list[list[str]]:
    """The lists a reader pages through, from the home page to the oldest posts."""
    pages, here = [], "http://portal.test/"
    while here:
        ids, older, _newer = _listed(cms, urlsplit(here).path.lstrip("/") + "index.html")
        pages.append(ids)
        here = urljoin(here, older) if older else ""
    return pages


def test_the_list_is_paged_and_a_new_post_rewrites_the_newest_page_only(
    cms: StaticSiteCms,
) -> None:
    """Every post on one home page made it 5 MB after 20,000 posts, and each publication
    rewrote all of it. Pages of 50 counted from the oldest: each post once, newest first."""
    posts = [
        cms.publish(
            article(
                key=f"bientap-dongnai-{n}-000000000000",
                title=f"Tin số {n}",
                media=(),
                scheduled_at=datetime(2026, 1, 1, tzinfo=UTC) + timedelta(hours=n),
            )
        ).remote_id
        for n in range(120)
    ]
    newest_first = posts[::-1]

    pages = _walk(cms)
    assert [len(p) for p in pages] == [70, 50]  # home: from the start of a page on
    assert [i for p in pages for i in p] == newest_first
    oldest_page = cms.root / "trang" / "1" / "index.html"
    kept = oldest_page.stat().st_ino
    heading = BeautifulSoup(oldest_page.read_text("utf-8"), "html.parser").h1
    assert heading is not None and heading.get_text() == (
        "Tin bài đã đăng từ 01/01/2026 đến 03/01/2026"
    )

    newest = cms.publish(
        article(
            key="bientap-dongnai-200-000000000000",
            title="Tin mới nhất",
            media=(),
            scheduled_at=datetime(2026, 2, 1, tzinfo=UTC),
        )
    ).remote_id
    assert _walk(cms)[0][0] == newest
    assert oldest_page.stat().st_ino == kept, "a page the new post left alone is not rewritten"

    cms.withdraw(posts[10])
    after = _walk(cms)
    assert [i for p in after for i in p] == [newest] + [i for i in newest_first if i != posts[10]]
    assert oldest_page.stat().st_ino != kept
