"""The template-driven REST connector, against a real HTTP server that records requests."""

from __future__ import annotations

import base64
import json
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from connectors.cms import Article, CmsRejected, CmsTransient, Document, Media
from connectors.rest import RestCms
from pipeline.config import ConfigError, RestApi
from pipeline.publishing import differences

TOKEN = "Bearer s3cret-portal-token-2026"
KEY = "bientap-dongnai-12-a1b2c3d4e5f6"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(32)) + b"\xff\xd9"
BODY_TEMPLATE: dict[str, Any] = {
    "post": {
        "headline": "{title}",
        "content": "{body_html}",
        "lead": "{summary}",
        "byline": "Tác giả: {author}",
        "category": "{section}",
        "tags": "{tags}",
        "externalKey": "{key}",
        "publishAt": "{scheduled_at}",
        "document": {"number": "{document_number}", "issuer": "{document_issuer}"},
        "attachments": "{media}",
    },
    "lang": "{language}",
    "site": 7,
    "draft": False,
}
ARTICLE = Article(
    key=KEY,
    title='Hội nghị "Chuyển đổi số" năm 2026 \\ Đồng Nai',
    body_html='<p>Sáng nay, tỉnh Đồng Nai…</p><p><img src="cid:anh1@bientap" alt="Ảnh"></p>',
    summary="Tóm tắt: chuyển đổi số.",
    author="Nguyễn Thị Bích",
    section="tin-hoat-dong",
    tags=("chuyển đổi số", "hội nghị"),
    media=(Media("anh1.jpg", "image/jpeg", JPEG, content_id="anh1@bientap", role="image"),),
    scheduled_at=datetime(2026, 3, 15, 8, 0, tzinfo=UTC),
    document=Document(number="45/KH-UBND", issuer="UBND tỉnh Đồng Nai"),
)
READ_PATHS = {
    "remote_id": "id",
    "url": "link",
    "title": "headline",
    "body_html": "content",
    "section": "category",
    "tags": "tags",
    "media": "attachments.*.filename",
    "meta.key": "externalKey",
    "meta.document_number": "document.number",
    "status": "state",
}
STORED = {  # a post as the portal answers GET /api/posts/42
    "id": 42,
    "link": "https://portal.dongnai.gov.vn/tin/42",
    "headline": ARTICLE.title,
    "content": '<p>Sáng nay, tỉnh Đồng Nai…</p><p><img src="/media/anh1.jpg" alt="Ảnh"></p>',
    "category": "tin-hoat-dong",
    "tags": ["chuyển đổi số", "hội nghị"],
    "attachments": [{"filename": "anh1.jpg", "url": "/media/anh1.jpg"}],
    "externalKey": KEY,
    "document": {"number": "45/KH-UBND"},
    "state": "published",
}


@pytest.fixture
def settings(httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch) -> RestApi:
    monkeypatch.setenv("TEST_PORTAL_TOKEN", TOKEN)
    return RestApi(
        url=httpserver.url_for("/api/posts"),
        item_url="{url}/{id}",
        find_url="{url}?externalKey={key}",
        auth_value="env:TEST_PORTAL_TOKEN",  # type: ignore[arg-type]
        body=BODY_TEMPLATE,
        id_path="data.id",
        url_path="data.link",
        read_paths=READ_PATHS,
        timeout_seconds=5,
    )


@pytest.fixture
def cms(settings: RestApi) -> Iterator[RestCms]:
    connector = RestCms(settings)
    yield connector
    connector.close()


def created() -> dict[str, Any]:
    return {"data": {"id": 42, "link": "https://portal.dongnai.gov.vn/tin/42"}}


def test_publish_sends_the_rendered_template(cms: RestCms, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/api/posts", method="POST").respond_with_json(created(), 201)

    live = cms.publish(ARTICLE)

    request, _ = httpserver.log[0]
    assert request.headers["Authorization"] == TOKEN
    assert request.headers["Content-Type"].startswith("application/json")
    # a portal honouring it makes one post of a create retried after a lost answer
    assert request.headers["Idempotency-Key"] == KEY
    raw = request.get_data()
    assert "Đồng Nai".encode() in raw  # UTF-8, readable
    sent = json.loads(raw)
    assert sent == {
        "post": {
            "headline": 'Hội nghị "Chuyển đổi số" năm 2026 \\ Đồng Nai',
            "content": ARTICLE.body_html,  # cid: left for the portal
            "lead": "Tóm tắt: chuyển đổi số.",
            "byline": "Tác giả: Nguyễn Thị Bích",
            "category": "tin-hoat-dong",
            "tags": ["chuyển đổi số", "hội nghị"],
            "externalKey": KEY,
            "publishAt": "2026-03-15T08:00:00+00:00",
            "document": {"number": "45/KH-UBND", "issuer": "UBND tỉnh Đồng Nai"},
            "attachments": [
                {
                    "filename": "anh1.jpg",
                    "content_type": "image/jpeg",
                    "data_base64": base64.b64encode(JPEG).decode(),
                    "content_id": "anh1@bientap",
                }
            ],
        },
        "lang": "vi",
        "site": 7,
        "draft": False,
    }
    assert live.remote_id == "42"
    assert live.url == "https://portal.dongnai.gov.vn/tin/42"
    assert live.title == ARTICLE.title and live.media == ("anh1.jpg",)
    assert live.meta["key"] == KEY


def test_absent_values_are_null_alone_and_empty_in_text(
    settings: RestApi, httpserver: HTTPServer
) -> None:
    template = {"author": "{author}", "line": "Tác giả: {author}.", "when": "{scheduled_at}"}
    cms = RestCms(settings.model_copy(update={"body": template}))
    httpserver.expect_request("/api/posts", method="POST").respond_with_json(created())

    cms.publish(Article(key=KEY, title="Tin ngắn", body_html="<p>Nội dung</p>"))

    assert json.loads(httpserver.log[0][0].get_data()) == {
        "author": None,
        "line": "Tác giả: .",
        "when": None,
    }


def test_an_unknown_placeholder_is_named_when_the_connector_is_built(settings: RestApi) -> None:
    with pytest.raises(ConfigError, match=r"publish\.rest\.body\.post\.extra: .*\{titel\}"):
        RestCms(settings.model_copy(update={"body": {"post": {"extra": "Tin: {titel}"}}}))
    with pytest.raises(ConfigError, match=r"\{slug\}"):
        RestCms(settings.model_copy(update={"item_url": "{url}/{slug}"}))
    with pytest.raises(ConfigError, match="read_paths"):
        RestCms(settings.model_copy(update={"read_paths": {"headline": "title"}}))


def test_server_errors_are_transient(cms: RestCms, httpserver: HTTPServer) -> None:
    httpserver.expect_oneshot_request("/api/posts").respond_with_data("Bad gateway", 502)
    httpserver.expect_oneshot_request("/api/posts").respond_with_json({"message": "slow"}, 429)

    with pytest.raises(CmsTransient, match="502"):
        cms.publish(ARTICLE)
    with pytest.raises(CmsTransient, match="429"):
        cms.publish(ARTICLE)


def test_refused_credentials_carry_the_portal_message_without_the_token(
    cms: RestCms, httpserver: HTTPServer
) -> None:
    httpserver.expect_request("/api/posts").respond_with_json(
        {"message": f"Mã truy cập không hợp lệ: {TOKEN}", "code": "invalid_token"}, 401
    )

    with pytest.raises(CmsRejected) as caught:
        cms.publish(ARTICLE)

    assert caught.value.status == 401
    assert "Mã truy cập không hợp lệ" in str(caught.value)
    assert "s3cret-portal-token-2026" not in str(caught.value)


def test_a_rejection_without_json_keeps_the_text_short(
    cms: RestCms, httpserver: HTTPServer
) -> None:
    httpserver.expect_request("/api/posts").respond_with_data("Tiêu đề quá dài. " * 100, 422)

    with pytest.raises(CmsRejected) as caught:
        cms.publish(ARTICLE)

    assert caught.value.status == 422
    assert "Tiêu đề quá dài." in str(caught.value)
    assert len(str(caught.value)) < 700


def test_a_slow_portal_is_transient(settings: RestApi, httpserver: HTTPServer) -> None:
    release = threading.Event()

    def stall(request: Request) -> Response:
        release.wait(10)
        return Response("{}", content_type="application/json")

    httpserver.expect_request("/api/posts").respond_with_handler(stall)
    cms = RestCms(settings.model_copy(update={"timeout_seconds": 0.2}))
    try:
        with pytest.raises(CmsTransient, match="no answer"):
            cms.publish(ARTICLE)
    finally:
        release.set()
        cms.close()


def test_an_unreachable_portal_is_transient(settings: RestApi) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cms = RestCms(settings.model_copy(update={"url": f"http://127.0.0.1:{port}/api/posts"}))

    with pytest.raises(CmsTransient, match="cannot connect"):
        cms.publish(ARTICLE)


def test_find_by_key(cms: RestCms, httpserver: HTTPServer) -> None:
    httpserver.expect_request(
        "/api/posts", method="GET", query_string={"externalKey": KEY}
    ).respond_with_json({"items": [STORED], "total": 1})

    found = cms.find(KEY)

    assert found is not None
    assert found.remote_id == "42"
    assert found.url == "https://portal.dongnai.gov.vn/tin/42"
    assert found.meta["key"] == KEY
    assert httpserver.log[0][0].headers["Authorization"] == TOKEN


def test_find_ignores_posts_without_the_key(cms: RestCms, httpserver: HTTPServer) -> None:
    """A portal that ignores the filter answers every post: none of them is ours."""
    other = {**STORED, "id": 7, "externalKey": "bientap-dongnai-3-000000000000"}
    httpserver.expect_oneshot_request("/api/posts", method="GET").respond_with_json([other])
    httpserver.expect_oneshot_request("/api/posts", method="GET").respond_with_json([])
    httpserver.expect_oneshot_request("/api/posts", method="GET").respond_with_data("", 404)

    assert cms.find(KEY) is None
    assert cms.find(KEY) is None
    assert cms.find(KEY) is None


def test_read_maps_the_answer_through_read_paths(cms: RestCms, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/api/posts/42", method="GET").respond_with_json(STORED)
    httpserver.expect_request("/api/posts/43", method="GET").respond_with_json(
        {"message": "không có bài"}, 404
    )
    httpserver.expect_request("/api/posts/44", method="GET").respond_with_json(
        {"message": "Bài viết đã bị xóa."}, 410
    )

    live = cms.read("42")

    assert live is not None
    assert live.remote_id == "42"
    assert live.url == "https://portal.dongnai.gov.vn/tin/42"
    assert live.title == ARTICLE.title
    assert live.body_html == STORED["content"]
    assert live.section == "tin-hoat-dong"
    assert live.tags == ("chuyển đổi số", "hội nghị")
    assert live.media == ("anh1.jpg",)
    assert live.meta == {"key": KEY, "document_number": "45/KH-UBND"}
    assert live.status == "published"
    assert cms.read("43") is None
    assert cms.read("44") is None, "410 Gone: no post, to be put back by verification"


def test_section_and_tags_are_compared_only_when_read_paths_name_them(
    settings: RestApi, httpserver: HTTPServer
) -> None:
    moved = {**STORED, "category": "thoi-su", "tags": []}  # changed by hand on the portal
    httpserver.expect_request("/api/posts/42", method="GET").respond_with_json(moved)
    blind_paths = {k: v for k, v in READ_PATHS.items() if k not in ("section", "tags")}
    found: dict[str, list[str]] = {}
    for name, paths in (("read", READ_PATHS), ("not read", blind_paths)):
        connector = RestCms(settings.model_copy(update={"read_paths": paths}))
        try:
            live = connector.read("42")
        finally:
            connector.close()
        assert live is not None
        found[name] = [d for d in differences(ARTICLE, live) if d.startswith(("Chuyên", "Thẻ"))]
    assert found["read"] == [
        "Chuyên mục: duyệt «tin-hoat-dong», trên cổng «thoi-su»",
        "Thẻ: duyệt «chuyển đổi số», «hội nghị», trên cổng không có",
    ]
    assert found["not read"] == [], "what the answer cannot tell is not compared"


def test_update_puts_the_same_body(cms: RestCms, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/api/posts", method="POST").respond_with_json(created())
    httpserver.expect_request("/api/posts/42", method="PUT").respond_with_json(created())
    cms.publish(ARTICLE)

    live = cms.update("42", ARTICLE)

    (post, _), (put, _) = httpserver.log
    assert put.method == "PUT" and put.path == "/api/posts/42"
    assert json.loads(put.get_data()) == json.loads(post.get_data())
    assert put.headers["Authorization"] == TOKEN
    assert live.remote_id == "42" and live.url == "https://portal.dongnai.gov.vn/tin/42"


def test_update_answered_without_a_body_reads_the_address(
    cms: RestCms, httpserver: HTTPServer
) -> None:
    httpserver.expect_request("/api/posts/42", method="PUT").respond_with_data("", 204)
    httpserver.expect_request("/api/posts/42", method="GET").respond_with_json(STORED)

    live = cms.update("42", ARTICLE)

    assert live.url == "https://portal.dongnai.gov.vn/tin/42"


def test_withdraw_deletes_and_a_missing_or_gone_post_is_already_withdrawn(
    cms: RestCms, httpserver: HTTPServer
) -> None:
    httpserver.expect_request("/api/posts/42", method="DELETE").respond_with_data("", 204)
    httpserver.expect_request("/api/posts/43", method="DELETE").respond_with_data("", 404)
    httpserver.expect_request("/api/posts/44", method="DELETE").respond_with_json(
        {"message": "Bài viết đã bị xóa."}, 410
    )

    cms.withdraw("42")
    cms.withdraw("43")
    cms.withdraw("44")  # deleted by hand, and the portal says so: withdrawn all the same

    assert [(r.method, r.path) for r, _ in httpserver.log] == [
        ("DELETE", "/api/posts/42"),
        ("DELETE", "/api/posts/43"),
        ("DELETE", "/api/posts/44"),
    ]
    assert httpserver.log[0][0].headers["Authorization"] == TOKEN


def test_a_create_answer_without_an_id_is_rejected(cms: RestCms, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/api/posts", method="POST").respond_with_json({"ok": True})

    with pytest.raises(CmsRejected, match="data.id"):
        cms.publish(ARTICLE)


def test_a_redirect_is_not_followed_and_the_api_key_stays_home(
    settings: RestApi, httpserver: HTTPServer
) -> None:
    """The portal (or an open redirect on it) points elsewhere: the custom auth header,
    which requests would send along to another host, goes nowhere; the redirect is a
    rejection naming where it points, and a 404 there does not read as "gone"."""
    elsewhere = HTTPServer(host="localhost", port=0)
    elsewhere.start()
    try:
        elsewhere.expect_request("/steal").respond_with_data("", 404)
        away = elsewhere.url_for("/steal")
        httpserver.expect_request("/api/posts/42").respond_with_data(
            "", 302, headers={"Location": away}
        )
        cms = RestCms(settings.model_copy(update={"auth_header": "X-Api-Key"}))
        try:
            with pytest.raises(CmsRejected, match="redirected to " + away) as read:
                cms.read("42")
            with pytest.raises(CmsRejected) as withdrawn:
                cms.withdraw("42")
        finally:
            cms.close()
        assert read.value.status == withdrawn.value.status == 302
        assert not elsewhere.log, "nothing, the key least of all, reached the other host"
    finally:
        elsewhere.clear()
        elsewhere.stop()


def test_a_refused_connection_is_told_in_vietnamese_without_urllib3_internals(
    settings: RestApi,
) -> None:
    """What the secretary reads in the dead-letter mail: the cause in Vietnamese, the
    system's own words in brackets, and the request; not urllib3's pool and retry repr."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cms = RestCms(settings.model_copy(update={"url": f"http://127.0.0.1:{port}/api/posts"}))

    with pytest.raises(CmsTransient) as caught:
        cms.publish(ARTICLE)

    said = str(caught.value)
    assert said.startswith(
        "Không kết nối được tới cổng (cannot connect): "
        "máy chủ của cổng từ chối kết nối (Connection refused)"
    )
    assert said.endswith(f"— POST http://127.0.0.1:{port}/api/posts")
    assert "HTTPConnectionPool" not in said and "Max retries" not in said


def test_an_unknown_host_is_named_as_such(settings: RestApi) -> None:
    cms = RestCms(settings.model_copy(update={"url": "http://cong-ttdt.invalid/api/posts"}))

    with pytest.raises(CmsTransient, match="không tìm thấy tên máy chủ của cổng"):
        cms.publish(ARTICLE)


@pytest.mark.parametrize(
    ("answer", "told"),
    [
        (  # ASP.NET Core's problem details
            {
                "type": "https://tools.ietf.org/html/rfc9110#section-15.5.1",
                "title": "One or more validation errors occurred.",
                "status": 400,
                "errors": {"Title": ["Tiêu đề không được dài quá 250 ký tự."]},
            },
            "One or more validation errors occurred.: Title: Tiêu đề không được dài quá 250 ký tự.",
        ),
        (  # Laravel
            {
                "message": "Dữ liệu không hợp lệ.",
                "errors": {"category": ["Chuyên mục không tồn tại."], "tags": ["Quá 10 thẻ."]},
            },
            "Dữ liệu không hợp lệ.: category: Chuyên mục không tồn tại.; tags: Quá 10 thẻ.",
        ),
        (  # JSON:API
            {
                "errors": [
                    {
                        "status": "422",
                        "title": "Invalid Attribute",
                        "detail": "Ngày đăng phải sau ngày hiện tại.",
                        "source": {"pointer": "/data/attributes/publishAt"},
                    }
                ]
            },
            "/data/attributes/publishAt: Ngày đăng phải sau ngày hiện tại.",
        ),
        (  # OData, SharePoint
            {"error": {"code": "-2130575340", "message": "Trường «Tóm tắt» là bắt buộc."}},
            "Trường «Tóm tắt» là bắt buộc.",
        ),
    ],
    ids=["problem-details", "laravel", "json-api", "odata"],
)
def test_a_rejection_names_what_the_portal_found_wrong(
    cms: RestCms, httpserver: HTTPServer, answer: dict[str, Any], told: str
) -> None:
    """The staff must see which field the portal refused, not only "validation failed"."""
    httpserver.expect_request("/api/posts", method="POST").respond_with_json(answer, 422)

    with pytest.raises(CmsRejected) as caught:
        cms.publish(ARTICLE)

    assert str(caught.value).startswith(f"Cổng từ chối yêu cầu (HTTP 422): {told} — POST ")


def test_a_proxy_error_page_is_told_by_its_title(cms: RestCms, httpserver: HTTPServer) -> None:
    page = (
        "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
        "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n"
        "</body>\r\n</html>\r\n" + "<!-- a padding to disable MSIE's friendly error page -->\n" * 6
    )
    httpserver.expect_request("/api/posts").respond_with_data(page, 502, content_type="text/html")

    with pytest.raises(CmsTransient) as caught:
        cms.publish(ARTICLE)

    assert str(caught.value).startswith(
        "Máy chủ của cổng báo lỗi (HTTP 502): 502 Bad Gateway — POST "
    )


def test_a_token_missing_from_the_environment_is_told_in_vietnamese(
    cms: RestCms, httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TEST_PORTAL_TOKEN")

    with pytest.raises(CmsRejected) as caught:
        cms.publish(ARTICLE)

    assert str(caught.value) == (
        "Thiếu mã truy cập cổng trong cấu hình (environment variable TEST_PORTAL_TOKEN is not set)"
    )
    assert not httpserver.log, "nothing sent without its credentials"
