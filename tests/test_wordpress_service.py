"""The test WordPress works as the publishing connector will use it: REST with an
Application Password, categories and tags, media uploads, the ``bientap_*`` post meta,
lookup by ``bientap_key``, and a site that goes down and comes back."""

from __future__ import annotations

import io
import secrets
import struct
import zipfile
import zlib
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from docx import Document

from tests.helpers import orphaned, reaped
from tests.services import port_accepts
from tests.wordpress import META_KEYS, WordPress

# --------------------------------------------------------------------------- files


def _png(width: int = 4, height: int = 3) -> bytes:
    """A small red RGB PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def _pdf(text: str = "Quyet dinh so 12/QD-UBND") -> bytes:
    """A one-page PDF with a valid cross-reference table."""
    stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode("ascii")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def _docx(text: str) -> bytes:
    document = Document()
    document.add_paragraph(text)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def _xlsx() -> bytes:
    """A minimal Office Open XML workbook with one sheet."""
    ns = "http://schemas.openxmlformats.org"
    rel = f"{ns}/officeDocument/2006/relationships"
    parts = {
        "[Content_Types].xml": (
            f'<Types xmlns="{ns}/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/'
            'vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/xl/workbook.xml" ContentType="application/'
            'vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
            '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/'
            'vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>'
        ),
        "_rels/.rels": (
            f'<Relationships xmlns="{ns}/package/2006/relationships">'
            f'<Relationship Id="rId1" Type="{rel}/officeDocument" Target="xl/workbook.xml"/>'
            "</Relationships>"
        ),
        "xl/workbook.xml": (
            f'<workbook xmlns="{ns}/spreadsheetml/2006/main" xmlns:r="{rel}">'
            '<sheets><sheet name="Bang 1" sheetId="1" r:id="rId1"/></sheets></workbook>'
        ),
        "xl/_rels/workbook.xml.rels": (
            f'<Relationships xmlns="{ns}/package/2006/relationships">'
            f'<Relationship Id="rId1" Type="{rel}/worksheet" Target="worksheets/sheet1.xml"/>'
            "</Relationships>"
        ),
        "xl/worksheets/sheet1.xml": (
            f'<worksheet xmlns="{ns}/spreadsheetml/2006/main"><sheetData>'
            '<row r="1"><c r="A1"><v>42</v></c></row></sheetData></worksheet>'
        ),
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, xml in parts.items():
            archive.writestr(name, '<?xml version="1.0" encoding="UTF-8"?>' + xml)
    return buffer.getvalue()


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("phu-luc.txt", "Phụ lục kèm theo".encode())
    return buffer.getvalue()


def _upload(wp: WordPress, name: str, data: bytes, mime: str, **params: Any) -> dict[str, Any]:
    """Upload a file as the media endpoint expects it (raw body, Content-Disposition)."""
    response = requests.post(
        wp.rest_url("/wp/v2/media"),
        params=params,
        data=data,
        headers={"Content-Type": mime, "Content-Disposition": f'attachment; filename="{name}"'},
        auth=wp.auth,
        timeout=60,
    )
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def _create_post(wp: WordPress, **fields: Any) -> dict[str, Any]:
    response = requests.post(wp.rest_url("/wp/v2/posts"), json=fields, auth=wp.auth, timeout=60)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def _term(wp: WordPress, taxonomy: str, name: str) -> int:
    response = requests.post(
        wp.rest_url(f"/wp/v2/{taxonomy}"), json={"name": name}, auth=wp.auth, timeout=60
    )
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


# --------------------------------------------------------------------------- tests


def test_published_post_with_categories_and_tags_is_on_the_site(wordpress: WordPress) -> None:
    suffix = secrets.token_hex(3)
    category = _term(wordpress, "categories", f"Tin tức - sự kiện {suffix}")
    tag = _term(wordpress, "tags", f"Hội nghị {suffix}")
    title = f"Hội nghị tổng kết công tác năm {suffix}"
    post = _create_post(
        wordpress,
        title=title,
        content="<p>Sáng nay, Ủy ban nhân dân tỉnh tổ chức hội nghị.</p>",
        status="publish",
        categories=[category],
        tags=[tag],
    )
    assert post["categories"] == [category]
    assert post["tags"] == [tag]

    public = requests.get(wordpress.rest_url(f"/wp/v2/posts/{post['id']}"), timeout=60)
    assert public.status_code == 200
    assert public.json()["title"]["rendered"] == title

    page = requests.get(post["link"], timeout=60)
    assert page.status_code == 200
    assert title in page.text
    in_category = requests.get(
        wordpress.rest_url("/wp/v2/posts"), params={"categories": category}, timeout=60
    )
    assert [p["id"] for p in in_category.json()] == [post["id"]]


@pytest.mark.parametrize(
    ("name", "mime", "make"),
    [
        ("anh-hoi-nghi.png", "image/png", _png),
        ("quyet-dinh.pdf", "application/pdf", _pdf),
        (
            "cong-van.docx",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            lambda: _docx("Công văn số 45/UBND-VX"),
        ),
        (
            "bang-so-lieu.xlsx",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            _xlsx,
        ),
        ("phu-luc.zip", "application/zip", _zip),
    ],
)
def test_media_upload_is_served_back(wordpress: WordPress, name: str, mime: str, make: Any) -> None:
    data: bytes = make()
    post = _create_post(wordpress, title="Bài có tệp đính kèm", status="draft")
    media = _upload(wordpress, name, data, mime, post=post["id"])
    assert media["mime_type"] == mime
    assert media["post"] == post["id"]
    assert media["media_type"] == ("image" if mime.startswith("image/") else "file")

    served = requests.get(media["source_url"], timeout=60)
    assert served.status_code == 200
    assert served.content == data
    attached = wordpress.media(parent=post["id"])
    assert [m["id"] for m in attached] == [media["id"]]

    if mime.startswith("image/"):
        featured = wordpress.edit_post(post["id"], featured_media=media["id"])
        assert featured["featured_media"] == media["id"]


def test_bientap_meta_round_trip_and_lookup_by_key(wordpress: WordPress) -> None:
    key = f"bientap-{secrets.token_hex(8)}"
    meta = {
        "bientap_key": key,
        "bientap_document_number": "12/QĐ-UBND",
        "bientap_document_issuer": "Ủy ban nhân dân tỉnh",
        "bientap_document_issued": "2024-03-05",
        "bientap_document_effective": "2024-03-20",
        "bientap_document_summary": "Về việc ban hành quy chế phối hợp",
        "bientap_document_kind": "Quyết định",
    }
    assert set(meta) == set(META_KEYS)
    draft = _create_post(wordpress, title="Quyết định (nháp)", status="draft", meta=meta)
    assert draft["meta"] == meta
    assert wordpress.post(draft["id"])["meta"] == meta

    later = (datetime.now() + timedelta(days=3)).replace(microsecond=0).isoformat()
    scheduled = _create_post(
        wordpress, title="Hẹn giờ", status="future", date=later, meta={"bientap_key": key + "-2"}
    )
    assert scheduled["status"] == "future"
    _create_post(wordpress, title="Bài khác", status="publish", meta={"bientap_key": "khac"})

    assert [p["id"] for p in wordpress.posts(bientap_key=key)] == [draft["id"]]
    assert [p["id"] for p in wordpress.posts(bientap_key=key + "-2")] == [scheduled["id"]]
    assert wordpress.posts(bientap_key="khong-co") == []

    # The query form of the address, with the query arguments written into it.
    response = requests.get(
        wordpress.rest_url(f"/wp/v2/posts?bientap_key={key}&status=any&context=edit"),
        auth=wordpress.auth,
        timeout=60,
    )
    assert response.status_code == 200
    assert [(p["id"], p["status"]) for p in response.json()] == [(draft["id"], "draft")]

    # Without the password drafts stay hidden.
    anonymous = requests.get(
        wordpress.rest_url("/wp/v2/posts"), params={"bientap_key": key}, timeout=60
    )
    assert anonymous.status_code == 200
    assert anonymous.json() == []


def test_site_is_named_and_on_vietnamese_time(wordpress: WordPress) -> None:
    index = requests.get(wordpress.rest_url("/"), timeout=60).json()
    assert index["name"] == wordpress.title
    assert index["timezone_string"] == "Asia/Ho_Chi_Minh"
    assert index["gmt_offset"] == 7
    assert wordpress.url == f"http://127.0.0.1:{wordpress.port}"


def test_php_serves_with_opcache_as_a_production_server_does(wordpress: WordPress) -> None:
    """The publishing benchmark's WordPress pays what a real one pays per request."""
    probe = wordpress.site_dir / f"opcache-{secrets.token_hex(4)}.php"
    probe.write_text("<?php echo json_encode(opcache_get_status(false));\n", encoding="utf-8")
    try:
        status = requests.get(f"{wordpress.url}/{probe.name}", timeout=60).json()
    finally:
        probe.unlink()
    assert status["opcache_enabled"] is True
    assert status["opcache_statistics"]["num_cached_scripts"] > 0


def test_rest_url_keeps_query_arguments(wordpress: WordPress) -> None:
    address = wordpress.rest_url("/wp/v2/posts?context=edit&per_page=5")
    assert address == f"{wordpress.url}/?rest_route=/wp/v2/posts&context=edit&per_page=5"
    response = requests.get(address, auth=wordpress.auth, timeout=60)
    assert response.status_code == 200
    assert len(response.json()) <= 5


def test_post_edited_by_hand_keeps_its_meta(wordpress: WordPress) -> None:
    key = f"bientap-{secrets.token_hex(8)}"
    post = _create_post(
        wordpress,
        title="Thông báo lịch tiếp công dân",
        content="<p>Bản gốc.</p>",
        status="publish",
        meta={"bientap_key": key},
    )
    edited = wordpress.edit_post(post["id"], content="<p>Biên tập viên đã sửa tay.</p>")
    assert edited["content"]["raw"] == "<p>Biên tập viên đã sửa tay.</p>"
    again = wordpress.post(post["id"])
    assert "Biên tập viên đã sửa tay." in again["content"]["rendered"]
    assert again["meta"]["bientap_key"] == key


def test_site_down_for_a_while_keeps_its_posts(wordpress: WordPress) -> None:
    key = f"bientap-{secrets.token_hex(8)}"
    post = _create_post(
        wordpress, title="Trước khi mất kết nối", status="publish", meta={"bientap_key": key}
    )
    port = wordpress.port
    wordpress.stop_http()
    try:
        assert not port_accepts(wordpress.host, port)
        with pytest.raises(requests.ConnectionError):
            requests.get(wordpress.rest_url("/wp/v2/posts"), timeout=10)
    finally:
        wordpress.start_http()
    assert wordpress.port == port
    assert [p["id"] for p in wordpress.posts(bientap_key=key)] == [post["id"]]


def test_wrong_or_missing_password_is_refused(wordpress: WordPress) -> None:
    for auth in [(wordpress.username, "sai mat khau"), ("khong-ton-tai", wordpress.app_password)]:
        response = requests.get(wordpress.rest_url("/wp/v2/users/me"), auth=auth, timeout=60)
        assert response.status_code == 401
    anonymous = requests.post(
        wordpress.rest_url("/wp/v2/posts"), json={"title": "Không được phép"}, timeout=60
    )
    assert anonymous.status_code == 401
    me = requests.get(wordpress.rest_url("/wp/v2/users/me"), auth=wordpress.auth, timeout=60)
    assert me.status_code == 200
    assert me.json()["slug"] == wordpress.username


def test_second_site_is_separate_and_cleanup_leaves_nothing(
    wordpress: WordPress, tmp_path: Path
) -> None:
    other = WordPress(tmp_path)
    with other:
        assert other.port != wordpress.port
        assert other.db_port != wordpress.db_port
        post = _create_post(other, title="Chỉ có ở trang thứ hai", status="publish")
        assert [p["id"] for p in other.posts()] == [post["id"]]
        titles = [p["title"]["raw"] for p in wordpress.posts(search="trang thứ hai")]
        assert "Chỉ có ở trang thứ hai" not in titles
        pids = [other.db_pid, other.http_pid]
        root = other.root
        port = other.port
    assert all(pid is not None and not Path(f"/proc/{pid}").exists() for pid in pids)
    assert not root.exists()
    assert not port_accepts(other.host, port)


def test_site_left_by_a_killed_process_is_reaped() -> None:
    script = (
        "import time\n"
        "from tests.wordpress import WordPress\n"
        "site = WordPress()\n"
        "site.start()\n"
        "print(site.root, site.db_pid, site.http_pid, site.port, flush=True)\n"
        "time.sleep(600)\n"
    )
    root, db_pid, http_pid, port = orphaned(script)  # MariaDB and PHP live on
    assert port_accepts("127.0.0.1", int(port))

    WordPress().cleanup()  # creating a work directory sweeps those of dead owners

    assert not Path(root).exists()
    assert not port_accepts("127.0.0.1", int(port))
    assert reaped(int(db_pid)) and reaped(int(http_pid))
