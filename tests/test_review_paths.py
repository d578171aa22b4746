"""Each seed board's real review path, walked on real servers: an agency's mail lands in
the board's Dovecot mailbox, the pipeline mails each reviewer through SMTP, and each
reviewer answers the mail he received, by reply (through SMTP, back into the board's
mailbox) or by the link in it, until the item is approved for publication."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests

from pipeline.config import Member
from pipeline.models import State
from pipeline.samples import NEWS_BODY, article_mail
from pipeline.web import WebServer, make_app
from tests.helpers import LINKS
from tests.review_loop import Loop, MakeLoop
from tests.services import free_port

REPORTER: dict[str, Any] = {
    "id": "phong-vien-thu",
    "name": "Nguyễn Thu Hà",
    "email": "ha.nt@lucnam.example.vn",
    "role": "phong_vien",
    "example": True,
}


def _add_reporter(data: dict[str, Any]) -> None:
    data["members"].append(REPORTER)


@dataclass(frozen=True)
class Scenario:
    sender: str
    subject: str
    body: str
    steps: list[str]
    adjust: Any = None


SENSITIVE = "\nVụ việc là điểm nóng, dư luận quan tâm, đang được các cơ quan xử lý.\n"

SCENARIOS: dict[str, Scenario] = {
    # Đ10.2–3: the Tổ Chuyên viên edits; Đ9.1: a hot matter gains the head and the
    # standing deputy; Đ10.3–4: the standing deputy approves.
    "dongnai": Scenario(
        "vanthu@snv.dongnai.gov.vn",
        "[NV] Sở Nội vụ tổ chức hội nghị tổng kết công tác cải cách hành chính",
        NEWS_BODY + SENSITIVE,
        ["to-chuyen-vien", "y-kien-diem-nong", "pho-truong-ban-thuong-truc"],
    ),
    # Đ10.1: the Trung tâm Tin học - Công báo checks and edits; Đ10.2a: the head gives the
    # final approval.
    "binhphuoc": Scenario(
        "vanthu@vpubnd.binhphuoc.gov.vn",
        "Văn phòng UBND tỉnh thông tin về lịch tiếp công dân tháng 4",
        NEWS_BODY,
        ["trung-tam-tin-hoc-cong-bao", "truong-ban"],
    ),
    # Bước 1: the centre's member edits and checks, then an item from outside the board in
    # a member's field goes to that member; Bước 2: the head.
    "khanhhoa": Scenario(
        "vanthu@vpubnd.khanhhoa.gov.vn",
        "[NV] Kết quả tuyển dụng công chức cấp xã năm 2026",
        NEWS_BODY,
        ["tiep-nhan-bien-tap", "kiem-duyet-chuyen-nganh", "truong-ban"],
    ),
    # Đ4.1f: the head's opinion on a sensitive matter; Đ2.1: the board decides by majority.
    "tuyenquang": Scenario(
        "vanthu@vpubnd.tuyenquang.gov.vn",
        "[CDDH] Ý kiến chỉ đạo về giải quyết đơn thư kéo dài",
        NEWS_BODY + SENSITIVE,
        ["y-kien-truong-ban", "tap-the"],
    ),
    # TB II.4: a reporter's item passes the centre's leadership; then the section's
    # owner; then the head decides (Đ10.1).
    "lucnam": Scenario(
        REPORTER["email"],
        "[TT] Lục Nam khai mạc Lễ hội Chùa Suối Mỡ năm 2026",
        NEWS_BODY,
        ["lanh-dao-trung-tam", "thanh-vien-phu-trach-muc", "truong-ban"],
        _add_reporter,
    ),
}


def _open(loop: Loop, item_id: int) -> list[Member]:
    return [loop.board.member(t.member_id) for t in loop.pending(item_id)]


def approve_by_reply(loop: Loop, member: Member, tracking_code: str) -> None:
    request = loop.requests(member, tracking_code)[-1]
    loop.reply(request, "Duyệt\n\nTrân trọng.", sender=member.email)


LINK_RE = re.compile(r"https?://[^\s<>\"]+/duyet/\d+/[A-Za-z0-9_.-]+")


def approve_by_link(loop: Loop, member: Member, tracking_code: str) -> None:
    """Tap the one-tap link of the newest request, then the page's button, in a browser."""
    request = loop.requests(member, tracking_code)[-1]
    text = request.get_body(("plain",))
    assert text is not None
    links = {
        LINKS.signer.verify(u.rpartition("/")[2]).action: u
        for u in LINK_RE.findall(text.get_content())
    }
    with requests.Session() as browser:
        page = browser.get(links["approve"], timeout=30)
        assert page.status_code == 200, page.text
        form = {
            name: re.search(rf'name="{name}" value="([^"]*)"', page.text).group(1)  # type: ignore[union-attr]
            for name in ("csrf", "version")
        }
        done = browser.post(links["approve"], data={**form, "action": "approve"}, timeout=30)
        assert done.status_code == 200, done.text


@pytest.fixture
def served_loop(make_loop: MakeLoop) -> Iterator[Callable[..., Loop]]:
    """A loop whose reviewers' links point at a real web server (waitress) serving it."""
    servers: list[WebServer] = []

    def make(board_id: str, **kwargs: Any) -> Loop:
        port = free_port()
        loop = make_loop(board_id, public_url=f"http://127.0.0.1:{port}", **kwargs)
        r = loop.runner
        app = make_app(r.sessions, {loop.board.id: loop.board}, r.links, r.files)
        server = WebServer(app, f"127.0.0.1:{port}")
        server.start()
        servers.append(server)
        return loop

    yield make
    for server in servers:
        server.stop()


WAYS = {"reply": approve_by_reply, "link": approve_by_link}


@pytest.mark.parametrize("way", list(WAYS))
@pytest.mark.parametrize("board_id", list(SCENARIOS))
def test_item_walks_the_boards_real_path(
    served_loop: Callable[..., Loop], board_id: str, way: str
) -> None:
    s = SCENARIOS[board_id]
    loop = served_loop(board_id, extra_addresses=(s.sender,), adjust=s.adjust)
    loop.submit(article_mail(s.sender, loop.board.mailboxes[0].address, s.subject, s.body))
    loop.run()
    item = loop.item()
    assert item.state == State.PENDING_REVIEW, item.reason
    for _round in range(10):
        reviewers = _open(loop, item.id)
        if not reviewers:
            break
        for member in reviewers:
            if way == "link" and member not in _open(loop, item.id):
                continue  # the step was decided by the others (a majority)
            WAYS[way](loop, member, item.tracking_code)
        loop.run()
    item = loop.item()
    assert item.state == State.APPROVED
    assert loop.routed_steps(item.id) == s.steps
    decided = [e for e in loop.events(item.id) if e.kind == "approve"]
    assert decided and all(e.channel == way for e in decided)
    evidence = "message_id" if way == "reply" else "user_agent"
    assert all(e.detail.get(evidence) for e in decided)
    outcome = [m for m in loop.inbox(s.sender) if "duyệt" in str(m["Subject"]).lower()]
    assert outcome, "the sender hears the item was approved"
