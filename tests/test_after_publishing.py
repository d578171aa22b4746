"""Once an item is live, the head can take it off the portal by reply, or correct it on
his link page: the portal is updated and the change is on the record."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlalchemy import select

from connectors.cms import Live
from connectors.factory import cms
from pipeline import publishing
from pipeline.config import Role, load_board
from pipeline.models import Event, Publication, PubState, State, Submission
from pipeline.publishing import Publisher
from pipeline.review import Desk
from pipeline.samples import article_mail
from pipeline.web import make_app
from tests.helpers import CONFIG, DEMO_BOX, LINKS, Rig, make_rig
from tests.test_publishing import approved_item, with_publish

URL = re.compile(re.escape(LINKS.public_url) + r"/duyet/\d+/[A-Za-z0-9_.-]+")


@pytest.fixture
def live(tmp_path: Path, db_url: str) -> tuple[Rig, Publisher]:
    board = with_publish(load_board(CONFIG / "demo.toml"), static={"path": str(tmp_path / "site")})
    rig = make_rig(tmp_path, db_url, board)
    approved_item(rig)
    outlet = Publisher(board, rig.sessions, cms(board.publish, tmp_path), rig.files, LINKS)
    assert outlet.run_once().verified == 1
    rig.runner.deliver()
    return rig, outlet


def notice(rig: Rig) -> EmailMessage:
    head = rig.board.members_with_role(Role.TRUONG_BAN)[0]
    [found] = [
        m for m in rig.sent() if head.email in str(m["To"]) and "[Đã đăng]" in str(m["Subject"])
    ]
    return found


def page_of(rig: Rig, tmp_path: Path) -> Path:
    with rig.sessions() as s:
        pub = s.scalars(select(Publication)).one()
    return tmp_path / "site" / "posts" / str(pub.remote_id) / "index.html"


def kinds(rig: Rig) -> list[str]:
    with rig.sessions() as s:
        return list(s.scalars(select(Event.kind).order_by(Event.id)))


def withdraw_by_reply(rig: Rig) -> None:
    """The head replies GỠ BÀI to the notice that the item is live."""
    told = notice(rig)
    head = rig.board.members_with_role(Role.TRUONG_BAN)[0]
    rig.drop(
        article_mail(
            head.email,
            str(told["Reply-To"]),
            "Re: " + str(told["Subject"]),
            "GỠ BÀI: Số liệu tuyển sinh chưa được Sở xác nhận",
            sender_name=head.name,
            extra_headers={"In-Reply-To": str(told["Message-ID"])},
        )
    )
    rig.runner.run_once()


def test_the_head_withdraws_a_live_item_by_reply(
    live: tuple[Rig, Publisher], tmp_path: Path
) -> None:
    rig, outlet = live
    page = page_of(rig, tmp_path)
    assert page.exists()
    withdraw_by_reply(rig)
    head = rig.board.members_with_role(Role.TRUONG_BAN)[0]
    item = rig.items()[0]
    assert item.state == State.WITHDRAWN and "chưa được Sở xác nhận" in (item.reason or "")
    assert outlet.run_once().withdrawn == 1
    assert not page.exists()
    with rig.sessions() as s:
        assert s.scalars(select(Publication.state)).one() == PubState.WITHDRAWN
        [ev] = s.scalars(select(Event).where(Event.kind == "withdraw")).all()
    assert (ev.actor, ev.channel) == (head.id, "reply")
    assert "withdrawn" in kinds(rig)


def test_a_reader_of_a_withdrawn_post_is_told_it_is_gone(
    live: tuple[Rig, Publisher], tmp_path: Path
) -> None:
    """The post's address, shared before the withdrawal, leads to a page that says the
    item is no longer on the portal and links to the list; not to the reviewers' «open the
    link in the notice mail again»). The list no longer names it."""
    rig, outlet = live
    address = "/cong/" + str(page_of(rig, tmp_path).parent.relative_to(tmp_path / "site")) + "/"
    site = make_app(
        rig.sessions, {rig.board.id: rig.board}, LINKS, rig.files, site_dir=tmp_path / "site"
    ).test_client()
    title = rig.items()[0].title
    assert site.get(address).status_code == 200 and title in site.get("/cong/").text
    withdraw_by_reply(rig)
    assert outlet.run_once().withdrawn == 1

    gone = site.get(address)
    assert gone.status_code == 404
    assert "Không tìm thấy tin, bài này trên cổng" in gone.text and "thư thông báo" not in gone.text
    assert '<a href="/cong/">Xem các tin, bài đã đăng</a>' in gone.text
    listed = site.get("/cong/")
    assert listed.status_code == 200 and title not in listed.text and "posts/" not in listed.text
    assert site.get("/duyet/1/khong-phai-ma").text.count("thư thông báo") == 1  # reviewers'


def test_the_head_corrects_a_live_item_on_his_link_page(
    live: tuple[Rig, Publisher], tmp_path: Path
) -> None:
    rig, outlet = live
    [link] = URL.findall(notice(rig).get_body(("plain",)).get_content())  # type: ignore[union-attr]
    client = make_app(rig.sessions, {rig.board.id: rig.board}, LINKS, rig.files).test_client()
    path = link.removeprefix(LINKS.public_url)
    page = client.get(path)
    assert page.status_code == 200 and "Gỡ bài" in page.text and "Từ chối" not in page.text
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    version = re.search(r'name="version" value="([^"]*)"', page.text).group(1)  # type: ignore[union-attr]
    item = rig.items()[0]
    corrected = item.body_html.replace("1.200", "1.250")
    done = client.post(
        path,
        data={
            "csrf": csrf,
            "version": version,
            "action": "edit",
            "title": item.title,
            "body": corrected,
            "reason": "Đính chính số học sinh",
        },
    )
    assert done.status_code == 200 and "Đính chính" in done.text
    result = outlet.run_once()
    assert (result.published, result.verified) == (1, 1)
    assert "1.250" in page_of(rig, tmp_path).read_text(encoding="utf-8")
    assert rig.items()[0].state == State.PUBLISHED
    assert {"corrected", "new-version"} <= set(kinds(rig))


def correction_queued(rig: Rig) -> None:
    """What a correction of the live item does to its publication (after its new version)."""
    with rig.sessions.begin() as s:
        item = s.scalars(select(Submission)).one()
        publishing.republish(Desk(rig.board, s, LINKS, rig.files), item)


def while_read_back(
    outlet: Publisher, act: Callable[[], None], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``act`` runs once, while the publisher reads the post back (nothing on record yet)."""
    real_read, acted = outlet.cms.read, False

    def read(remote_id: str) -> Live | None:
        nonlocal acted
        got = real_read(remote_id)
        if not acted:
            acted = True
            act()
        return got

    monkeypatch.setattr(outlet.cms, "read", read)


def a_day_later(outlet: Publisher) -> None:
    now = outlet.clock() + timedelta(hours=25)
    outlet.clock = lambda: now


@pytest.mark.parametrize("during", ["re-verification", "correction"])
def test_a_withdrawal_while_the_post_is_read_back_stands(
    live: tuple[Rig, Publisher], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, during: str
) -> None:
    """The head withdraws while the daily re-verification, or the update that carries a
    correction, reads the post back: the post comes off and the sender is not told again
    that it is live."""
    rig, outlet = live
    page = page_of(rig, tmp_path)
    while_read_back(outlet, lambda: withdraw_by_reply(rig), monkeypatch)
    if during == "correction":
        correction_queued(rig)
        assert outlet.run_once().published == 1
    else:
        a_day_later(outlet)
        outlet.recheck()
    assert rig.items()[0].state == State.WITHDRAWN
    assert publication_state(rig) == PubState.WITHDRAWING
    assert outlet.run_once().withdrawn == 1 and not page.exists()
    assert kinds(rig).count("verified") == 1


def test_a_correction_while_the_post_is_read_back_again_is_sent(
    live: tuple[Rig, Publisher], monkeypatch: pytest.MonkeyPatch
) -> None:
    rig, outlet = live
    while_read_back(outlet, lambda: correction_queued(rig), monkeypatch)
    a_day_later(outlet)
    outlet.recheck()
    assert publication_state(rig) == PubState.QUEUED
    assert outlet.run_once().published == 1 and publication_state(rig) == PubState.VERIFIED


def publication_state(rig: Rig) -> str:
    with rig.sessions() as s:
        return s.scalars(select(Publication.state)).one()


def test_withdraw_is_refused_for_an_item_still_in_review(tmp_path: Path, db_url: str) -> None:
    rig = make_rig(tmp_path, db_url)
    rig.drop(article_mail("nhung.ltt@sgddt.demo.bientap.vn", DEMO_BOX))
    rig.runner.run_once()
    request = next(m for m in rig.sent() if m["Reply-To"] is not None)
    reviewer = str(request["To"].addresses[0].addr_spec)
    rig.drop(
        article_mail(
            reviewer,
            str(request["Reply-To"]),
            "Re: " + str(request["Subject"]),
            "Gỡ bài: không phù hợp",
            extra_headers={"In-Reply-To": str(request["Message-ID"])},
        )
    )
    rig.runner.run_once()
    assert rig.items()[0].state == State.PENDING_REVIEW
    with rig.sessions() as s:
        refused = s.scalars(select(Event).where(Event.kind == "reply-refused")).one()
    assert refused.detail["code"] == "not-live"


# -- verification by a person (Khánh Hòa Bước 4) ------------------------------------------
def test_the_secretary_verifies_by_hand_side_by_side(tmp_path: Path, db_url: str) -> None:
    board = with_publish(
        load_board(CONFIG / "demo.toml"), static={"path": str(tmp_path / "site")}, verify="human"
    )
    rig = make_rig(tmp_path, db_url, board)
    approved_item(rig)
    outlet = Publisher(board, rig.sessions, cms(board.publish, tmp_path), rig.files, LINKS)
    result = outlet.run_once()
    assert (result.published, result.checking, result.verified) == (1, 1, 0)
    assert rig.items()[0].state == State.APPROVED, "not published until the secretary says so"
    # the live page was edited by hand before she looks
    page = page_of(rig, tmp_path)
    page.write_text(page.read_text(encoding="utf-8").replace("1.200", "12.000"), encoding="utf-8")
    rig.runner.deliver()
    secretary = board.members_with_role(Role.THU_KY)[0]
    [request] = [m for m in rig.sent() if secretary.email in str(m["To"])]
    # she is asked to check the live post, with the two answers this step takes: it read
    # «[Duyệt tin bài]», offered TỪ CHỐI and CHUYỂN (refused here), and said SỬA went
    # back to the sender, where it updates the portal again
    assert str(request["Subject"]).startswith("[Kiểm tra bài đã đăng] ")
    said = request.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "SỬA: <nội dung cần cập nhật>\n      yêu cầu cập nhật lại bài trên cổng" in said
    assert "TỪ CHỐI" not in said and "CHUYỂN" not in said and "trả lại người gửi" not in said
    links = {
        LINKS.signer.verify(u.rpartition("/")[2]).action: u
        for u in URL.findall(request.get_body(("plain",)).get_content())  # type: ignore[union-attr]
    }
    client = make_app(rig.sessions, {board.id: board}, LINKS, rig.files).test_client()
    path = links["view"].removeprefix(LINKS.public_url)
    shown = client.get(path)
    assert shown.status_code == 200 and 'id="live"' in shown.text
    assert "hơn 1.200 học sinh" in shown.text, "the approved version"
    csrf = re.search(r'name="csrf" value="([^"]+)"', shown.text).group(1)  # type: ignore[union-attr]
    version = re.search(r'name="version" value="([^"]*)"', shown.text).group(1)  # type: ignore[union-attr]
    asked = client.post(
        path,
        data={
            "csrf": csrf,
            "version": version,
            "action": "changes",
            "reason": "Số học sinh trên cổng sai",
        },
    )
    assert asked.status_code == 200
    result = outlet.run_once()  # updated again, and handed to her again
    assert (result.published, result.checking) == (1, 1)
    assert "12.000" not in page.read_text(encoding="utf-8")
    rig.runner.deliver()
    approves = [
        u
        for m in rig.sent()
        if secretary.email in str(m["To"])
        for u in URL.findall(m.get_body(("plain",)).get_content())  # type: ignore[union-attr]
        if LINKS.signer.verify(u.rpartition("/")[2]).action == "approve"
    ]  # the newest request is the one for the newest seat (mail order is not kept)
    approve = max(approves, key=lambda u: LINKS.signer.verify(u.rpartition("/")[2]).item)
    approve = approve.removeprefix(LINKS.public_url)
    shown = client.get(approve)
    assert "Đúng — xác nhận bài đã đăng" in shown.text
    csrf = re.search(r'name="csrf" value="([^"]+)"', shown.text).group(1)  # type: ignore[union-attr]
    version = re.search(r'name="version" value="([^"]*)"', shown.text).group(1)  # type: ignore[union-attr]
    assert (
        client.post(
            approve, data={"csrf": csrf, "version": version, "action": "approve"}
        ).status_code
        == 200
    )
    assert rig.items()[0].state == State.PUBLISHED
    with rig.sessions() as s:
        assert s.scalars(select(Publication.state)).one() == PubState.VERIFIED
    assert {"check-requested", "reupdate-requested", "checked-live"} <= set(kinds(rig))
