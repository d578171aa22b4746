"""Approved items reach the CMS exactly once and are checked once live: on the static
site (the embedded default) and on a portal's own JSON API that fails on purpose."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from bs4 import BeautifulSoup
from sqlalchemy import select

from connectors.factory import cms
from pipeline import cli, publishing, review
from pipeline.claims import Crew
from pipeline.cli_common import VIETNAM
from pipeline.commands import Verb
from pipeline.config import Board, Publish, Role, load_board
from pipeline.models import Event, Publication, PubState, ReviewTask, State, Submission, TaskState
from pipeline.publishing import Publisher, PublishResult, article
from pipeline.review import Decision, Desk, Evidence
from pipeline.samples import NEWS_BODY, article_mail
from tests.helpers import CONFIG, DEMO_BOX, Rig, make_rig
from tests.portal import TOKEN, Portal
from tests.test_imagemeta import (
    HEIC,
    SECRETS,
    assert_nothing_but_the_picture,
    opened,
    phone_exif,
    picture,
    saved,
)

SENDER = "nhung.ltt@sgddt.demo.bientap.vn"
PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"
    b"\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00"
    b"\x00\x00IEND\xaeB`\x82"
)


def approved_item(rig: Rig, attachments: list[tuple[str, str, bytes]] | None = None) -> Submission:
    """A submission walked through the demo board's path by its reviewers."""
    rig.drop(article_mail(SENDER, DEMO_BOX, attachments=attachments))
    rig.runner.run_once()
    return approve(rig, rig.items()[-1])


def approve(rig: Rig, item: Submission) -> Submission:
    """Every reviewer on the item's path approves it, one step after another."""
    for _ in range(5):
        with rig.sessions.begin() as s:
            open_tasks = s.scalars(
                select(ReviewTask).where(
                    ReviewTask.submission_id == item.id, ReviewTask.state == TaskState.PENDING
                )
            ).all()
            if not open_tasks:
                break
            d = Desk(rig.board, s, rig.runner.links, rig.files)
            current = s.get(Submission, item.id)
            assert current is not None
            review.act(
                d,
                open_tasks[0].id,
                open_tasks[0].member_id,
                Decision(Verb.APPROVE),
                current.content_hash or "",
                Evidence("cli"),
            )
    item = next(i for i in rig.items() if i.id == item.id)
    assert item.state == State.APPROVED
    return item


def with_publish(board: Board, **settings: Any) -> Board:
    data = board.model_dump(exclude={"source_file"})
    data["publish"] = settings
    return Board.model_validate(data)


def publication(rig: Rig) -> Publication:
    with rig.sessions() as s:
        return s.scalars(select(Publication)).one()


def kinds(rig: Rig) -> list[str]:
    with rig.sessions() as s:
        return list(s.scalars(select(Event.kind).order_by(Event.id)))


# -- the static site, the embedded default ----------------------------------------------------
@pytest.fixture
def site_rig(tmp_path: Path, db_url: str) -> Rig:
    board = with_publish(
        load_board(CONFIG / "demo.toml"),
        static={"path": str(tmp_path / "site"), "base_url": "http://127.0.0.1:8480/"},
        sections={"giao-duc": "Giáo dục"},
        attribution="Theo Cổng TTĐT (bản chạy thử)",
    )
    return make_rig(tmp_path, db_url, board)


def publisher(rig: Rig, tmp_path: Path, **kw: Any) -> Publisher:
    return Publisher(
        rig.board, rig.sessions, cms(rig.board.publish, tmp_path), rig.files, rig.runner.links, **kw
    )


def test_an_approved_item_is_published_verified_and_the_sender_gets_the_link(
    site_rig: Rig, tmp_path: Path
) -> None:
    rig = site_rig
    item = approved_item(rig, [("anh-le-khai-giang.png", "image/png", PNG)])
    result = publisher(rig, tmp_path).run_once()
    assert (result.published, result.verified) == (1, 1)
    pub = publication(rig)
    assert pub.state == PubState.VERIFIED and pub.url
    page = (tmp_path / "site" / "posts" / str(pub.remote_id) / "index.html").read_text(
        encoding="utf-8"
    )
    assert item.title in page and "Theo Cổng TTĐT (bản chạy thử)" in page
    assert "Lê Thị Hồng Nhung" in page and "anh-le-khai-giang.png" in page
    assert next(i for i in rig.items() if i.id == item.id).state == State.PUBLISHED
    rig.runner.deliver()
    told = [m for m in rig.sent() if SENDER in str(m["To"]) and "đã được đăng" in str(m["Subject"])]
    assert told and pub.url in told[-1].get_body(("plain",)).get_content()  # type: ignore[union-attr]
    # greeted, told where it went live (it read «đã được đăng trên Ban Biên tập …»), and
    # signed once (the HTML part named the board twice and said nothing of being automatic)
    plain, html = (told[-1].get_body((kind,)) for kind in ("plain", "html"))
    assert plain is not None and html is not None
    text, shown = plain.get_content(), BeautifulSoup(html.get_content(), "html.parser").get_text()
    assert text.startswith("Kính gửi Lê Thị Hồng Nhung,\n")
    assert "trên Cổng thông tin điện tử" in text and "đăng trên Ban Biên tập" not in text
    assert shown.count(rig.board.mail_out.from_name) == 1 and "gửi tự động" in shown
    assert publisher(rig, tmp_path).run_once() == PublishResult(), "nothing twice"


def test_a_phone_photo_goes_live_without_where_it_was_taken(site_rig: Rig, tmp_path: Path) -> None:
    """The store keeps the photo as mailed; the portal gets it without GPS or owner."""
    rig = site_rig
    mailed = saved(picture(), "JPEG", exif=phone_exif())
    approved_item(rig, [("anh-hien-truong.jpg", "image/jpeg", mailed)])
    assert publisher(rig, tmp_path).run_once().verified == 1
    folder = tmp_path / "site" / "posts" / str(publication(rig).remote_id)
    live = (folder / "anh-hien-truong.jpg").read_bytes()
    assert_nothing_but_the_picture(mailed, live, turn=6)
    [stored] = rig.items()[-1].files
    assert rig.files.get(stored.sha256 or "") == mailed


def test_an_iphone_heic_photo_goes_live_as_a_jpeg_a_browser_shows(
    site_rig: Rig, tmp_path: Path
) -> None:
    """No browser but Safari shows HEIC: the portal gets IMG_0412.jpg, upright, with
    neither the camera's place nor its owner, and the page shows that file."""
    rig = site_rig
    approved_item(rig, [("IMG_0412.HEIC", "image/heic", HEIC.read_bytes())])
    assert publisher(rig, tmp_path).run_once().verified == 1, publication(rig).last_error
    folder = tmp_path / "site" / "posts" / str(publication(rig).remote_id)
    assert sorted(p.name for p in folder.iterdir()) == ["IMG_0412.jpg", "index.html"]
    live = (folder / "IMG_0412.jpg").read_bytes()
    shown = opened(live)
    assert (shown.format, shown.size) == ("JPEG", (96, 160))  # turned as the phone held it
    assert all(secret not in live for secret in SECRETS)
    assert "IMG_0412.jpg" in (folder / "index.html").read_text(encoding="utf-8")


def test_a_heic_photo_that_cannot_be_read_is_a_dead_letter_naming_it(
    site_rig: Rig, tmp_path: Path
) -> None:
    rig = site_rig
    approved_item(rig, [("IMG_0413.heic", "image/heic", HEIC.read_bytes()[:600])])
    assert publisher(rig, tmp_path).run_once().dead == 1
    pub = publication(rig)
    assert pub.state == PubState.DEAD
    assert "ảnh HEIC không đọc được" in (pub.last_error or "")
    assert "IMG_0413.heic" in (pub.last_error or "")


def test_a_reader_reads_the_opening_and_the_byline_once(site_rig: Rig, tmp_path: Path) -> None:
    """The summary is the body's opening: the page showed it again above the body, in bold
    and cut inside a word («Học sin»); the author, named by the sender's own «Tin, ảnh:»
    line, was credited twice more below it."""
    rig = site_rig
    item = approved_item(rig)
    assert publisher(rig, tmp_path).run_once().verified == 1
    page = tmp_path / "site" / "posts" / str(publication(rig).remote_id) / "index.html"
    article = BeautifulSoup(page.read_text(encoding="utf-8"), "html.parser").article
    assert article is not None
    shown = " ".join(article.get_text(" ").split())
    assert shown.count("Sáng ngày 15/3, Trường THPT Ngô Quyền phối hợp") == 1
    assert shown.count("Lê Thị Hồng Nhung") == 1 and "Tin, ảnh: Lê Thị Hồng Nhung" in shown
    with rig.sessions() as s:
        current = s.get(Submission, item.id)
        assert current is not None
        summary = article_of(rig, current).summary
    assert len(summary) <= 301 and summary.endswith("…")
    assert summary.removesuffix("…").split()[-1] in NEWS_BODY.split()  # a whole word


def test_a_byline_the_body_lacks_is_credited(site_rig: Rig) -> None:
    """An author known elsewhere than the body (a reviewer's edit took the line out) is
    still credited under the body, once."""
    rig = site_rig
    item = approved_item(rig)
    with rig.sessions() as s:
        current = s.get(Submission, item.id)
        assert current is not None
        current.body_text = current.body_text.split("Tin, ảnh:")[0]
        current.body_html = current.body_html.split("<p>Tin, ảnh:")[0]
        body = article_of(rig, current).body_html
    assert body.count("Lê Thị Hồng Nhung") == 1 and "<strong>Lê Thị Hồng Nhung" in body


def article_of(rig: Rig, item: Submission) -> Any:
    return article(rig.board, item, "bientap-demo-1-000000000000", None)


def test_an_article_sent_again_after_it_went_live_is_flagged_as_published(
    site_rig: Rig, tmp_path: Path
) -> None:
    """Lục Nam II.4 wants no duplicates: the reviewer of an article mailed again after
    it went live is told it was published, and which item it was (it was compared with
    queued items only, and the royalty statement paid it twice)."""
    rig = site_rig
    first = approved_item(rig)
    assert publisher(rig, tmp_path).run_once().verified == 1
    rig.drop(article_mail(SENDER, DEMO_BOX, message_id="<gui-lai@sgddt.demo.bientap.vn>"))
    rig.runner.run_once()
    again = rig.items()[-1]
    [flag] = [f for f in again.flags if f["code"] == "near-duplicate"]
    assert again.duplicate_of == first.id and flag["detail"]["state"] == "published"
    assert f"Gần trùng với bài đã nhận {first.tracking_code}" in flag["message"]
    assert "đã đăng" in flag["message"]


def test_a_stopping_daemon_starts_no_publication_and_the_next_start_publishes(
    site_rig: Rig, tmp_path: Path
) -> None:
    rig = site_rig
    approved_item(rig)
    stopping = Crew()
    stopping.leaving.set()  # SIGTERM came: systemd kills the daemon if it lingers
    assert publisher(rig, tmp_path, crew=stopping).run_once() == PublishResult()
    assert publication(rig).state == PubState.QUEUED
    assert publisher(rig, tmp_path).run_once().published == 1  # the next daemon


def test_an_attachment_a_browser_would_run_is_published_inert_and_still_verified(
    site_rig: Rig, tmp_path: Path
) -> None:
    """Served by any web server (types from /etc/mime.types), ".xhtm" is XHTML and its
    script runs on the portal's origin: the file is written as ".xhtm.txt", and the
    read-back does not take the portal's safe name for a changed file."""
    rig = site_rig
    xhtml = b'<html xmlns="http://www.w3.org/1999/xhtml"><script>alert(1)</script></html>'
    approved_item(rig, [("lich-cong-tac.xhtm", "application/xhtml+xml", xhtml)])
    assert publisher(rig, tmp_path).run_once().verified == 1
    folder = tmp_path / "site" / "posts" / str(publication(rig).remote_id)
    assert (folder / "lich-cong-tac.xhtm.txt").read_bytes() == xhtml
    assert not (folder / "lich-cong-tac.xhtm").exists()
    assert rig.items()[-1].state == State.PUBLISHED


def test_files_of_no_known_type_and_a_long_lao_name_are_published_and_verified(
    site_rig: Rig, tmp_path: Path
) -> None:
    """The portal holds "thong-bao.bin" for "thong-bao" (a server would let the browser
    guess its type) and cuts a name past Linux's 255 bytes (98 Lao letters, 3 bytes
    each): the read-back takes neither for a changed file, and nothing is retried."""
    rig = site_rig
    lao = "ຂໍ້ຕົກລົງກ່ຽວກັບການຮ່ວມມືດ້ານການສຶກສາລະຫວ່າງແຂວງຫົວພັນແລະແຂວງແທງຮວາປີ2025"
    lao += "ແລະແຜນການຮ່ວມມືປີ2026.pdf"
    assert len(lao.encode("utf-8")) > 255
    files = [
        ("thong-bao", "application/octet-stream", b"<script>alert(1)</script>"),
        ("ke-hoach.2026", "application/octet-stream", b"x"),
        (lao, "application/pdf", b"%PDF"),
    ]
    approved_item(rig, files)
    result = publisher(rig, tmp_path).run_once()
    assert (result.published, result.verified) == (1, 1), publication(rig).last_error
    folder = tmp_path / "site" / "posts" / str(publication(rig).remote_id)
    [pdf] = folder.glob("*.pdf")
    assert lao.startswith(pdf.stem) and pdf.read_bytes() == b"%PDF"
    written = sorted(p.name for p in folder.iterdir())
    assert written == sorted(["index.html", "ke-hoach.2026.bin", "thong-bao.bin", pdf.name])
    assert rig.items()[-1].state == State.PUBLISHED


def test_an_attachment_gone_from_the_store_makes_a_dead_letter_the_operators_see(
    site_rig: Rig, tmp_path: Path
) -> None:
    """A file lost from the store (a disk replaced, a hand that cleaned up): no attempt
    can send the item. It was tried again at every pass, five seconds apart, for ever,
    seen only in the log; it is now a dead letter naming the file, mailed to operators."""
    rig = site_rig
    item = approved_item(rig, [("anh-le-khai-giang.png", "image/png", PNG)])
    [stored] = [f for f in item.files if f.sha256]
    assert stored.sha256 is not None
    lost = rig.files.path(stored.sha256)
    lost.unlink()
    result = publisher(rig, tmp_path).run_once()
    assert (result.published, result.dead) == (0, 1)
    pub = publication(rig)
    assert pub.state == PubState.DEAD and str(lost) in (pub.last_error or "")
    assert "không còn trong kho tệp" in (pub.last_error or "")
    assert "publish-dead" in kinds(rig)
    rig.runner.deliver()
    [told] = [m for m in rig.sent() if "Không đăng được" in str(m["Subject"])]
    plain = told.get_body(("plain",))
    assert plain is not None
    text = plain.get_content()
    assert "Kính gửi ông/bà Vũ Thị Giang," in text and str(lost) in text
    assert "lần thử" not in text  # it read «không đăng được lên cổng sau 0 lần thử»


def test_a_post_changed_by_hand_is_caught_and_put_back(site_rig: Rig, tmp_path: Path) -> None:
    rig = site_rig
    approved_item(rig)
    clock = [review.utcnow()]
    outlet = publisher(rig, tmp_path, clock=lambda: clock[0])
    outlet.run_once()
    pub = publication(rig)
    page = tmp_path / "site" / "posts" / str(pub.remote_id) / "index.html"
    page.write_text(page.read_text(encoding="utf-8").replace("1.200", "12.000"), encoding="utf-8")
    clock[0] += timedelta(hours=25)
    outlet.recheck()
    assert "reupdated" in kinds(rig)
    assert "1.200" in page.read_text(encoding="utf-8") and "12.000" not in page.read_text(
        encoding="utf-8"
    )
    assert publication(rig).state == PubState.VERIFIED


def test_a_file_gone_from_the_store_after_publishing_fails_no_verification(
    site_rig: Rig, tmp_path: Path
) -> None:
    """Verification compares the files' names, so it needs no bytes: a photo lost from
    the store made every re-verification, and then every publishing pass, fail with a
    traceback. Only putting a changed post right needs them: a person does it then."""
    rig = site_rig
    item = approved_item(rig, [("anh-le-khai-giang.png", "image/png", PNG)])
    clock = [review.utcnow()]
    outlet = publisher(rig, tmp_path, clock=lambda: clock[0])
    assert outlet.run_once().verified == 1
    [stored] = [f for f in item.files if f.sha256]
    assert stored.sha256 is not None
    rig.files.path(stored.sha256).unlink()
    clock[0] += timedelta(hours=25)
    assert outlet.recheck().verified == 1
    page = tmp_path / "site" / "posts" / str(publication(rig).remote_id) / "index.html"
    page.write_text(page.read_text(encoding="utf-8").replace("1.200", "12.000"), encoding="utf-8")
    clock[0] += timedelta(hours=25)
    assert outlet.recheck().mismatched == 1
    pub = publication(rig)
    assert pub.state == PubState.MISMATCH and "12.000" in page.read_text(encoding="utf-8")
    assert "không còn trong kho tệp" in (pub.difference or "")
    assert "verify-mismatch" in kinds(rig) and "reupdated" not in kinds(rig)
    assert outlet.run_once() == PublishResult()  # a person's now: no pass tries it


def test_a_post_moved_to_another_section_by_hand_is_caught_and_put_back(
    site_rig: Rig, tmp_path: Path
) -> None:
    rig = site_rig
    approved_item(rig)
    clock = [review.utcnow()]
    outlet = publisher(rig, tmp_path, clock=lambda: clock[0])
    assert outlet.run_once().verified == 1
    page = tmp_path / "site" / "posts" / str(publication(rig).remote_id) / "index.html"
    html = page.read_text(encoding="utf-8")
    moved = [
        ('<meta name="bientap:section" content="Giáo dục">', "Thời sự"),
        ('<span class="chuyen-muc">Giáo dục</span>', "Thời sự"),
    ]
    for shown, elsewhere in moved:
        assert shown in html
        html = html.replace(shown, shown.replace("Giáo dục", elsewhere))
    page.write_text(html, encoding="utf-8")
    clock[0] += timedelta(hours=25)
    outlet.recheck()
    with rig.sessions() as s:
        caught = s.scalars(select(Event).where(Event.kind == "reupdated")).one()
    assert caught.detail["differences"] == ["Chuyên mục: duyệt «Giáo dục», trên cổng «Thời sự»"]
    assert 'content="Thời sự"' not in page.read_text(encoding="utf-8")
    assert publication(rig).state == PubState.VERIFIED


# -- a portal's own API that misbehaves -------------------------------------------------------
@pytest.fixture
def portal() -> Iterator[Portal]:
    p = Portal()
    p.start()
    yield p
    p.stop()


@pytest.fixture
def api_rig(tmp_path: Path, db_url: str, portal: Portal, monkeypatch: pytest.MonkeyPatch) -> Rig:
    monkeypatch.setenv("TEST_PORTAL_TOKEN", TOKEN)
    demo = load_board(CONFIG / "demo.toml")
    board = with_publish(
        demo,
        connector="rest",
        rest=portal.rest_settings(),
        max_attempts=4,
        retry_seconds=1,
        breaker_failures=3,
        breaker_seconds=60,
    )
    return make_rig(tmp_path, db_url, board)


class Clock:
    def __init__(self) -> None:
        self.now = review.utcnow()

    def __call__(self) -> Any:
        return self.now

    def later(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def drain(outlet: Publisher, clock: Clock, passes: int = 12) -> None:
    for _ in range(passes):
        outlet.run_once()
        clock.later(120)


def test_server_errors_are_retried_and_the_item_posted_once(
    api_rig: Rig, portal: Portal, tmp_path: Path
) -> None:
    approved_item(api_rig)
    portal.faults.errors = 2
    clock = Clock()
    outlet = publisher(api_rig, tmp_path, clock=clock, jitter=lambda: 0.5)
    drain(outlet, clock)
    assert len(portal.posts) == 1 and publication(api_rig).state == PubState.VERIFIED
    assert kinds(api_rig).count("publish-retry") == 2


def test_a_timeout_after_the_portal_accepted_does_not_post_twice(
    api_rig: Rig, portal: Portal, tmp_path: Path
) -> None:
    approved_item(api_rig)
    portal.faults.stall_after_create = 2.0  # the client gives up after 1 s
    clock = Clock()
    outlet = publisher(api_rig, tmp_path, clock=clock, jitter=lambda: 0.5)
    outlet.run_once()
    assert publication(api_rig).state == PubState.QUEUED and portal.creates == 1
    portal.faults.stall_after_create = 0
    clock.later(120)
    drain(outlet, clock)
    assert portal.creates == 1 and len(portal.posts) == 1
    assert publication(api_rig).state == PubState.VERIFIED


def test_a_portal_down_for_a_while_opens_the_breaker_then_resumes(
    api_rig: Rig, portal: Portal, tmp_path: Path
) -> None:
    for _ in range(3):
        approved_item(api_rig)
    portal.stop()
    clock = Clock()
    outlet = publisher(api_rig, tmp_path, clock=clock, jitter=lambda: 0.5)
    first = outlet.run_once()
    assert first.retried == 3 and "breaker-open" in kinds(api_rig)
    clock.later(30)
    assert outlet.run_once().skipped > 0, "while open, the portal is left alone"
    portal.start()
    clock.later(120)
    drain(outlet, clock)
    with api_rig.sessions() as s:
        states = s.scalars(select(Publication.state)).all()
    assert states == [PubState.VERIFIED] * 3 and len(portal.posts) == 3


def test_a_portal_that_stays_down_is_told_to_the_secretary_in_vietnamese(
    api_rig: Rig, portal: Portal, tmp_path: Path
) -> None:
    """After the last try the secretary is mailed why, in words she can act on."""
    approved_item(api_rig)
    portal.stop()
    clock = Clock()
    drain(publisher(api_rig, tmp_path, clock=clock, jitter=lambda: 0.5), clock)
    assert publication(api_rig).state == PubState.DEAD
    api_rig.runner.deliver()
    [told] = [m for m in api_rig.sent() if "Không đăng được" in str(m["Subject"])]
    body = told.get_body(("plain",))
    assert body is not None
    cause = body.get_content().split("Nguyên nhân:\n", 1)[1].splitlines()[0].strip()
    assert cause.startswith(
        "Không kết nối được tới cổng (cannot connect): "
        "máy chủ của cổng từ chối kết nối (Connection refused) — GET "
    )
    assert "HTTPConnectionPool" not in cause and "NewConnectionError" not in cause


def test_a_key_in_the_portals_address_is_in_no_stored_error_nor_mail(
    tmp_path: Path, db_url: str, portal: Portal, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A portal that takes its key in the address (``?api_key=…``), down for good: every
    error names the request, and the key went with it into the record, the publication's
    last error and the secretary's mail."""
    monkeypatch.setenv("TEST_PORTAL_TOKEN", TOKEN)
    settings = portal.rest_settings()
    settings["url"] += "?api_key=k3y-trong-dia-chi-2026"
    settings["item_url"] = "{url}&id={id}"
    settings["find_url"] = "{url}&key={key}"
    board = with_publish(
        load_board(CONFIG / "demo.toml"),
        connector="rest",
        rest=settings,
        max_attempts=3,
        retry_seconds=1,
    )
    rig = make_rig(tmp_path, db_url, board)
    approved_item(rig)
    portal.stop()
    clock = Clock()
    drain(publisher(rig, tmp_path, clock=clock, jitter=lambda: 0.5), clock, 8)
    assert publication(rig).state == PubState.DEAD
    rig.runner.deliver()
    with rig.sessions() as s:
        errors = [str(e.detail) for e in s.scalars(select(Event)) if "error" in e.detail]
    mails = [m.as_string() for m in rig.sent() if "Không đăng được" in str(m["Subject"])]
    assert errors and mails and "api_key=" in str(publication(rig).last_error)
    for kept in [*errors, *mails, str(publication(rig).last_error)]:
        assert "k3y-trong-dia-chi-2026" not in kept


def test_refused_credentials_park_the_item_and_tell_the_operator(
    api_rig: Rig, portal: Portal, tmp_path: Path, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    item = approved_item(api_rig)
    portal.faults.refuse = True
    clock = Clock()
    outlet = publisher(api_rig, tmp_path, clock=clock)
    assert outlet.run_once().dead == 1
    pub = publication(api_rig)
    assert pub.state == PubState.DEAD and pub.attempts == 1
    assert "Sai thông tin xác thực" in (pub.last_error or "") and TOKEN not in (
        pub.last_error or ""
    )
    api_rig.runner.deliver()
    secretary = api_rig.board.members_with_role(Role.THU_KY)
    told = [m for m in api_rig.sent() if "Không đăng được" in str(m["Subject"])]
    assert told and {str(m["To"].addresses[0].addr_spec) for m in told} == {
        m.email for m in secretary
    }
    assert cli.main(["--database-url", db_url, "publications", "--state", "dead"]) == 0
    listed = " ".join(capsys.readouterr().out.split())
    assert "Sai thông tin xác thực" in listed and "Không đăng được (dead)" in listed
    portal.faults.refuse = False
    assert cli.main(["--database-url", db_url, "retry", item.tracking_code]) == 0
    drain(outlet, clock, 2)
    assert publication(api_rig).state == PubState.VERIFIED and len(portal.posts) == 1


def test_a_retry_after_a_dead_letter_does_not_post_again_what_an_attempt_left(
    api_rig: Rig, portal: Portal, tmp_path: Path, db_url: str
) -> None:
    """The portal stored the post but the answer timed out, then the next attempt was
    refused: a dead letter. `bientap retry` starts the count again; the attempt after it
    still asks the portal for the key and adopts the post."""
    item = approved_item(api_rig)
    clock = Clock()
    outlet = publisher(api_rig, tmp_path, clock=clock, jitter=lambda: 0.5)
    portal.faults.stall_after_create = 2.0  # stored; the client gives up after 1 s
    assert outlet.run_once().retried == 1 and portal.creates == 1
    portal.faults.stall_after_create, portal.faults.refuse = 0, True
    clock.later(120)
    assert outlet.run_once().dead == 1
    portal.faults.refuse = False
    assert cli.main(["--database-url", db_url, "retry", item.tracking_code]) == 0
    clock.later(10)
    drain(outlet, clock, 2)
    assert portal.creates == 1 and len(portal.posts) == 1
    assert publication(api_rig).state == PubState.VERIFIED


def withdraw(rig: Rig, item: Submission) -> None:
    """The head takes the live item back (GỠ BÀI), as ``review`` records it."""
    with rig.sessions.begin() as s:
        current = s.get(Submission, item.id)
        assert current is not None
        current.state = State.WITHDRAWN
        publishing.withdraw(Desk(rig.board, s, rig.runner.links, rig.files), current)


def test_a_dead_withdrawal_is_mailed_as_one_and_its_retry_withdraws_again(
    api_rig: Rig, portal: Portal, tmp_path: Path, db_url: str
) -> None:
    """The portal refuses the withdrawal: the operators are told the item could not be
    taken off, and `bientap retry` tries the withdrawal again, never the publication."""
    item = approved_item(api_rig)
    clock = Clock()
    outlet = publisher(api_rig, tmp_path, clock=clock)
    assert outlet.run_once().verified == 1
    withdraw(api_rig, item)
    portal.faults.refuse = True
    clock.later(60)
    assert outlet.run_once().dead == 1
    api_rig.runner.deliver()
    subjects = [str(m["Subject"]) for m in api_rig.sent() if "cổng —" in str(m["Subject"])]
    assert subjects and all(s.startswith("Không gỡ được tin, bài khỏi cổng") for s in subjects)
    portal.faults.refuse = False
    assert cli.main(["--database-url", db_url, "retry", item.tracking_code]) == 0
    assert publication(api_rig).state == PubState.WITHDRAWING
    drain(outlet, clock, 2)
    assert publication(api_rig).state == PubState.WITHDRAWN
    assert portal.creates == 1 and not portal.posts


def test_an_answer_the_connector_did_not_foresee_fails_that_item_only(
    api_rig: Rig, portal: Portal, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A connector that trips over an answer (a KeyError, not a CmsError) fails that
    attempt: retried up to max_attempts, then a dead letter, the breaker left alone; the
    other items of the pass are published."""
    broken, fine = approved_item(api_rig), approved_item(api_rig)
    with api_rig.sessions() as s:
        query = select(Publication.key).where(Publication.submission_id == broken.id)
        broken_key = s.scalars(query).one()
    clock = Clock()
    outlet = publisher(api_rig, tmp_path, clock=clock, jitter=lambda: 0.5)
    real_publish = outlet.cms.publish

    def publish(expected: Any) -> Any:
        if expected.key == broken_key:
            raise KeyError("id")
        return real_publish(expected)

    monkeypatch.setattr(outlet.cms, "publish", publish)
    first = outlet.run_once()
    assert (first.retried, first.verified) == (1, 1)
    drain(outlet, clock, 6)
    with api_rig.sessions() as s:
        pub = s.scalars(select(Publication).where(Publication.submission_id == broken.id)).one()
        assert pub.state == PubState.DEAD and pub.attempts == 4
        assert "KeyError" in (pub.last_error or "")
        ok = s.scalars(select(Publication).where(Publication.submission_id == fine.id)).one()
        assert ok.state == PubState.VERIFIED
    assert "breaker-open" not in kinds(api_rig) and len(portal.posts) == 1


def test_a_read_back_the_connector_trips_over_holds_up_no_other_item(
    api_rig: Rig, portal: Portal, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = approved_item(api_rig), approved_item(api_rig)
    outlet = publisher(api_rig, tmp_path)
    real_read = outlet.cms.read
    sent: list[str] = []

    def read(remote_id: str) -> Any:
        sent.append(remote_id)
        if len(sent) == 1:  # the first post's read-back: an answer nobody foresaw
            raise KeyError("title")
        return real_read(remote_id)

    monkeypatch.setattr(outlet.cms, "read", read)
    outlet.run_once()  # before: the KeyError left run_once, the second item waited
    with api_rig.sessions() as s:
        states = dict(s.execute(select(Publication.submission_id, Publication.state)).all())
    assert states[second.id] == PubState.VERIFIED and states[first.id] != PubState.VERIFIED
    outlet.run_once()  # the first is read back again, and verified
    with api_rig.sessions() as s:
        assert s.scalars(select(Publication.state)).all() == [PubState.VERIFIED] * 2
    assert len(portal.posts) == 2


class Killed(BaseException):
    """The daemon dies: no except clause of the pipeline catches this."""


def test_killed_between_the_portals_answer_and_the_commit(
    api_rig: Rig, portal: Portal, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    approved_item(api_rig)
    clock = Clock()
    outlet = publisher(api_rig, tmp_path, clock=clock)
    real_publish = outlet.cms.publish

    def publish_then_die(article: Any) -> Any:
        real_publish(article)
        raise Killed

    monkeypatch.setattr(outlet.cms, "publish", publish_then_die)
    with pytest.raises(Killed):
        outlet.run_once()
    assert len(portal.posts) == 1 and publication(api_rig).state == PubState.SENDING
    restarted = publisher(api_rig, tmp_path, clock=clock)  # a new daemon
    clock.later(restarted.crew.claim_seconds + 1)  # the dead one's claim lapses
    drain(restarted, clock, 2)
    assert portal.creates == 1 and len(portal.posts) == 1
    assert publication(api_rig).state == PubState.VERIFIED


def while_posting(
    outlet: Publisher, acts: list[Callable[[], None]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The daemon's n-th create request is in flight (not landed) while ``acts[n]`` runs."""
    real_publish = outlet.cms.publish

    def publish(article: Any) -> Any:
        if acts:
            acts.pop(0)()
        return real_publish(article)

    monkeypatch.setattr(outlet.cms, "publish", publish)


def test_a_batch_slower_than_its_claim_is_not_posted_twice(
    api_rig: Rig, portal: Portal, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Daemon A claims two items at once; the first takes most of the claim's time to
    post. A renews its claim for the second, so daemon B, looking while that one is in
    flight past the batch's claim, takes nothing."""
    approved_item(api_rig)
    approved_item(api_rig)
    clock = Clock()
    a, b = publisher(api_rig, tmp_path, clock=clock), publisher(api_rig, tmp_path, clock=clock)
    seconds = a.crew.claim_seconds
    looked: list[PublishResult] = []

    def b_looks() -> None:
        clock.later(seconds * 0.25)  # 105 % of the batch's claim, 25 % of the renewed one
        looked.append(b.run_once())

    while_posting(a, [lambda: clock.later(seconds * 0.8), b_looks], monkeypatch)
    verified = a.run_once().verified
    assert portal.creates == 2 and len(portal.posts) == 2
    assert looked == [PublishResult()] and verified == 2


def test_an_item_another_daemon_took_over_is_left_to_it(
    api_rig: Rig, portal: Portal, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A's claim on its batch lapses while it posts the first item; daemon B claims the
    second and has it in hand. A, getting to it, leaves it to B."""
    approved_item(api_rig)
    approved_item(api_rig)
    with api_rig.sessions() as s:
        second = s.scalars(select(Publication.id).order_by(Publication.id.desc())).first()
    clock = Clock()
    a, b = publisher(api_rig, tmp_path, clock=clock), publisher(api_rig, tmp_path, clock=clock)

    def b_takes_the_second() -> None:
        clock.later(a.crew.claim_seconds + 1)
        with api_rig.sessions.begin() as s:
            where = [Publication.id == second]
            assert b.crew.claim(s, Publication, where, [Publication.id], 1, clock())

    while_posting(a, [b_takes_the_second], monkeypatch)
    assert a.run_once().published == 1 and portal.creates == 1
    clock.later(b.crew.claim_seconds + 1)  # B's claim ran out meanwhile: its next pass posts it
    assert b.run_once().verified == 1 and a.run_once() == PublishResult()
    assert portal.creates == 2 and len(portal.posts) == 2


def test_a_read_back_that_fails_leaves_the_post_on_record_to_verify_later(
    api_rig: Rig, portal: Portal, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The post is recorded with its verification; when the read-back cannot be made,
    it is recorded alone, and the next pass verifies it without posting again."""
    approved_item(api_rig)
    clock = Clock()
    outlet = publisher(api_rig, tmp_path, clock=clock)
    real_publish = outlet.cms.publish

    def publish_then_break_the_read_back(article: Any) -> Any:
        live = real_publish(article)
        portal.faults.errors = 1  # the read-back that follows is answered with a 500
        return live

    monkeypatch.setattr(outlet.cms, "publish", publish_then_break_the_read_back)
    first = outlet.run_once()
    assert (first.published, first.verified) == (1, 0)
    pub = publication(api_rig)
    assert pub.state == PubState.PUBLISHED and pub.remote_id == str(next(iter(portal.posts)))
    assert kinds(api_rig)[-1] == "published"
    assert outlet.run_once().verified == 1
    assert publication(api_rig).state == PubState.VERIFIED and portal.creates == 1
    assert kinds(api_rig).count("published") == 1


def test_publish_settings_need_their_connector_section() -> None:
    with pytest.raises(ValueError, match=r"\[publish.wordpress\]"):
        Publish(connector="wordpress")


ENGLISH = """\
Binh Phuoc province held a conference on the results of the administrative reform in 2025 \
and the tasks for 2026. The provincial People's Committee asked departments to improve \
online public services and to answer the questions of citizens and businesses on time.

Author: Tran Van Minh
Unit: Provincial Information Technology Centre
"""


def test_an_english_version_goes_to_the_english_section(tmp_path: Path, db_url: str) -> None:
    board = with_publish(
        load_board(CONFIG / "demo.toml"),
        static={"path": str(tmp_path / "site")},
        sections={"giao-duc": "Giáo dục"},
        english_section="English",
    )
    rig = make_rig(tmp_path, db_url, board)
    rig.drop(article_mail(SENDER, DEMO_BOX, "Administrative reform conference", ENGLISH))
    rig.drop(article_mail(SENDER, DEMO_BOX, "[GD] Ngày hội tuyển sinh", NEWS_BODY))
    rig.runner.run_once()
    english, vietnamese = rig.items()
    assert english.title.startswith("Administrative")
    articles = {i.title: article(board, i, "k", rig.files) for i in (english, vietnamese)}
    assert (articles[english.title].language, articles[english.title].section) == ("en", "English")
    assert (articles[vietnamese.title].language, articles[vietnamese.title].section) == (
        "vi",
        "Giáo dục",
    )


def test_an_item_scheduled_by_the_board_goes_live_at_that_time_not_before(
    api_rig: Rig, portal: Portal, tmp_path: Path, db_url: str
) -> None:
    """``bientap schedule`` (hẹn giờ đăng): set before the approval or after it, the item
    waits in the queue and the publishing job sends it when its time comes."""
    clock = Clock()
    outlet = publisher(api_rig, tmp_path, clock=clock)
    early = approved_item(api_rig)  # approved: queued to go at once
    at = (clock.now + timedelta(days=2)).astimezone(VIETNAM).replace(second=0, microsecond=0)

    def schedule(code: str) -> int:
        return cli.main(
            ["--config", str(CONFIG / "demo.toml"), "--database-url", db_url, "schedule"]
            + [code, at.strftime("%d/%m/%Y %H:%M"), "--reason", "Trưởng ban hẹn giờ đăng"]
        )

    assert schedule(early.tracking_code) == 0
    api_rig.drop(article_mail(SENDER, DEMO_BOX, "Tin hẹn giờ trước khi duyệt", NEWS_BODY))
    api_rig.runner.run_once()
    pending = api_rig.items()[-1]
    assert schedule(pending.tracking_code) == 0  # still in review
    approve(api_rig, pending)
    outlet.run_once()
    assert portal.creates == 0, "not before their time"
    clock.later(2 * 86400 + 60)
    outlet.run_once()
    assert portal.creates == 2
    with api_rig.sessions() as s:
        pub = s.scalars(select(Publication).where(Publication.submission_id == early.id)).one()
        assert pub.state == PubState.VERIFIED and pub.published_at is not None
        assert pub.published_at >= at
        [scheduled] = s.scalars(
            select(Event).where(Event.submission_id == early.id, Event.kind == "publish-scheduled")
        ).all()
        assert (
            scheduled.channel == "cli" and scheduled.detail["reason"] == "Trưởng ban hẹn giờ đăng"
        )
