"""An article's links dressed as the board's «Duyệt» button, rendered in headless Chromium:
on the reviewer's link page and in the review mail, the label after each link names the
host Chromium really opens when the link is clicked."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Locator, Page, Request, Route

from pipeline.review import Links
from pipeline.samples import NEWS_BODY, article_mail
from pipeline.tokens import Signer
from pipeline.web import WebServer, make_app
from tests.helpers import DEMO_BOX, TEST_KEY, make_rig
from tests.test_web_chromium import SENDER, Late, Site

# Each goes to evil.example in Chromium; Python's urlsplit saw no host in the first three.
TRICKS = (
    '<a href="https:///evil.example/a">Duyệt</a>',
    '<a href="https:\\\\evil.example\\b">Duyệt</a>',
    '<a href="https:evil.example/c">Duyệt</a>',
    '<a href="//evil.example\\@dongnai.gov.vn/d">Duyệt</a>',
)
PLAIN = '<a href="https://dongnai.gov.vn/tin">dongnai.gov.vn</a>'  # names its host: no label
ARTICLE = NEWS_BODY + "".join(f"\n<p>Bấm: {link}</p>" for link in (*TRICKS, PLAIN))


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    late = Late()
    server = WebServer(late, "127.0.0.1:0")
    links = Links(Signer([TEST_KEY]), f"http://127.0.0.1:{server.port}")
    rig = make_rig(tmp_path, f"sqlite:///{tmp_path}/bientap.db")
    rig.runner.links = links
    late.app = make_app(rig.sessions, {rig.board.id: rig.board}, links, rig.files)
    server.start()
    try:
        rig.drop(article_mail(SENDER, DEMO_BOX, body=ARTICLE, html=True))
        rig.runner.run_once()
        yield Site(rig, links)
    finally:
        server.stop()


def _review_mail_html(site: Site) -> str:
    for mail in site.rig.sent():
        part = mail.get_body(("html",))
        if part is not None and "dongnai.gov.vn/tin" in part.get_content():
            return str(part.get_content())
    raise AssertionError("no review mail holds the article")


def _label(link: Locator) -> str:
    """The text right after the link, where its destination is written."""
    return str(link.evaluate("a => a.nextSibling?.nodeType === 3 ? a.nextSibling.data : ''"))


def _opened_host(page: Page, link: Locator) -> str:
    """The host Chromium navigates to when the link is clicked (answered, not fetched)."""
    with page.expect_request(lambda r: r.is_navigation_request()) as request:
        link.click()
    value: Request = request.value
    return urlsplit(value.url).hostname or ""


def _check_labels(page: Page, own: str, load: Callable[[], object]) -> list[str]:
    """Load the page, click each article link in turn (the board's own, under ``own``, are
    not the article's): every link names the host it opened, by its text or by the label
    after it. The hosts opened, in order."""

    def answer(route: Route) -> None:
        if route.request.url.startswith(own):
            route.continue_()
        else:  # the article's destinations are answered here, never fetched
            route.fulfill(status=200, content_type="text/html", body="<p>elsewhere</p>")

    page.route("**/*", answer)
    load()
    count = page.locator("a[href]").count()
    opened: list[str] = []
    for index in range(count):
        load()
        link = page.locator("a[href]").nth(index)
        if str(link.evaluate("a => a.href")).startswith(own):
            continue
        text, label = link.inner_text().strip(), _label(link)
        host = _opened_host(page, link)
        assert text == host or label.startswith(f" [{host}]"), (text, label, host)
        opened.append(host)
    return opened


def test_each_label_names_the_host_chromium_opens_on_the_link_page(site: Site, page: Page) -> None:
    view = site.link("view")
    opened = _check_labels(page, site.links.public_url, lambda: page.goto(view))
    assert opened == ["evil.example"] * len(TRICKS) + ["dongnai.gov.vn"]


def test_each_label_names_the_host_chromium_opens_in_the_review_mail(
    site: Site, page: Page
) -> None:
    html = _review_mail_html(site)
    opened = _check_labels(page, site.links.public_url, lambda: page.set_content(html))
    assert opened == ["evil.example"] * len(TRICKS) + ["dongnai.gov.vn"]
