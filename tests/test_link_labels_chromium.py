"""An article's links dressed as the board's «Duyệt» button, rendered in headless Chromium:
on the reviewer's link page and in the review mail, the label after each link names the
host Chromium really opens when the link is clicked."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Locator, Page, Request, Route

from pipeline.samples import NEWS_BODY, article_mail
from pipeline.vietnamese import BIDI_CONTROLS
from tests.helpers import DEMO_BOX
from tests.test_web_chromium import SENDER, Site, serve_submission

HIDDEN = "<sub><sup>" * 20 + "evil.example" + "</sup></sub>" * 20
# An article's links and the host each opens in Chromium.
LINKS = (
    # Python's urlsplit saw no host in the first three, another in the fourth
    ('<a href="https:///evil.example/a">Duyệt</a>', "evil.example"),
    ('<a href="https:\\\\evil.example\\b">Duyệt</a>', "evil.example"),
    ('<a href="https:evil.example/c">Duyệt</a>', "evil.example"),
    ('<a href="//evil.example\\@dongnai.gov.vn/d">Duyệt</a>', "evil.example"),
    # the override would draw the label "[nv.vog.iangnod.ac]" as "[ca.dongnai.gov.vn]"
    ('<a href="https://nv.vog.iangnod.ac/e">Duyệt\u202e</a>', "nv.vog.iangnod.ac"),
    # the text holds the host, drawn at 0.01 px after «Duyệt»
    (f'<a href="https://evil.example/f">Duyệt{HIDDEN}</a>', "evil.example"),
    ('<a href="https://dongnai.gov.vn/tin">dongnai.gov.vn</a>', "dongnai.gov.vn"),  # no label
)
ARTICLE = NEWS_BODY + "".join(f"\n<p>Bấm: {link}</p>" for link, _ in LINKS)
TITLE = "Ngày hội tuyển sinh\u202e năm 2026"  # bidi controls in the title and name too
NAME = "Lê Thị\u2067 Hồng Nhung"


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    mail = article_mail(SENDER, DEMO_BOX, TITLE, ARTICLE, sender_name=NAME, html=True)
    yield from serve_submission(tmp_path, mail)


def _review_mail_html(site: Site) -> str:
    for mail in site.rig.sent():
        part = mail.get_body(("html",))
        if part is not None and "dongnai.gov.vn/tin" in part.get_content():
            return str(part.get_content())
    raise AssertionError("no review mail holds the article")


def _label(link: Locator) -> str:
    """The text right after the link, where its destination is written."""
    return str(link.evaluate("a => a.nextSibling?.nodeType === 3 ? a.nextSibling.data : ''"))


def _reads_left_to_right(link: Locator) -> bool:
    """Whether Chromium draws the host in the label after the link (if any) left to right."""
    return bool(
        link.evaluate(
            """a => {
                const t = a.nextSibling, r = document.createRange();
                if (t?.nodeType !== 3 || !t.data.includes(']')) return true;
                const left = i => { r.setStart(t, i); r.setEnd(t, i + 1);
                                    return r.getBoundingClientRect().left; };
                return left(t.data.indexOf('[') + 1) < left(t.data.indexOf(']') - 1);
            }"""
        )
    )


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
        readable = _reads_left_to_right(link)  # measured before the click leaves the page
        host = _opened_host(page, link)
        if text != host:
            assert label.startswith(f" [{host}]"), (text, label, host)
            assert readable, (text, label, host)
        opened.append(host)
    load()
    shown = page.inner_text("body")
    assert not set(shown) & set(BIDI_CONTROLS)
    assert "Hồng Nhung" in shown and "tuyển sinh năm 2026" in shown
    return opened


def test_each_label_names_the_host_chromium_opens_on_the_link_page(site: Site, page: Page) -> None:
    view = site.link("view")
    opened = _check_labels(page, site.links.public_url, lambda: page.goto(view))
    assert opened == [host for _, host in LINKS]


def test_each_label_names_the_host_chromium_opens_in_the_review_mail(
    site: Site, page: Page
) -> None:
    html = _review_mail_html(site)
    opened = _check_labels(page, site.links.public_url, lambda: page.set_content(html))
    assert opened == [host for _, host in LINKS]
