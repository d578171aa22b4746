"""The Liferay connector against a local server answering as Liferay's headless delivery
API does (shapes from Liferay's Web Content and Document API documentation)."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote_plus

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from connectors.cms import Article, CmsRejected, CmsTransient, Document, Media
from connectors.http import MESSAGE_LIMIT
from connectors.liferay import LiferayCms
from pipeline.config import ConfigError, Liferay

API = "/o/headless-delivery/v1.0"
SITE = 20125
STRUCTURE = 40697
USER, PASSWORD = "bbt@dongnai.gov.vn", "Lf-s3cret-2026!"
KEY = "bientap-dongnai-12-a1b2c3d4e5f6"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(32)) + b"\xff\xd9"
PDF = b"%PDF-1.4\n%%EOF\n"
BODY = (
    "<p>Sáng 15/3, UBND tỉnh Đồng Nai tổ chức hội nghị.</p>"
    '<p><img alt="Quang cảnh" src="cid:anh1@bientap"></p>'
)
ARTICLE = Article(
    key=KEY,
    title="Hội nghị tổng kết công tác năm 2025",
    body_html=BODY,
    summary="Tỉnh Đồng Nai tổng kết năm 2025.",
    author="Nguyễn Văn An",
    section="41234",  # a taxonomy category id
    tags=("hội nghị", "tổng kết"),
    media=(
        Media("hoi-nghi.jpg", "image/jpeg", JPEG, content_id="anh1@bientap", role="image"),
        Media("Quyết định 123.pdf", "application/pdf", PDF),
    ),
    scheduled_at=datetime(2026, 3, 15, 2, 30, tzinfo=UTC),
    document=Document(number="123/QĐ-UBND"),
)
FIELDS = {
    "body": "content",
    "summary": "summary",
    "author": "author",
    "document_number": "soKyHieu",
}


def not_found(what: str) -> Response:
    """Liferay's answer for a missing entity."""
    body = {"status": "NOT_FOUND", "title": f"No {what} exists with the primary key"}
    return Response(json.dumps(body), 404, content_type="application/json")


def structured_content(
    sc_id: int, request: dict[str, Any], friendly: str, *, site_id: int = SITE
) -> dict[str, Any]:
    """A structured content as Liferay 7.4 answers it (Web Content API Basics)."""
    return {
        "actions": {
            "get": {
                "method": "GET",
                "href": f"http://localhost:8080{API}/structured-contents/{sc_id}",
            },
            "delete": {
                "method": "DELETE",
                "href": f"http://localhost:8080{API}/structured-contents/{sc_id}",
            },
        },
        "availableLanguages": ["vi-VN"],
        "contentFields": [
            {
                "contentFieldValue": field["contentFieldValue"],
                "dataType": "string",
                "inputControl": "text" if field["name"] != "content" else None,
                "label": field["name"],
                "name": field["name"],
                "nestedContentFields": [],
                "repeatable": False,
            }
            for field in request["contentFields"]
        ],
        "contentStructureId": request["contentStructureId"],
        "creator": {
            "additionalName": "",
            "contentType": "UserAccount",
            "familyName": "Ban Biên tập",
            "givenName": "Cổng",
            "id": 20129,
            "name": "Cổng Ban Biên tập",
        },
        "customFields": [],
        "dateCreated": "2026-03-15T02:30:10Z",
        "dateModified": "2026-03-15T02:30:10Z",
        "datePublished": request.get("datePublished", "2026-03-15T02:30:00Z"),
        "description": request.get("description", ""),
        "externalReferenceCode": request["externalReferenceCode"],
        "friendlyUrlPath": friendly,
        "id": sc_id,
        "key": str(sc_id - 2),
        "keywords": request.get("keywords", []),
        "numberOfComments": 0,
        "relatedContents": [],
        "renderedContents": [
            {
                "contentTemplateId": "BASIC-WEB-CONTENT",
                "contentTemplateName": "Basic Web Content",
                "markedAsDefault": True,
                "renderedContentURL": f"http://localhost:8080{API}/structured-contents/{sc_id}"
                "/rendered-content/BASIC-WEB-CONTENT",
            }
        ],
        "siteId": site_id,
        "subscribed": False,
        "taxonomyCategoryBriefs": [
            {"taxonomyCategoryId": c, "taxonomyCategoryName": "Tin hoạt động"}
            for c in request.get("taxonomyCategoryIds", [])
        ],
        "title": request["title"],
        "uuid": "c7005ffb-5677-e030-9eb9-9b1a24a85054",
    }


def document(doc_id: int, name: str, erc: str, content_type: str, size: int) -> dict[str, Any]:
    """A document as Liferay answers an upload (Document API Basics)."""
    return {
        "actions": {},
        "adaptedImages": [],
        "contentUrl": f"/documents/{SITE}/0/{quote_plus(name)}/f56e88a6-0cae-c67f-dd14-"
        f"{doc_id:012d}?version=1.0&t=1617977639864",
        "creator": {"contentType": "UserAccount", "id": 20129, "name": "Cổng Ban Biên tập"},
        "customFields": [],
        "dateCreated": "2026-03-15T02:30:05Z",
        "dateModified": "2026-03-15T02:30:05Z",
        "description": "",
        "documentFolderId": 0,
        "encodingFormat": content_type,
        "externalReferenceCode": erc,
        "fileExtension": name.rpartition(".")[2],
        "fileName": name,
        "id": doc_id,
        "keywords": [],
        "numberOfComments": 0,
        "relatedContents": [],
        "siteId": SITE,
        "sizeInBytes": size,
        "taxonomyCategoryBriefs": [],
        "title": name,
    }


class FakeLiferay:
    """Just enough of the headless delivery API, keeping what it is sent."""

    def __init__(self, server: HTTPServer) -> None:
        self.documents: dict[str, dict[str, Any]] = {}
        self.contents: dict[int, dict[str, Any]] = {}
        self.uploads: list[tuple[str, str, bytes, dict[str, Any]]] = []  # name, type, data, meta
        self.next_id = 41571
        docs_by_erc = re.compile(rf"^{API}/sites/{SITE}/documents/by-external-reference-code/.+$")
        sc_by_erc = re.compile(
            rf"^{API}/sites/{SITE}/structured-contents/by-external-reference-code/.+$"
        )
        server.expect_request(docs_by_erc, method="GET").respond_with_handler(self.get_document)
        server.expect_request(f"{API}/sites/{SITE}/documents", method="POST").respond_with_handler(
            self.upload
        )
        server.expect_request(
            f"{API}/sites/{SITE}/structured-contents", method="POST"
        ).respond_with_handler(self.create)
        server.expect_request(
            f"{API}/structured-content-folders/555/structured-contents", method="POST"
        ).respond_with_handler(self.create)
        server.expect_request(sc_by_erc, method="GET").respond_with_handler(self.by_erc)
        item = re.compile(rf"^{API}/structured-contents/\d+$")
        server.expect_request(item).respond_with_handler(self.item)

    @staticmethod
    def answer(data: Any, status: int = 200) -> Response:
        return Response(json.dumps(data), status, content_type="application/json")

    def get_document(self, request: Request) -> Response:
        erc = request.path.rsplit("/", 1)[1]
        found = self.documents.get(erc)
        return self.answer(found) if found else not_found("DLFileEntry")

    def upload(self, request: Request) -> Response:
        upload = request.files["file"]
        meta = json.loads(request.form["document"])
        data = upload.read()
        self.uploads.append((str(upload.filename), str(upload.content_type), data, meta))
        doc = document(
            38301 + len(self.documents),
            str(upload.filename),
            meta["externalReferenceCode"],
            str(upload.content_type),
            len(data),
        )
        self.documents[meta["externalReferenceCode"]] = doc
        return self.answer(doc)

    def create(self, request: Request) -> Response:
        sent = json.loads(request.get_data())
        sc_id, self.next_id = self.next_id, self.next_id + 2
        self.contents[sc_id] = structured_content(sc_id, sent, sent["friendlyUrlPath"])
        return self.answer(self.contents[sc_id])

    def by_erc(self, request: Request) -> Response:
        erc = request.path.rsplit("/", 1)[1]
        found = [c for c in self.contents.values() if c["externalReferenceCode"] == erc]
        return self.answer(found[0]) if found else not_found("JournalArticle")

    def item(self, request: Request) -> Response:
        sc_id = int(request.path.rsplit("/", 1)[1])
        if sc_id not in self.contents:
            return not_found("JournalArticle")
        if request.method == "DELETE":
            del self.contents[sc_id]
            return Response(status=204)
        if request.method == "PUT":
            sent = json.loads(request.get_data())
            self.contents[sc_id] = structured_content(sc_id, sent, sent["friendlyUrlPath"])
        return self.answer(self.contents[sc_id])


@pytest.fixture
def settings(httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch) -> Liferay:
    monkeypatch.setenv("TEST_LIFERAY_PASSWORD", PASSWORD)
    return Liferay(
        url=httpserver.url_for("/").rstrip("/"),
        site_id=SITE,
        structure_id=STRUCTURE,
        username=USER,
        password="env:TEST_LIFERAY_PASSWORD",  # type: ignore[arg-type]
        fields=FIELDS,
        timeout_seconds=5,
    )


@pytest.fixture
def fake(httpserver: HTTPServer) -> FakeLiferay:
    return FakeLiferay(httpserver)


@pytest.fixture
def cms(settings: Liferay) -> Iterator[LiferayCms]:
    connector = LiferayCms(settings)
    yield connector
    connector.close()


def requests_made(server: HTTPServer) -> list[tuple[str, str]]:
    return [(r.method, r.path) for r, _ in server.log]


def test_publish_uploads_media_and_posts_the_structured_content(
    cms: LiferayCms, fake: FakeLiferay, httpserver: HTTPServer
) -> None:
    live = cms.publish(ARTICLE)

    made = requests_made(httpserver)
    assert [m for m, _ in made] == ["GET", "POST", "GET", "POST", "POST"]
    assert made[1] == ("POST", f"{API}/sites/{SITE}/documents")
    assert made[4] == ("POST", f"{API}/sites/{SITE}/structured-contents")
    basic = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    assert all(r.headers["Authorization"] == basic for r, _ in httpserver.log)

    upload = httpserver.log[1][0]
    assert upload.content_type is not None and upload.content_type.startswith("multipart/form-data")
    (name, content_type, data, meta), (pdf_name, _, pdf_data, _) = fake.uploads
    assert (content_type, data) == ("image/jpeg", JPEG)
    assert re.fullmatch(r"[0-9a-f]{8}-hoi-nghi\.jpg", name)
    assert meta["title"] == name
    assert re.fullmatch(r"[0-9a-f]{8}-Quyết định 123\.pdf", pdf_name) and pdf_data == PDF
    image_url = fake.documents[meta["externalReferenceCode"]]["contentUrl"]

    sent = json.loads(httpserver.log[4][0].get_data())
    fields = {f["name"]: f["contentFieldValue"]["data"] for f in sent["contentFields"]}
    assert sent["contentStructureId"] == STRUCTURE
    assert sent["title"] == "Hội nghị tổng kết công tác năm 2025"
    assert sent["externalReferenceCode"] == KEY
    assert sent["keywords"] == ["hội nghị", "tổng kết"]
    assert sent["taxonomyCategoryIds"] == [41234]
    assert sent["datePublished"] == "2026-03-15T02:30:00+00:00"
    assert sent["friendlyUrlPath"].startswith("hoi-nghi-tong-ket-cong-tac-nam-2025-")
    assert set(fields) == {"content", "summary", "author", "soKyHieu"}
    assert fields["summary"] == "Tỉnh Đồng Nai tổng kết năm 2025."
    assert fields["author"] == "Nguyễn Văn An"
    assert fields["soKyHieu"] == "123/QĐ-UBND"
    body = fields["content"]
    assert "cid:" not in body
    assert f'src="{image_url.replace("&", "&amp;")}"' in body
    assert body.startswith(BODY.replace("cid:anh1@bientap", image_url.replace("&", "&amp;")))
    assert "Quy%E1%BA%BFt+%C4%91%E1%BB%8Bnh+123.pdf" in body  # the PDF is linked after the body

    assert live.remote_id == "41571"
    assert live.url == f"{cms.base}/w/{sent['friendlyUrlPath']}"
    assert live.title == ARTICLE.title
    assert live.body_html == BODY.replace("cid:anh1@bientap", image_url.replace("&", "&amp;"))
    assert sorted(live.media) == ["Quyết định 123.pdf", "hoi-nghi.jpg"]
    assert live.meta == {"key": KEY, "document_number": "123/QĐ-UBND"}
    assert live.section == "41234"
    assert live.tags == ("hội nghị", "tổng kết")


def test_a_password_with_vietnamese_letters_is_sent_in_utf8(
    settings: Liferay, fake: FakeLiferay, httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """requests encodes Basic credentials as Latin-1: «Đ» or «ồ» raised a UnicodeEncodeError
    on every attempt, an «unexpected error» until the item was a dead letter."""
    password = "Mật-khẩu-Đồng-Nai-42"
    monkeypatch.setenv("TEST_LIFERAY_PASSWORD", password)
    cms = LiferayCms(settings)
    try:
        cms.publish(ARTICLE)
    finally:
        cms.close()
    basic = "Basic " + base64.b64encode(f"{USER}:{password}".encode()).decode()
    assert all(r.headers["Authorization"] == basic for r, _ in httpserver.log)


def test_a_retry_reuses_the_uploads(
    cms: LiferayCms, fake: FakeLiferay, httpserver: HTTPServer
) -> None:
    cms.publish(ARTICLE)
    httpserver.clear_log()

    cms.update("41571", ARTICLE)

    made = requests_made(httpserver)
    assert ("POST", f"{API}/sites/{SITE}/documents") not in made
    assert len(fake.documents) == 2


def test_a_folder_takes_the_post(
    settings: Liferay, fake: FakeLiferay, httpserver: HTTPServer
) -> None:
    cms = LiferayCms(settings.model_copy(update={"folder_id": 555}))

    cms.publish(ARTICLE)

    assert requests_made(httpserver)[-1] == (
        "POST",
        f"{API}/structured-content-folders/555/structured-contents",
    )


def test_find_by_external_reference_code(
    cms: LiferayCms, fake: FakeLiferay, httpserver: HTTPServer
) -> None:
    assert cms.find(KEY) is None  # Liferay's 404
    published = cms.publish(ARTICLE)

    found = cms.find(KEY)

    assert found is not None and found == published
    assert requests_made(httpserver)[0] == (
        "GET",
        f"{API}/sites/{SITE}/structured-contents/by-external-reference-code/{KEY}",
    )


def test_read_maps_content_fields_back(cms: LiferayCms, httpserver: HTTPServer) -> None:
    stored = structured_content(
        41571,
        {
            "contentStructureId": STRUCTURE,
            "title": "Tiếp công dân định kỳ tháng 3",
            "externalReferenceCode": KEY,
            "keywords": ["tiếp công dân"],
            "taxonomyCategoryIds": [41234],
            "contentFields": [
                {"name": "summary", "contentFieldValue": {"data": "Lịch tiếp công dân."}},
            ],
        },
        "tiep-cong-dan-dinh-ky-thang-3",
    )
    body = (
        '<p>Lịch tiếp.</p><p><img src="/documents/20125/0/a1b2c3d4-lich.jpg/0f1e?t=1"></p>'
        '<div class="bientap-tep-dinh-kem"><ul><li><a href="/documents/20125/0/'
        '0011aabb-Th%C3%B4ng+b%C3%A1o.pdf/9d8c?version=1.0">Thông báo.pdf</a></li></ul></div>'
    )
    stored["contentFields"].append(  # a field inside a fieldset, as Liferay nests them
        {
            "dataType": "",
            "label": "Văn bản",
            "name": "vanBan",
            "nestedContentFields": [
                {
                    "contentFieldValue": {"data": body},
                    "dataType": "html",
                    "label": "Nội dung",
                    "name": "content",
                    "nestedContentFields": [],
                    "repeatable": False,
                },
                {
                    "contentFieldValue": {"data": "05/TB-BTD"},
                    "dataType": "string",
                    "label": "Số ký hiệu",
                    "name": "soKyHieu",
                    "nestedContentFields": [],
                    "repeatable": False,
                },
            ],
            "repeatable": False,
        }
    )
    httpserver.expect_request(f"{API}/structured-contents/41571").respond_with_json(stored)
    httpserver.expect_request(f"{API}/structured-contents/9").respond_with_response(
        not_found("JournalArticle")
    )

    live = cms.read("41571")

    assert live is not None
    assert live.remote_id == "41571"
    assert live.url == f"{cms.base}/w/tiep-cong-dan-dinh-ky-thang-3"
    assert live.title == "Tiếp công dân định kỳ tháng 3"
    assert (
        live.body_html
        == '<p>Lịch tiếp.</p><p><img src="/documents/20125/0/a1b2c3d4-lich.jpg/0f1e?t=1"></p>'
    )
    assert live.media == ("lich.jpg", "Thông báo.pdf")
    assert live.meta == {"key": KEY, "document_number": "05/TB-BTD"}
    assert live.tags == ("tiếp công dân",)
    assert live.section == "41234"
    assert live.known == {"section", "tags"}, "both are in every answer: compared"
    assert cms.read("9") is None


def test_update_replaces_the_content_and_keeps_its_address(
    cms: LiferayCms, fake: FakeLiferay, httpserver: HTTPServer
) -> None:
    first = cms.publish(ARTICLE)
    httpserver.clear_log()
    changed = Article(
        key=KEY,
        title="Hội nghị tổng kết năm 2025 (đã sửa)",
        body_html="<p>Nội dung sửa theo ý kiến Trưởng ban.</p>",
        section="41234",
    )

    live = cms.update(first.remote_id, changed)

    assert requests_made(httpserver) == [
        ("GET", f"{API}/structured-contents/41571"),
        ("PUT", f"{API}/structured-contents/41571"),
    ]
    sent = json.loads(httpserver.log[1][0].get_data())
    assert sent["title"] == "Hội nghị tổng kết năm 2025 (đã sửa)"
    assert sent["contentStructureId"] == STRUCTURE
    assert sent["contentFields"] == [
        {
            "name": "content",
            "contentFieldValue": {"data": "<p>Nội dung sửa theo ý kiến Trưởng ban.</p>"},
        }
    ]
    assert live.url == first.url  # friendlyUrlPath kept
    assert live.title == "Hội nghị tổng kết năm 2025 (đã sửa)"
    assert live.media == ()
    with pytest.raises(CmsRejected) as caught:
        cms.update("99", changed)
    assert caught.value.status == 404


def test_withdraw_deletes(cms: LiferayCms, fake: FakeLiferay, httpserver: HTTPServer) -> None:
    live = cms.publish(ARTICLE)
    httpserver.clear_log()

    cms.withdraw(live.remote_id)
    cms.withdraw(live.remote_id)  # already gone: Liferay's 404 is fine

    assert requests_made(httpserver) == [("DELETE", f"{API}/structured-contents/41571")] * 2
    assert cms.find(KEY) is None


def test_server_errors_are_transient(cms: LiferayCms, httpserver: HTTPServer) -> None:
    httpserver.expect_request(f"{API}/structured-contents/41571").respond_with_json(
        {"status": "SERVICE_UNAVAILABLE", "title": "Service Unavailable"}, 503
    )

    with pytest.raises(CmsTransient, match="503"):
        cms.read("41571")


def test_refused_credentials_carry_liferay_message_without_the_password(
    cms: LiferayCms, httpserver: HTTPServer
) -> None:
    httpserver.expect_request(re.compile(".*")).respond_with_json(
        {"status": "UNAUTHORIZED", "title": f"Authentication failed for {USER} / {PASSWORD}"},
        401,
    )

    with pytest.raises(CmsRejected) as caught:
        cms.publish(ARTICLE)

    assert caught.value.status == 401
    assert f"Authentication failed for {USER}" in str(caught.value)
    assert PASSWORD not in str(caught.value)


def test_a_portal_echoing_the_request_headers_shows_no_credential(
    cms: LiferayCms, httpserver: HTTPServer
) -> None:
    """A portal's error page that echoes the request, Authorization header included:
    the message kept (on record, in «bientap publications», mailed to the secretary)
    holds neither the password nor its Basic credential."""

    def echo(request: Request) -> Response:
        body = {"status": "UNAUTHORIZED", "title": f"Từ chối truy cập: {dict(request.headers)}"}
        return Response(json.dumps(body, ensure_ascii=False), 401, content_type="application/json")

    httpserver.expect_request(re.compile(".*")).respond_with_handler(echo)

    with pytest.raises(CmsRejected) as caught:
        cms.publish(ARTICLE)

    credential = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    assert "Từ chối truy cập" in str(caught.value) and "Authorization" in str(caught.value)
    assert credential not in str(caught.value) and PASSWORD not in str(caught.value)


def test_a_credential_where_the_message_is_cut_leaves_no_part_of_itself(
    cms: LiferayCms, httpserver: HTTPServer
) -> None:
    """The message was cut to its first 500 characters before the secrets were masked: a
    credential the cut went through kept its first half, unmasked."""
    credential = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    said = "Từ chối truy cập. " * 30  # 540 characters: the credential straddles the cut
    said = said[: MESSAGE_LIMIT - 40 - len("Authorization: Basic ")]  # 40 of it before
    title = f"{said}Authorization: Basic {credential}"
    httpserver.expect_request(re.compile(".*")).respond_with_json(
        {"status": "UNAUTHORIZED", "title": title}, 401
    )

    with pytest.raises(CmsRejected) as caught:
        cms.publish(ARTICLE)

    assert "Authorization: ***" in str(caught.value)
    assert credential[:40] not in str(caught.value)  # the user's name and the password's start


def test_validation_errors_are_rejected_with_liferay_words(
    cms: LiferayCms, fake: FakeLiferay, httpserver: HTTPServer
) -> None:
    httpserver.clear_all_handlers()
    httpserver.expect_request(re.compile(".*")).respond_with_json(
        {"status": "BAD_REQUEST", "title": "Trường nội dung là bắt buộc"}, 400
    )

    with pytest.raises(CmsRejected, match="Trường nội dung là bắt buộc") as caught:
        cms.publish(Article(key=KEY, title="Tin", body_html="<p>x</p>"))
    assert caught.value.status == 400


def test_settings_are_checked_when_the_connector_is_built(settings: Liferay) -> None:
    with pytest.raises(ConfigError, match="noi_dung"):
        LiferayCms(settings.model_copy(update={"fields": {"body": "content", "noi_dung": "x"}}))
    with pytest.raises(ConfigError, match="body"):
        LiferayCms(settings.model_copy(update={"fields": {"summary": "summary"}}))


def test_a_section_must_be_a_category_id_without_a_section_field(
    cms: LiferayCms, fake: FakeLiferay, httpserver: HTTPServer
) -> None:
    with pytest.raises(CmsRejected, match="taxonomy category") as caught:
        cms.publish(Article(key=KEY, title="Tin", body_html="<p>x</p>", section="Thời sự"))
    assert str(caught.value).startswith("Chuyên mục «Thời sự» phải là mã danh mục của Liferay")
    assert not [m for m in requests_made(httpserver) if m[1].endswith("structured-contents")]


def test_credentials_a_proxy_echoes_back_never_reach_the_staff(
    cms: LiferayCms, httpserver: HTTPServer
) -> None:
    """A proxy's error page that shows the request's headers: Basic authentication is
    the password in base64, as good as the password itself to whoever reads the mail."""
    sent = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()

    def echo(request: Request) -> Response:
        shown = f"<pre>Authorization: {request.headers.get('Authorization')}</pre>"
        return Response(shown, 502, content_type="text/plain")

    httpserver.expect_request(re.compile(".*")).respond_with_handler(echo)

    with pytest.raises(CmsTransient) as caught:
        cms.publish(ARTICLE)

    assert "Authorization: ***" in str(caught.value)  # the page is quoted, the header not
    assert sent not in str(caught.value) and sent.rstrip("=") not in str(caught.value)


def test_a_vietnamese_password_is_sent_in_utf8(
    settings: Liferay, fake: FakeLiferay, httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """requests encodes Basic credentials in Latin-1: «Mật khẩu» failed every attempt with
    an unforeseen UnicodeEncodeError (and its position in the password) until a dead
    letter, instead of reaching Liferay, which reads the credentials in UTF-8."""
    monkeypatch.setenv("TEST_LIFERAY_PASSWORD", "Mật-khẩu-Cổng-2026")
    cms = LiferayCms(settings)
    try:
        cms.publish(ARTICLE)
    finally:
        cms.close()

    sent = {r.headers["Authorization"] for r, _ in httpserver.log}
    assert sent == {"Basic " + base64.b64encode(f"{USER}:Mật-khẩu-Cổng-2026".encode()).decode()}
