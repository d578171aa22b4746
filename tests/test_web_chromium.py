"""The link pages served by waitress and used in headless Chromium, as a reviewer on a
phone would: read the item, approve it; and a link scanner's fetch that decides nothing."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from playwright.sync_api import Page
from sqlalchemy import select

from pipeline.models import ReviewTask, State, Submission, TaskState, UsedLink
from pipeline.review import Links
from pipeline.samples import NEWS_BODY, NEWS_TITLE, article_mail
from pipeline.tokens import Signer
from pipeline.web import WebServer, make_app
from tests.helpers import DEMO_BOX, TEST_KEY, Rig, make_rig

SENDER = "nhung.ltt@sgddt.demo.bientap.vn"
XSS_BODY = (
    NEWS_BODY
    + "\n<script>window.__xss = 1</script>"
    + '<img src="x" onerror="window.__xss = 2"><b onmouseover="window.__xss = 3">Ghi chú</b>\n'
)


class Late:
    """A WSGI app given after the server is bound: the links need the server's port."""

    app: Any = None

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        return self.app(environ, start_response)


@dataclass
class Site:
    rig: Rig
    links: Links

    def item(self) -> Submission:
        return self.rig.items()[-1]

    def tasks(self) -> list[tuple[int, str, str]]:
        with self.rig.sessions() as s:
            rows = s.scalars(select(ReviewTask).order_by(ReviewTask.id))
            return [(t.id, t.member_id, t.state) for t in rows]

    def used(self) -> int:
        with self.rig.sessions() as s:
            return len(s.scalars(select(UsedLink)).all())

    def link(self, action: str) -> str:
        """The first pending task's mailed link of ``action``."""
        pattern = re.compile(re.escape(self.links.public_url) + r"/duyet/\d+/[A-Za-z0-9_.-]+")
        with self.rig.sessions() as s:
            task = s.scalars(
                select(ReviewTask).where(ReviewTask.state == TaskState.PENDING)
            ).first()
        assert task is not None
        for mail in self.rig.sent():
            part = mail.get_body(("plain",))
            for url in pattern.findall(part.get_content() if part is not None else ""):
                claim = self.links.signer.verify(url.rpartition("/")[2])
                if claim.item == task.id and claim.action == action:
                    return url
        raise AssertionError(f"no {action} link mailed")


def serve_submission(tmp_path: Path, mail: bytes) -> Iterator[Site]:
    """The link pages on a real server, with ``mail`` submitted, routed and its review
    mails sent (the links in them point at the server)."""
    late = Late()
    server = WebServer(late, "127.0.0.1:0")
    links = Links(Signer([TEST_KEY]), f"http://127.0.0.1:{server.port}")
    rig = make_rig(tmp_path, f"sqlite:///{tmp_path}/bientap.db")
    rig.runner.links = links
    late.app = make_app(rig.sessions, {rig.board.id: rig.board}, links, rig.files)
    server.start()
    try:
        rig.drop(mail)
        rig.runner.run_once()
        yield Site(rig, links)
    finally:
        server.stop()


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    yield from serve_submission(tmp_path, article_mail(SENDER, DEMO_BOX, body=XSS_BODY, html=True))


def test_reviewer_reads_the_item_on_a_phone_and_approves_it(site: Site, page: Page) -> None:
    page.set_viewport_size({"width": 360, "height": 740})
    page.goto(site.link("view"))
    assert page.inner_text("#title") == NEWS_TITLE
    assert "hơn 1.200 học sinh lớp 12" in page.inner_text("#body")
    assert "Ghi chú" in page.inner_text("#body")
    page.hover("#body b")
    assert page.evaluate("typeof window.__xss") == "undefined"
    # readable at 360 px: nothing wider than the screen, the button as wide as the text
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    assert page.locator("#approve").bounding_box()["height"] >= 44  # type: ignore[index]

    before = site.item()
    page.click("#approve")
    assert page.inner_text("h1") == "Đã ghi nhận"
    assert before.tracking_code in page.inner_text("body")
    decided = [t for t in site.tasks() if t[2] == TaskState.APPROVED]
    assert len(decided) == 1 and site.used() == 1
    after = site.item()
    assert after.state in (State.PENDING_REVIEW, State.APPROVED)
    assert after.review_step != before.review_step


def test_a_link_scanner_decides_nothing_and_the_link_still_works(site: Site, page: Page) -> None:
    url = site.link("approve")
    before = (site.item().state, site.tasks(), site.used())
    fetched = requests.get(url, timeout=10)
    assert fetched.status_code == 200 and NEWS_TITLE in fetched.text
    assert fetched.headers["Referrer-Policy"] == "no-referrer"
    assert requests.head(url, timeout=10).status_code == 200
    assert (site.item().state, site.tasks(), site.used()) == before

    page.goto(url)
    assert page.locator("form").count() == 1  # the one-tap link offers approving only
    page.click("#approve")
    assert page.inner_text("h1") == "Đã ghi nhận"
    assert site.used() == 1


def view_links(site: Site) -> list[str]:
    """The mailed «view» link of each pending task, in task order."""
    pattern = re.compile(re.escape(site.links.public_url) + r"/duyet/\d+/[A-Za-z0-9_.-]+")
    pending = {task for task, _, state in site.tasks() if state == TaskState.PENDING}
    found: dict[int, str] = {}
    for mail in site.rig.sent():
        part = mail.get_body(("plain",))
        for url in pattern.findall(part.get_content() if part is not None else ""):
            claim = site.links.signer.verify(url.rpartition("/")[2])
            if claim.item in pending and claim.action == "view":
                found[claim.item] = url
    return [found[task] for task in sorted(found)]


WEBMAIL = "https://webmail.example/"


def test_two_links_opened_from_webmail_in_two_tabs_both_decide(site: Site, page: Page) -> None:
    """A link tapped in web mail is a cross-site navigation: the session cookie is
    SameSite=Lax, so the second tab keeps the first tab's cookie instead of replacing it
    (with Strict it did, and the first tab's decision was refused as a CSRF failure)."""
    site.rig.drop(article_mail(SENDER, DEMO_BOX, subject="Tin thứ hai về tuyển sinh năm 2026"))
    site.rig.runner.run_once()
    first, second = view_links(site)[:2]
    inbox = f"<a id=a href='{first}' target=_blank>1</a><a id=b href='{second}' target=_blank>2</a>"
    page.route(f"{WEBMAIL}**", lambda r: r.fulfill(content_type="text/html", body=inbox))
    page.goto(f"{WEBMAIL}hop-thu")
    tabs = []
    for link in ("#a", "#b"):
        with page.context.expect_page() as opened:
            page.click(link)
        opened.value.wait_for_load_state()
        tabs.append(opened.value)

    for tab in tabs:
        tab.bring_to_front()
        tab.click("#approve")
        assert tab.inner_text("h1") == "Đã ghi nhận"
    assert site.used() == 2


def test_a_decision_posted_from_another_site_is_refused(site: Site, page: Page) -> None:
    """SameSite=Lax sends the cookie on a link followed from another site, never with a
    form that site posts: even holding the page's CSRF value, it decides nothing."""
    url = site.link("approve")
    page.goto(url)
    csrf = page.get_attribute("input[name=csrf]", "value")
    version = page.get_attribute("input[name=version]", "value")
    assert csrf and version is not None
    form = (
        f"<form id=f method=post action='{url}'><input name=csrf value='{csrf}'>"
        f"<input name=version value='{version}'><input name=action value=approve></form>"
    )
    page.route(f"{WEBMAIL}**", lambda r: r.fulfill(content_type="text/html", body=form))
    before = (site.item().state, site.tasks())
    page.goto(f"{WEBMAIL}thu-la")
    with page.expect_navigation():
        page.eval_on_selector("#f", "f => f.submit()")
    assert page.inner_text("h1") == "Không thể dùng liên kết"
    assert (site.item().state, site.tasks(), site.used()) == (*before, 0)
