"""The reviewer's link pages (Flask test client), on SQLite and PostgreSQL.

A submission is mailed to the demo board, the pipeline asks its first reviewers, and the
tests follow the links of the review mails exactly as they were sent.
"""

from __future__ import annotations

import re
import socket
from dataclasses import dataclass
from datetime import timedelta
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from typing import Any

import pytest
import requests
from flask.testing import FlaskClient
from sqlalchemy import func, select
from werkzeug.test import TestResponse

from pipeline.config import Board
from pipeline.models import (
    Event,
    OutgoingMail,
    ReviewTask,
    State,
    Submission,
    SubmissionVersion,
    TaskState,
    UsedLink,
    utcnow,
)
from pipeline.samples import NEWS_BODY, NEWS_TITLE, article_mail
from pipeline.tokens import ActionClaim
from pipeline.web import CSP, MAX_REQUEST_BYTES, WebServer, make_app
from tests.helpers import DEMO_BOX, LINKS, Rig, make_rig
from tests.test_imagemeta import HEIC, opened, phone_exif, picture, saved

SENDER = "nhung.ltt@sgddt.demo.bientap.vn"
URL = re.compile(re.escape(LINKS.public_url) + r"/duyet/\d+/[A-Za-z0-9_.-]+")
PDF = b"%PDF-1.4\n% bientap test\n"


@dataclass
class Web:
    rig: Rig
    client: FlaskClient

    # -- the item and its tasks, read from the database -------------------------------
    def item(self, item_id: int | None = None) -> Submission:
        items = self.rig.items()
        return next(i for i in items if i.id == item_id) if item_id else items[-1]

    def tasks(self, item_id: int | None = None) -> list[ReviewTask]:
        item_id = item_id or self.item().id
        with self.rig.sessions() as s:
            query = select(ReviewTask).where(ReviewTask.submission_id == item_id)
            return list(s.scalars(query.order_by(ReviewTask.id)))

    def pending(self, item_id: int | None = None) -> list[ReviewTask]:
        return [t for t in self.tasks(item_id) if t.state == TaskState.PENDING]

    def count(self, model: Any, *where: Any) -> int:
        with self.rig.sessions() as s:
            return int(s.scalar(select(func.count()).select_from(model).where(*where)) or 0)

    def events(self, kind: str) -> list[Event]:
        with self.rig.sessions() as s:
            return list(s.scalars(select(Event).where(Event.kind == kind).order_by(Event.id)))

    def snapshot(self) -> tuple[Any, ...]:
        """Everything a decision changes: items, tasks, spent links, mail owed."""
        items = [(i.state, i.version, i.content_hash, i.review_step) for i in self.rig.items()]
        with self.rig.sessions() as s:
            tasks = [(t.id, t.state, t.decided_at) for t in s.scalars(select(ReviewTask))]
            used = sorted(s.scalars(select(UsedLink.nonce)))
            mail = s.scalar(select(func.count()).select_from(OutgoingMail))
        return items, sorted(tasks), used, mail

    # -- links, as mailed ---------------------------------------------------------------
    def links(self, task: ReviewTask) -> dict[str, str]:
        """The newest mailed link of each action for ``task``, as a path for the client."""
        self.rig.runner.run_once()  # sends what the pipeline owes
        found: dict[str, str] = {}
        for mail in self.rig.sent():
            part = mail.get_body(("plain",))
            if part is None:
                continue
            for url in URL.findall(part.get_content()):
                claim = self.claim(url)
                if claim.item == task.id:
                    found[claim.action] = url.removeprefix(LINKS.public_url)
        assert found, f"no link mailed for task {task.id}"
        return found

    @staticmethod
    def claim(path: str) -> ActionClaim:
        return LINKS.signer.verify(path.rpartition("/")[2])

    def open(self, path: str, client: FlaskClient | None = None) -> tuple[TestResponse, str]:
        """GET a link page; the response and the CSRF value of its forms."""
        response = (client or self.client).get(path)
        found = re.search(r'name="csrf" value="([^"]+)"', response.text)
        return response, found.group(1) if found else ""

    def post(self, path: str, action: str, **fields: str) -> TestResponse:
        """Open the page, then send one of its forms, as a browser would."""
        page, csrf = self.open(path)
        assert page.status_code == 200, page.text
        version = re.search(r'name="version" value="([^"]*)"', page.text)
        assert version is not None
        data = {"csrf": csrf, "version": version.group(1), "action": action, **fields}
        return self.client.post(path, data=data)


def submit(rig: Rig, raw: bytes) -> None:
    rig.drop(raw)
    rig.runner.run_once()


@pytest.fixture
def web(tmp_path: Path, db_url: str) -> Web:
    rig = make_rig(tmp_path, db_url)
    submit(
        rig, article_mail(SENDER, DEMO_BOX, attachments=[("Kế hoạch.pdf", "application/pdf", PDF)])
    )
    app = make_app(rig.sessions, {rig.board.id: rig.board}, LINKS, rig.files)
    return Web(rig, app.test_client())


# -- opening a link ---------------------------------------------------------------------------
def test_opening_links_shows_the_item_and_changes_nothing(web: Web) -> None:
    [task] = web.pending()
    links = web.links(task)
    before = web.snapshot()

    page, csrf = web.open(links["view"])
    assert page.status_code == 200
    assert NEWS_TITLE in page.text and "hơn 1.200 học sinh lớp 12" in page.text
    assert web.rig.board.name in page.text
    assert web.rig.board.review.steps[task.step_index].name in page.text
    assert "Lê Thị Hồng Nhung" in page.text  # byline
    for label in ("Duyệt", "Duyệt có chỉnh sửa", "Trả lại người gửi để sửa", "Từ chối"):
        assert f">{label}<" in page.text
    assert csrf and 'name="target"' in page.text
    assert "nhận tin bài từ Lê Thị Hồng Nhung" in page.text  # history starts with receipt
    cookie = page.headers["Set-Cookie"]
    # Lax, not Strict: a second link opened from web mail must not replace the cookie
    # that an open tab's form is bound to (tests/test_web_chromium.py)
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie

    approve_page, _ = web.open(links["approve"])
    assert approve_page.status_code == 200 and NEWS_TITLE in approve_page.text
    assert approve_page.text.count("<form") == 1 and 'value="approve"' in approve_page.text
    head = web.client.head(links["approve"])
    assert head.status_code == 200

    assert web.snapshot() == before  # a scanner's GET or HEAD decides nothing
    viewed = web.events("viewed")
    assert len(viewed) == 2  # the two GETs, not the HEAD
    assert {e.actor for e in viewed} == {task.member_id}
    assert viewed[0].channel == "link" and viewed[0].detail["task"] == task.id
    assert {"ip", "user_agent"} <= set(viewed[0].detail)


@pytest.mark.parametrize(
    ("trusted_proxy", "recorded"), [("127.0.0.1", "203.0.113.7"), ("", "127.0.0.1")]
)
def test_the_reviewers_address_is_read_from_the_trusted_proxy_only(
    web: Web, trusted_proxy: str, recorded: str
) -> None:
    """Behind the board's reverse proxy the record shows the reviewer's address, not the
    proxy's; without a configured proxy a client's X-Forwarded-For is not believed."""
    [task] = web.pending()
    path = web.links(task)["view"]
    app = make_app(web.rig.sessions, {web.rig.board.id: web.rig.board}, LINKS, web.rig.files)
    server = WebServer(app, "127.0.0.1:0", trusted_proxy=trusted_proxy)
    server.start()
    try:
        page = requests.get(
            f"http://{server.host}:{server.port}{path}",
            headers={"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https"},
            timeout=30,
        )
    finally:
        server.stop()
    assert page.status_code == 200 and NEWS_TITLE in page.text
    [viewed] = web.events("viewed")
    assert viewed.detail["ip"] == recorded


def test_an_oversized_body_is_refused_before_it_is_sent(web: Web) -> None:
    """Waitress stored up to 1 GiB of a body before the app's own limit applied: now a
    Content-Length past ``MAX_REQUEST_BYTES`` is answered 413 before any of it arrives."""
    [task] = web.pending()
    path = web.links(task)["view"]
    with (
        WebServer(web.client.application, "127.0.0.1:0") as server,
        socket.create_connection((server.host, server.port), timeout=30) as client,
    ):
        client.sendall(
            f"POST {path} HTTP/1.1\r\nHost: {server.host}\r\n"
            "Content-Type: application/x-www-form-urlencoded\r\n"
            f"Content-Length: {MAX_REQUEST_BYTES + 1}\r\n\r\n".encode()
        )
        answer = client.recv(100)  # no body sent: without the limit, no answer
    assert answer.startswith(b"HTTP/1.1 413 ")


def test_slow_connections_leave_room_for_reviewers(web: Web) -> None:
    """A hundred clients sending a request slowly took every connection waitress allowed
    (by default 100, each held 120 s): a reviewer's page then waited for them."""
    with WebServer(web.client.application, "127.0.0.1:0") as server:
        slow = [socket.create_connection((server.host, server.port)) for _ in range(150)]
        try:
            for client in slow:
                client.sendall(b"GET /healthz HTTP/1.1\r\nHost: bientap\r\n")  # never ends
            url = f"http://{server.host}:{server.port}/healthz"
            assert requests.get(url, timeout=30).text == "ok"
        finally:
            for client in slow:
                client.close()
        # an idle connection is closed after 30 s, no longer 120 s (checked, not waited for)
        assert server._server.adj.channel_timeout == 30


def test_pages_carry_strict_security_headers(web: Web) -> None:
    [task] = web.pending()
    page, _ = web.open(web.links(task)["view"])
    assert page.headers["Content-Security-Policy"] == CSP
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert page.headers["Cache-Control"] == "no-store"
    assert page.headers["X-Robots-Tag"].startswith("noindex")
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page.text
    assert "<script" not in page.text
    health = web.client.get("/healthz")
    assert (health.status_code, health.text) == (200, "ok")
    missing = web.client.get("/khong-co")
    assert missing.status_code == 404 and "Không tìm thấy trang" in missing.text


def test_attachments_download_only_for_the_links_item(web: Web) -> None:
    [task] = web.pending()
    path = web.links(task)["view"]
    page, _ = web.open(path)
    assert "Kế hoạch.pdf" in page.text
    found = re.search(r'href="(/duyet/\d+/[^"/]+/tep/(\d+))"', page.text)
    assert found is not None
    download = web.client.get(found.group(1))
    assert download.status_code == 200 and download.data == PDF
    assert download.headers["Content-Disposition"].startswith("attachment")
    assert download.headers["X-Content-Type-Options"] == "nosniff"
    assert download.headers["Content-Type"] == "application/octet-stream"
    other = web.client.get(f"{path}/tep/{int(found.group(2)) + 1000}")
    assert other.status_code == 404


def test_attached_photos_are_shown_under_the_text_and_an_iphones_heic_as_a_jpeg(
    tmp_path: Path, db_url: str
) -> None:
    """A reviewer on a phone sees the photos he approves without downloading them; a
    HEIC photo, which Android's browser does not show, comes as the JPEG the portal gets."""
    rig = make_rig(tmp_path, db_url)
    jpeg = saved(picture(), "JPEG", exif=phone_exif())
    photos = [("anh-1.jpg", "image/jpeg", jpeg), ("IMG_0412.HEIC", "image/heic", HEIC.read_bytes())]
    submit(rig, article_mail(SENDER, DEMO_BOX, attachments=photos))
    web = Web(
        rig, make_app(rig.sessions, {rig.board.id: rig.board}, LINKS, rig.files).test_client()
    )
    [task] = web.pending()
    page, _ = web.open(web.links(task)["view"])
    shown = dict(re.findall(r'<img src="(/duyet/[^"]+/tep/\d+)" alt="([^"]+)"', page.text))
    assert sorted(shown.values()) == ["IMG_0412.HEIC", "anh-1.jpg"], page.text
    by_name = {name: web.client.get(url) for url, name in shown.items()}
    assert by_name["anh-1.jpg"].data == jpeg  # the reviewer gets the photo as mailed
    heic = by_name["IMG_0412.HEIC"]
    assert heic.headers["Content-Type"] == "image/jpeg" and "IMG_0412.jpg" in str(
        heic.headers["Content-Disposition"]
    )
    assert opened(heic.data).size == (96, 160)


# -- deciding -----------------------------------------------------------------------------
def test_approving_with_the_form_walks_the_path_until_approved(web: Web) -> None:
    steps_seen = []
    while web.item().state == State.PENDING_REVIEW:
        [task] = web.pending()
        steps_seen.append(task.step_index)
        path = web.links(task)["approve"]
        done = web.post(path, "approve")
        assert done.status_code == 200, done.text
        assert "Đã ghi nhận: Duyệt" in done.text
        assert web.count(UsedLink, UsedLink.nonce == web.claim(path).nonce) == 1
        [decided] = [t for t in web.tasks() if t.id == task.id]
        assert decided.state == TaskState.APPROVED and decided.channel == "link"
        assert len(steps_seen) <= len(web.rig.board.review.steps)
    assert steps_seen == sorted(set(steps_seen))  # each step once, in order
    assert web.item().state == State.APPROVED
    assert "Đã duyệt, chờ đăng" in done.text
    assert web.count(OutgoingMail, OutgoingMail.reason == "outcome-approved") == 1
    approved = web.events("approve")[0]
    assert approved.channel == "link" and approved.detail["token_digest"]
    assert approved.detail["ip"] == "127.0.0.1"


def test_a_post_without_the_pages_csrf_value_changes_nothing(web: Web) -> None:
    [task] = web.pending()
    path = web.links(task)["view"]
    before = web.snapshot()
    assert web.client.post(path, data={"action": "approve"}).status_code == 403
    _page, csrf = web.open(path)
    tampered = csrf[:-2] + ("BB" if csrf.endswith("AA") else "AA")  # never the value itself
    wrong = web.client.post(path, data={"action": "approve", "csrf": tampered})
    assert wrong.status_code == 403 and "chưa được ghi nhận" in wrong.text
    # a value from another browser's page does not fit this browser's cookie
    stranger = web.client.application.test_client()
    _page, foreign = web.open(path, stranger)
    assert web.client.post(path, data={"action": "approve", "csrf": foreign}).status_code == 403
    assert web.snapshot() == before
    codes = [e.detail["code"] for e in web.events("link-refused")]
    assert codes == ["csrf", "csrf", "csrf"]
    assert web.post(path, "approve").status_code == 200  # the link itself is still good


def test_a_used_link_is_refused_and_says_where_the_item_stands(web: Web) -> None:
    [task] = web.pending()
    links = web.links(task)
    assert web.post(links["view"], "approve").status_code == 200
    before = web.snapshot()
    again = web.client.get(links["view"])
    assert again.status_code == 410 and "đã được dùng" in again.text
    assert "<form" not in again.text and "Trạng thái hiện nay" in again.text
    # the approve link of the same mail: the task is closed now
    closed = web.client.get(links["approve"])
    assert closed.status_code == 409 and "đã được xử lý" in closed.text
    assert "<form" not in closed.text and "đã duyệt" in closed.text  # history
    assert web.snapshot() == before
    codes = [e.detail["code"] for e in web.events("link-refused")]
    assert codes == ["replayed", "closed"]


def test_an_expired_link_says_so_and_offers_nothing_else(web: Web) -> None:
    [task] = web.pending()
    item = web.item()
    token = LINKS.signer.issue(
        task.member_id,
        web.rig.board.id,
        task.id,
        task.step_index,
        "view",
        item.content_hash or "",
        ttl=timedelta(days=7),
        now=utcnow() - timedelta(days=8),
    )
    before = web.snapshot()
    page = web.client.get(f"/duyet/{task.id}/{token}")
    assert page.status_code == 410 and "hết hạn" in page.text
    assert "<form" not in page.text and NEWS_TITLE not in page.text
    assert (
        web.client.post(f"/duyet/{task.id}/{token}", data={"action": "approve"}).status_code == 410
    )
    assert web.snapshot() == before
    [refused, _] = web.events("link-refused")
    assert refused.detail["code"] == "expired" and refused.submission_id == item.id


def test_a_link_for_another_task_or_reviewer_is_refused(
    web: Web, caplog: pytest.LogCaptureFixture
) -> None:
    submit(web.rig, article_mail(SENDER, DEMO_BOX, "Bài thứ hai về tuyển sinh", NEWS_BODY))
    first, second = web.rig.items()
    [task_one], [task_two] = web.pending(first.id), web.pending(second.id)
    token_one = web.links(task_one)["view"].rpartition("/")[2]
    before = web.snapshot()
    moved = web.client.get(f"/duyet/{task_two.id}/{token_one}")
    assert moved.status_code == 404 and "không dùng được" in moved.text
    assert "Bài thứ hai" not in moved.text
    outsider = LINKS.signer.issue(
        "thu-ky",
        web.rig.board.id,
        task_one.id,
        task_one.step_index,
        "view",
        first.content_hash or "",
    )
    wrong = web.client.get(f"/duyet/{task_one.id}/{outsider}")
    assert wrong.status_code == 403 and "không phải người được giao" in wrong.text
    assert NEWS_TITLE not in wrong.text
    tail = "BBB" if token_one.endswith("AAA") else "AAA"  # never the token itself
    for _ in range(20):  # a token we never signed: anyone can send those
        forged = web.client.get(f"/duyet/{task_one.id}/{token_one[:-3]}{tail}")
        assert forged.status_code == 404 and "<form" not in forged.text
    assert web.snapshot() == before
    codes = [e.detail["code"] for e in web.events("link-refused")]
    assert codes == ["bad-token", "wrong-reviewer"]  # the forgeries are logged only
    assert "link refused" in caplog.text
    assert token_one not in caplog.text and outsider not in caplog.text  # never logged


def test_an_id_past_the_databases_range_is_no_page(web: Web) -> None:
    """2**63 is past any id (SQLite raised OverflowError looking it up: a 500)."""
    [task] = web.pending()
    path = web.links(task)["view"]
    token = path.rpartition("/")[2]
    before = web.snapshot()
    for too_big in (2**63, 10**30):
        assert web.client.get(f"/duyet/{too_big}/{token}").status_code == 404
        assert web.client.post(f"/duyet/{too_big}/{token}", data={}).status_code == 404
        assert web.client.get(f"{path}/tep/{too_big}").status_code == 404
    assert web.client.get(f"/duyet/{2**63 - 1}/{token}").status_code == 404  # looked up
    assert web.client.get(f"{path}/tep/{2**63 - 1}").status_code == 404
    assert web.snapshot() == before


def test_the_one_tap_link_accepts_only_approve(web: Web) -> None:
    [task] = web.pending()
    path = web.links(task)["approve"]
    before = web.snapshot()
    refused = web.post(path, "reject", reason="Không phù hợp")
    assert refused.status_code == 403
    assert web.snapshot() == before


def test_approve_with_edits_makes_a_new_sanitised_version(web: Web) -> None:
    [task] = web.pending()
    edited = "<p>Ngày hội thu hút 1.300 học sinh.</p><script>window.__xss = 1</script>"
    done = web.post(
        web.links(task)["view"],
        "edit",
        title="Ngày hội tuyển sinh 2026",
        body=edited,
        reason="số liệu",
    )
    assert done.status_code == 200 and "Duyệt có chỉnh sửa" in done.text
    item = web.item()
    assert item.version == 2 and item.title == "Ngày hội tuyển sinh 2026"
    assert "1.300 học sinh" in item.body_html and "<script" not in item.body_html
    assert "__xss" not in item.body_html
    assert web.count(SubmissionVersion, SubmissionVersion.submission_id == item.id) == 2
    [decided] = [t for t in web.tasks() if t.id == task.id]
    assert decided.state == TaskState.APPROVED and decided.decided_version == item.content_hash


def test_reject_needs_a_reason(web: Web) -> None:
    [task] = web.pending()
    path = web.links(task)["view"]
    before = web.snapshot()
    empty = web.post(path, "reject", reason="   ")
    assert empty.status_code == 400 and "Vui lòng ghi lý do từ chối" in empty.text
    assert 'name="csrf"' in empty.text and "<details open>" in empty.text  # form shown again
    assert web.snapshot() == before  # not decided, link not spent
    done = web.post(path, "reject", reason="Trùng nội dung đã đăng ngày 10/3")
    assert done.status_code == 200 and "Từ chối" in done.text
    item = web.item()
    assert item.state == State.REJECTED and "Trùng nội dung" in (item.reason or "")
    assert web.count(OutgoingMail, OutgoingMail.reason == "outcome-rejected") == 1


def test_control_characters_typed_in_the_form_are_dropped(web: Web) -> None:
    """A NUL pasted into a reason or an edited title: PostgreSQL refuses it in text (the
    decision was a 500). Control characters are dropped; tab and line breaks stay."""
    [task] = web.pending()
    done = web.post(
        web.links(task)["view"],
        "edit",
        title="Ngày hội\x00 tuyển sinh\x1b 2026",
        body="<p>Ngày hội thu hút\x00 1.300 học sinh.</p>",
        reason="số liệu\x00\x07\tmới\r\nđã kiểm tra",
    )
    assert done.status_code == 200, done.text
    item = web.item()
    assert item.title == "Ngày hội tuyển sinh 2026"
    assert "thu hút 1.300 học sinh" in item.body_html
    [decided] = [t for t in web.tasks() if t.id == task.id]
    assert decided.text == "số liệu\tmới\r\nđã kiểm tra"


def test_send_back_needs_what_to_fix(web: Web) -> None:
    [task] = web.pending()
    path = web.links(task)["view"]
    assert web.post(path, "changes").status_code == 400
    done = web.post(path, "changes", reason="Bổ sung ảnh và chức danh người phát biểu")
    assert done.status_code == 200
    assert web.item().state == State.RETURNED


def test_forward_gives_the_seat_to_the_chosen_member(web: Web) -> None:
    [task] = web.pending()
    path = web.links(task)["view"]
    page, _ = web.open(path)
    assert f'value="{task.member_id}"' not in page.text  # not to oneself
    assert web.post(path, "forward", target="").status_code == 400
    done = web.post(path, "forward", target="uv-y-te")
    assert done.status_code == 200 and "Chuyển thành viên khác" in done.text
    [new] = web.pending()
    assert new.member_id == "uv-y-te" and new.step_index == task.step_index
    assert "view" in web.links(new)  # the new reviewer got his own links


def test_a_seat_is_never_offered_to_someone_already_seated_at_the_step(web: Web) -> None:
    body = NEWS_BODY + "\nBài viết đề cập một điểm nóng về tuyển sinh.\n"
    submit(web.rig, article_mail(SENDER, DEMO_BOX, "Tuyển sinh: điểm nóng", body))
    item = web.item()
    first, second = web.pending(item.id)  # the head and the standing deputy: both must agree
    path = web.links(first)["view"]
    page, _ = web.open(path)
    assert f'value="{second.member_id}"' not in page.text
    assert web.post(path, "forward", target=second.member_id).status_code == 400
    assert {t.member_id for t in web.pending(item.id)} == {first.member_id, second.member_id}


def test_a_link_to_a_changed_item_shows_the_difference(web: Web) -> None:
    """Two reviewers at one step: one edits, the other's old link shows what changed and
    his approval, given on the page that shows it, counts."""
    body = NEWS_BODY + "\nBài viết đề cập một điểm nóng về tuyển sinh.\n"
    submit(web.rig, article_mail(SENDER, DEMO_BOX, "Tuyển sinh: điểm nóng", body))
    item = web.item()
    first, second = web.pending(item.id)
    old_path = web.links(second)["view"]
    edited = item.body_html.replace("1.200", "1.500")
    assert (
        web.post(web.links(first)["view"], "edit", title=item.title, body=edited).status_code == 200
    )

    page, _ = web.open(old_path)
    assert page.status_code == 200 and "Nội dung đã thay đổi" in page.text
    assert re.search(r"1\.<del[^>]*>200</del><ins[^>]*>500</ins>", page.text)
    done = web.post(old_path, "approve")
    assert done.status_code == 200 and "Đã ghi nhận" in done.text
    [decided] = [t for t in web.tasks(item.id) if t.id == second.id]
    assert decided.state == TaskState.APPROVED
    assert decided.decided_version == web.item(item.id).content_hash


def test_the_article_shows_its_inline_images_and_where_its_links_go(
    tmp_path: Path, db_url: str
) -> None:
    rig = make_rig(tmp_path, db_url)
    png = bytes.fromhex(
        "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
        "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
    )
    msg = EmailMessage()
    msg["From"] = f"Lê Thị Hồng Nhung <{SENDER}>"
    msg["To"] = DEMO_BOX
    msg["Subject"] = NEWS_TITLE
    msg["Message-ID"] = make_msgid(domain="sgddt.demo.bientap.vn")
    msg.set_content(NEWS_BODY)
    paragraphs = "".join(f"<p>{p}</p>" for p in NEWS_BODY.split("\n\n"))
    msg.add_alternative(
        f'<html><body>{paragraphs}<img src="cid:anh1@x" alt="ảnh">'
        '<p><a href="https://lua.example/d">Duyệt</a></p></body></html>',
        subtype="html",
    )
    html_part = msg.get_body(("html",))
    assert html_part is not None
    html_part.add_related(png, maintype="image", subtype="png", cid="<anh1@x>", filename="anh1.png")
    submit(rig, msg.as_bytes())
    web = Web(
        rig, make_app(rig.sessions, {rig.board.id: rig.board}, LINKS, rig.files).test_client()
    )
    [task] = web.pending()
    page, _ = web.open(web.links(task)["view"])
    found = re.search(r'<img[^>]*src="(/duyet/\d+/[^"]+/tep/\d+)"', page.text)
    assert found is not None, page.text
    images = re.findall(rf'<img[^>]*src="{re.escape(found.group(1))}"', page.text)
    assert len(images) == 1, "an image in the text is not shown again under it"
    image = web.client.get(found.group(1))
    assert image.status_code == 200 and image.data == png
    assert image.headers["Content-Type"] == "image/png"
    # a link dressed as the page's own «Duyệt» shows where it really goes
    assert "Duyệt</a> [lua.example]" in page.text


def test_a_member_taken_off_the_roster_can_no_longer_use_his_links(web: Web) -> None:
    """He left the board (his successor is in the file, the daemon restarted on it): the
    links in his mailbox are refused, the item is not decided in his name."""
    [task] = web.pending()
    links = web.links(task)
    assert web.claim(links["view"]).reviewer == "uv-giao-duc"
    data = web.rig.board.model_dump(exclude={"source_file"})
    data["members"] = [m for m in data["members"] if m["id"] != "uv-giao-duc"]
    successor = {"id": "uv-giao-duc-moi", "name": "Đỗ Thị Hạnh", "role": "thanh_vien"}
    data["members"].append(
        successor | {"email": "hanh.dt@sgddt.demo.bientap.vn", "fields": ["giao-duc"]}
    )
    board = Board.model_validate(data)
    client = make_app(web.rig.sessions, {board.id: board}, LINKS, web.rig.files).test_client()
    page = client.get(links["view"])
    assert page.status_code == 403 and "không phải người được giao duyệt" in page.text
    assert client.get(links["approve"]).status_code == 403
    assert [t.id for t in web.pending()] == [task.id]
