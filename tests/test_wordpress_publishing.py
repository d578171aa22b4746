"""Approved items into a real WordPress (Debian's package, PHP's server, MariaDB), read
back through WordPress's own REST API; faults on the real site; a post changed by hand;
a category deleted or renamed while the connector keeps its id."""

from __future__ import annotations

import base64
import secrets
import time
from collections.abc import Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import select

from connectors.factory import cms
from pipeline import review
from pipeline.config import Board, load_board
from pipeline.models import Event, OutgoingMail, Publication, PubState, Submission
from pipeline.publishing import Publisher, article, differences
from pipeline.samples import NEWS_BODY, article_mail
from tests.helpers import CONFIG, DEMO_BOX, Rig, make_rig
from tests.test_publishing import PNG, SENDER, Clock, approved_item, drain, withdraw
from tests.wordpress import WordPress

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
DOCUMENT_BODY = """\
UBND TỈNH ĐỒNG NAI
Số: 1234/QĐ-UBND
Đồng Nai, ngày 12 tháng 3 năm 2026

QUYẾT ĐỊNH
Về việc ban hành Kế hoạch tuyển sinh vào lớp 10 năm học 2026 - 2027

Quyết định này có hiệu lực kể từ ngày 15/3/2026.

Tin: Lê Thị Hồng Nhung
Đơn vị: Văn phòng Sở Giáo dục và Đào tạo
"""


def wordpress_board(wp: WordPress, **extra: Any) -> Board:
    data = load_board(CONFIG / "demo.toml").model_dump(exclude={"source_file"})
    data["publish"] = {
        "connector": "wordpress",
        "wordpress": {
            "url": wp.url,
            "username": wp.username,
            "password": "env:TEST_WP_PASSWORD",
            "timeout_seconds": 5,
        },
        "sections": {"giao-duc": "Giáo dục"},
        "attribution": "Theo Cổng TTĐT (bản chạy thử)",
        "max_attempts": 4,
        "retry_seconds": 1,
        "breaker_failures": 2,
        "breaker_seconds": 60,
        **extra,
    }
    return Board.model_validate(data)


@pytest.fixture
def wp_rig(
    tmp_path: Path, db_url: str, wordpress: WordPress, monkeypatch: pytest.MonkeyPatch
) -> Rig:
    monkeypatch.setenv("TEST_WP_PASSWORD", wordpress.app_password)
    return make_rig(tmp_path, db_url, wordpress_board(wordpress))


def outlet(rig: Rig, tmp_path: Path, clock: Clock) -> Publisher:
    target = cms(rig.board.publish, tmp_path)
    return Publisher(rig.board, rig.sessions, target, rig.files, rig.runner.links, clock=clock)


def the_publication(rig: Rig, item_id: int) -> Publication:
    with rig.sessions() as s:
        return s.scalars(select(Publication).where(Publication.submission_id == item_id)).one()


def test_an_approved_item_reads_back_from_wordpress_as_approved(
    wp_rig: Rig, wordpress: WordPress, tmp_path: Path
) -> None:
    item = approved_item(
        wp_rig,
        [
            ("Ảnh lễ khai giảng.png", "image/png", PNG),
            ("Kế hoạch chi tiết.pdf", "application/pdf", PDF),
        ],
    )
    clock = Clock()
    assert outlet(wp_rig, tmp_path, clock).run_once().verified == 1
    pub = the_publication(wp_rig, item.id)
    post = wordpress.post(int(pub.remote_id or 0))  # WordPress's own REST API
    assert post["title"]["raw"] == item.title
    content = post["content"]["raw"]
    assert "hơn 1.200 học sinh lớp 12" in content
    assert "Theo Cổng TTĐT (bản chạy thử)" in content and "Lê Thị Hồng Nhung" in content
    [category] = [
        c for c in wordpress.rest("GET", "/wp/v2/categories") if c["id"] in post["categories"]
    ]
    assert category["name"] == "Giáo dục"
    media = wordpress.media(parent=post["id"], context="edit")
    assert sorted(m["title"]["raw"] for m in media) == [
        "Kế hoạch chi tiết.pdf",
        "Ảnh lễ khai giảng.png",
    ]
    image = next(m for m in media if m["mime_type"] == "image/png")
    assert post["featured_media"] == image["id"]
    pdf = next(m for m in media if m["mime_type"] == "application/pdf")
    assert pdf["source_url"] in content, "files are listed for download"
    assert post["meta"]["bientap_key"] == pub.key and post["status"] == "publish"
    assert pub.url and str(post["id"]) in pub.url


def test_an_official_document_carries_its_metadata(
    wp_rig: Rig, wordpress: WordPress, tmp_path: Path
) -> None:
    wp_rig.drop(article_mail(SENDER, DEMO_BOX, "[Văn bản] Quyết định 1234/QĐ-UBND", DOCUMENT_BODY))
    wp_rig.runner.run_once()
    item = wp_rig.items()[-1]
    assert item.document and item.document["number"] == "1234/QĐ-UBND"
    item = approved_item_by_id(wp_rig, item.id)
    outlet(wp_rig, tmp_path, Clock()).run_once()
    post = wordpress.post(int(the_publication(wp_rig, item.id).remote_id or 0))
    assert post["meta"]["bientap_document_number"] == "1234/QĐ-UBND"
    assert post["meta"]["bientap_document_issued"] == "2026-03-12"
    assert post["meta"]["bientap_document_kind"] == "Quyết định"


def approved_item_by_id(rig: Rig, item_id: int) -> Any:
    from pipeline.commands import Verb
    from pipeline.models import ReviewTask, Submission, TaskState
    from pipeline.review import Decision, Desk, Evidence

    for _ in range(5):
        with rig.sessions.begin() as s:
            open_tasks = s.scalars(
                select(ReviewTask).where(
                    ReviewTask.submission_id == item_id, ReviewTask.state == TaskState.PENDING
                )
            ).all()
            if not open_tasks:
                break
            current = s.get(Submission, item_id)
            assert current is not None
            review.act(
                Desk(rig.board, s, rig.runner.links, rig.files),
                open_tasks[0].id,
                open_tasks[0].member_id,
                Decision(Verb.APPROVE),
                current.content_hash or "",
                Evidence("cli"),
            )
    return next(i for i in rig.items() if i.id == item_id)


def verified_item(rig: Rig, tmp_path: Path) -> tuple[Submission, Clock, Publisher]:
    """An item approved and published, its post verified, and the publisher that did it."""
    item = approved_item(rig)
    clock = Clock()
    publisher = outlet(rig, tmp_path, clock)
    assert publisher.run_once().verified == 1
    return item, clock, publisher


def test_a_post_changed_by_hand_in_wordpress_is_caught_and_put_back(
    wp_rig: Rig, wordpress: WordPress, tmp_path: Path
) -> None:
    item, clock, publisher = verified_item(wp_rig, tmp_path)
    post_id = int(the_publication(wp_rig, item.id).remote_id or 0)
    wordpress.edit_post(post_id, content="<p>Nội dung đã bị sửa tay.</p>")
    clock.later(25 * 3600)
    publisher.recheck()
    with wp_rig.sessions() as s:
        caught = s.scalars(select(Event).where(Event.kind == "reupdated")).one()
    assert "Nội dung" in caught.detail["differences"][0]
    assert "hơn 1.200 học sinh" in wordpress.post(post_id)["content"]["raw"]
    assert the_publication(wp_rig, item.id).state == PubState.VERIFIED


@pytest.mark.parametrize("gone", ["trashed", "deleted"])
def test_a_post_gone_by_hand_before_the_withdrawal_counts_as_withdrawn(
    wp_rig: Rig, wordpress: WordPress, tmp_path: Path, gone: str
) -> None:
    """An editor trashed (WordPress answers the DELETE with 410) or deleted (404) the
    post before the head withdrew the item: the withdrawal is done, not a dead letter."""
    item, clock, publisher = verified_item(wp_rig, tmp_path)
    post_id = the_publication(wp_rig, item.id).remote_id
    force = "?force=true" if gone == "deleted" else ""
    wordpress.rest("DELETE", f"/wp/v2/posts/{post_id}{force}")
    withdraw(wp_rig, item)
    clock.later(60)
    assert publisher.run_once().withdrawn == 1
    assert the_publication(wp_rig, item.id).state == PubState.WITHDRAWN


def test_markup_in_the_subject_is_text_on_the_site(
    wp_rig: Rig, wordpress: WordPress, tmp_path: Path
) -> None:
    """The account here is an administrator (unfiltered HTML): a subject holding an
    <img onerror> is stored as text, shown as text, and still verifies."""
    title = "Hội nghị tổng kết <img src=x onerror=alert(document.domain)> năm 2026 & 2027"
    wp_rig.drop(article_mail(SENDER, DEMO_BOX, title, NEWS_BODY))
    wp_rig.runner.run_once()
    item = approved_item_by_id(wp_rig, wp_rig.items()[-1].id)
    assert item.title == title
    assert outlet(wp_rig, tmp_path, Clock()).run_once().verified == 1
    post_id = the_publication(wp_rig, item.id).remote_id
    assert "<img" not in wordpress.post(int(post_id or 0))["title"]["raw"]
    page = requests.get(f"{wordpress.url}/?p={post_id}", timeout=30).text
    assert "&lt;img src=x onerror=alert(document.domain)&gt;" in page
    assert "<img src=x onerror" not in page


def test_a_file_wordpress_refuses_is_a_dead_letter_at_once(
    wp_rig: Rig, wordpress: WordPress, tmp_path: Path
) -> None:
    """WordPress answers an upload of a type it does not take (SVG) with 500
    rest_upload_sideload_error: a rejection with its words, not an outage to retry
    that opens the breaker for the board; the photo uploaded before it is deleted again
    (it would stay public, attached to no post)."""
    svg = b'<svg xmlns="http://www.w3.org/2000/svg"><rect/></svg>'
    photo = ("anh-truoc-so-do.png", "image/png", PNG)
    item = approved_item(wp_rig, [photo, ("so-do.svg", "image/svg+xml", svg)])
    clock = Clock()
    assert outlet(wp_rig, tmp_path, clock).run_once().dead == 1
    pub = the_publication(wp_rig, item.id)
    assert pub.attempts == 1 and "not allowed to upload this file type" in (pub.last_error or "")
    with wp_rig.sessions() as s:
        assert not s.scalars(select(Event).where(Event.kind == "breaker-open")).all()
    assert wordpress.media(context="edit", search="anh-truoc-so-do") == []


def test_an_html_attachment_is_never_served_as_a_page_from_the_portal(
    wp_rig: Rig, wordpress: WordPress, tmp_path: Path
) -> None:
    """An administrator may upload .html, which WordPress then serves as text/html from
    the portal's origin: the file goes under its safe name (.html.txt), which WordPress
    refuses for content that is HTML: a dead letter naming the file, nothing served."""
    page = b"<html><body><script>alert(document.cookie)</script></body></html>"
    item = approved_item(wp_rig, [("lich-hop-w2.html", "text/html", page)])
    clock = Clock()
    drain(outlet(wp_rig, tmp_path, clock), clock, 2)
    pub = the_publication(wp_rig, item.id)
    assert pub.state == PubState.DEAD and "«lich-hop-w2.html»" in (pub.last_error or "")
    for medium in wordpress.media(context="edit", search="lich-hop-w2"):
        served = requests.get(medium["source_url"], timeout=30)
        assert "html" not in served.headers.get("Content-Type", ""), medium["source_url"]


FIREWALL_PHP = """<?php
// A security plugin in front of the REST API: refuses with 200 and WordPress's error shape,
// echoing the request's Authorization header (as some do, for the site's administrator).
add_filter('rest_pre_dispatch', function ($result, $server, $request) {
    $title = (string) $request->get_param('title');
    if ($request->get_method() === 'POST' && $request->get_route() === '/wp/v2/posts'
        && strpos($title, 'tường lửa') !== false) {
        $auth = (string) $request->get_header('authorization');
        $said = "Request blocked by firewall (Authorization: $auth, user "
            . ($_SERVER['PHP_AUTH_USER'] ?? '') . ':' . ($_SERVER['PHP_AUTH_PW'] ?? '') . ')';
        wp_send_json(['code' => 'blocked', 'message' => $said], 200);
    }
    return $result;
}, 10, 3);
"""


@pytest.fixture
def firewall(wordpress: WordPress) -> Iterator[None]:
    """Posts whose title names «tường lửa» are refused with 200 and an error body."""
    plugin = wordpress.content_dir / "mu-plugins" / "firewall.php"
    plugin.write_text(FIREWALL_PHP, encoding="utf-8")
    yield
    plugin.unlink()


def test_a_refusal_answered_with_200_is_a_dead_letter_and_the_queue_goes_on(
    wp_rig: Rig, wordpress: WordPress, tmp_path: Path, firewall: None
) -> None:
    """A firewall answers the create with 200 and WordPress's error shape: that item is a
    dead letter with the firewall's words at once, and the next one is published."""
    wp_rig.drop(article_mail(SENDER, DEMO_BOX, "Tin bị tường lửa chặn", NEWS_BODY))
    wp_rig.runner.run_once()
    blocked = approved_item_by_id(wp_rig, wp_rig.items()[-1].id)
    passing = approved_item(wp_rig)
    result = outlet(wp_rig, tmp_path, Clock()).run_once()
    assert (result.dead, result.verified) == (1, 1)
    pub = the_publication(wp_rig, blocked.id)
    assert pub.state == PubState.DEAD and "Request blocked by firewall" in (pub.last_error or "")
    assert the_publication(wp_rig, passing.id).state == PubState.VERIFIED
    # the firewall's words echo the credentials: kept, mailed and shown without them
    password = wordpress.app_password
    credential = base64.b64encode(f"{wordpress.username}:{password}".encode()).decode()
    assert f"user {wordpress.username}:***" in (pub.last_error or "")
    with wp_rig.sessions() as s:
        kept = [pub.last_error, *(str(e.detail) for e in s.scalars(select(Event)))]
        kept += [mail_text(m.raw) for m in s.scalars(select(OutgoingMail))]
    for text in kept:
        assert password not in (text or "") and credential not in (text or "")


def mail_text(raw: bytes) -> str:
    body = message_from_bytes(raw, policy=policy.default).get_body(("plain",))
    return body.get_content() if isinstance(body, EmailMessage) else ""


SLOW_ONCE_PHP = """<?php
// A portal that answers slowly, once: the next new post (while the flag file is there) is
// made 8 s after its request came in, when the connector (timeout_seconds = 5) has given up.
add_filter('rest_pre_dispatch', function ($result, $server, $request) {
    $flag = __DIR__ . '/slow-once.flag';
    if ($request->get_method() === 'POST' && $request->get_route() === '/wp/v2/posts'
        && @unlink($flag)) {
        sleep(8);
    }
    return $result;
}, 10, 3);
"""


@pytest.fixture
def slow_once(wordpress: WordPress) -> Iterator[Path]:
    """Touch the path this yields: the next new post is made only after the client gave up."""
    plugins = wordpress.content_dir / "mu-plugins"
    (plugins / "slow-once.php").write_text(SLOW_ONCE_PHP, encoding="utf-8")
    yield plugins / "slow-once.flag"
    (plugins / "slow-once.php").unlink()
    (plugins / "slow-once.flag").unlink(missing_ok=True)


def test_an_attempt_that_timed_out_leaves_no_second_copy_of_its_files(
    wp_rig: Rig, wordpress: WordPress, tmp_path: Path, slow_once: Path
) -> None:
    """The create timed out after the photo and the file were uploaded; WordPress made the
    post after all. The next attempt finds the post by its key and attaches the files the
    first one uploaded: none is uploaded twice, none stays public attached to nothing."""
    mark = secrets.token_hex(4)
    files = [
        (f"anh-{mark}.png", "image/png", PNG),
        (f"ke-hoach-{mark}.pdf", "application/pdf", PDF),
    ]
    item = approved_item(wp_rig, files)
    clock = Clock()
    publisher = outlet(wp_rig, tmp_path, clock)
    slow_once.touch()
    assert publisher.run_once().retried == 1
    key = the_publication(wp_rig, item.id).key
    for _ in range(60):  # made once the portal is done with it
        if wordpress.posts(slug=key):
            break
        time.sleep(1)
    clock.later(60)
    assert publisher.run_once().verified == 1
    [post] = wordpress.posts(slug=key)
    media = wordpress.media(search=mark)
    assert sorted(m["title"]["raw"] for m in media) == sorted(name for name, _, _ in files)
    assert {m["post"] for m in media} == {post["id"]}


def category(wp: WordPress, name: str) -> int:
    """The id of the category ``name``, made when the site lacks it."""
    found = wp.rest("GET", "/wp/v2/categories", params={"search": name, "per_page": 100})
    match = next((c for c in found if c["name"] == name), None)
    return int((match or wp.rest("POST", "/wp/v2/categories", json={"name": name}))["id"])


def term_names(wp: WordPress, taxonomy: str, ids: list[int]) -> list[str]:
    return sorted(str(wp.rest("GET", f"/wp/v2/{taxonomy}/{i}")["name"]) for i in ids)


def test_a_post_moved_to_another_category_by_hand_is_caught_and_put_back(
    wp_rig: Rig, wordpress: WordPress, tmp_path: Path
) -> None:
    item, clock, publisher = verified_item(wp_rig, tmp_path)
    pub = the_publication(wp_rig, item.id)
    with wp_rig.sessions() as s:
        current = s.get(Submission, item.id)
        assert current is not None
        expected = article(wp_rig.board, current, pub.key, wp_rig.files)
    post_id = int(pub.remote_id or 0)
    approved = wordpress.post(post_id)
    assert expected.tags, "the item's fields are its tags"
    assert term_names(wordpress, "tags", approved["tags"]) == sorted(expected.tags)
    # by hand, through WordPress's own REST API: another category, the tags taken off
    wordpress.edit_post(post_id, categories=[category(wordpress, "Thời sự")], tags=[])
    moved = [
        "Chuyên mục: duyệt «Giáo dục», trên cổng «Thời sự»",
        "Thẻ: duyệt " + ", ".join(f"«{t}»" for t in expected.tags) + ", trên cổng không có",
    ]
    restarted = cms(wp_rig.board.publish, tmp_path)  # keeps no term yet: asks their names
    try:
        live = restarted.read(str(post_id))
    finally:
        restarted.close()
    assert live is not None and differences(expected, live) == moved
    clock.later(25 * 3600)
    publisher.recheck()
    with wp_rig.sessions() as s:
        caught = s.scalars(select(Event).where(Event.kind == "reupdated")).one()
    assert caught.detail["differences"] == moved
    put_back = wordpress.post(post_id)
    assert put_back["categories"] == approved["categories"]
    assert sorted(put_back["tags"]) == sorted(approved["tags"])
    assert the_publication(wp_rig, item.id).state == PubState.VERIFIED


def test_wordpress_takes_a_deleted_term_id_without_an_error(wordpress: WordPress) -> None:
    """Why the connector checks the terms in WordPress's answer: a stale id is no 400."""
    gone = category(wordpress, f"Đã xoá {secrets.token_hex(3)}")
    wordpress.rest("DELETE", f"/wp/v2/categories/{gone}", params={"force": "true"})
    answer = wordpress.request(
        "POST", "/wp/v2/posts", json={"title": "Thử", "status": "draft", "categories": [gone]}
    )
    assert answer.status_code == 201, answer.text
    assert answer.json()["categories"] == [], "dropped without a word"
    wordpress.rest("DELETE", f"/wp/v2/posts/{answer.json()['id']}", params={"force": "true"})


def test_a_category_deleted_between_two_publications_is_made_again(
    tmp_path: Path, db_url: str, wordpress: WordPress, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_WP_PASSWORD", wordpress.app_password)
    section = f"Giáo dục {secrets.token_hex(3)}"  # this test's own: it is deleted below
    rig = make_rig(tmp_path, db_url, wordpress_board(wordpress, sections={"giao-duc": section}))
    first, clock, publisher = verified_item(rig, tmp_path)  # one connector: keeps term ids
    post = wordpress.post(int(the_publication(rig, first.id).remote_id or 0))
    tags = term_names(wordpress, "tags", post["tags"])
    [old] = post["categories"]
    for taxonomy, ids in (("categories", [old]), ("tags", post["tags"])):
        for term_id in ids:  # in WordPress, by hand
            wordpress.rest("DELETE", f"/wp/v2/{taxonomy}/{term_id}", params={"force": "true"})
    second = approved_item(rig)
    clock.later(60)  # past its approval
    assert publisher.run_once().verified == 1
    pub = the_publication(rig, second.id)
    post = wordpress.post(int(pub.remote_id or 0))
    [new] = post["categories"]
    assert new != old and term_names(wordpress, "categories", [new]) == [section]
    assert term_names(wordpress, "tags", post["tags"]) == tags
    assert len(wordpress.posts(slug=pub.key)) == 1
    with rig.sessions() as s:
        assert not s.scalars(select(Event).where(Event.kind == "reupdated")).all()


def test_a_category_renamed_in_wordpress_is_seen_once_the_kept_name_is_old(
    tmp_path: Path, db_url: str, wordpress: WordPress, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Someone renames the board's category on the site: the daily re-verification sees
    the post is no longer in the approved section (the kept name is asked again), and the
    section of the configuration is what the post is put back into."""
    monkeypatch.setenv("TEST_WP_PASSWORD", wordpress.app_password)
    section = f"Giáo dục {secrets.token_hex(3)}"  # this test's own: it is renamed below
    rig = make_rig(tmp_path, db_url, wordpress_board(wordpress, sections={"giao-duc": section}))
    item, clock, publisher = verified_item(rig, tmp_path)  # the connector keeps the term
    post_id = int(the_publication(rig, item.id).remote_id or 0)
    [old] = wordpress.post(post_id)["categories"]
    renamed = f"{section} (đổi tên)"
    wordpress.rest("POST", f"/wp/v2/categories/{old}", json={"name": renamed})  # by hand
    monkeypatch.setattr("connectors.wordpress.TERM_SECONDS", 0.0)  # as a day later
    clock.later(25 * 3600)
    publisher.recheck()
    with rig.sessions() as s:
        caught = s.scalars(select(Event).where(Event.kind == "reupdated")).one()
    assert caught.detail["differences"] == [f"Chuyên mục: duyệt «{section}», trên cổng «{renamed}»"]
    [new] = wordpress.post(post_id)["categories"]
    assert new != old and term_names(wordpress, "categories", [new]) == [section]
    assert the_publication(rig, item.id).state == PubState.VERIFIED


def test_wordpress_down_for_a_while_still_gets_each_item_once(
    wp_rig: Rig, wordpress: WordPress, tmp_path: Path
) -> None:
    items = [approved_item(wp_rig) for _ in range(2)]
    clock = Clock()
    publisher = outlet(wp_rig, tmp_path, clock)
    wordpress.stop_http()
    try:
        assert publisher.run_once().retried == 2
        clock.later(30)
        assert publisher.run_once().skipped == 2  # the breaker is open
    finally:
        wordpress.start_http()
    clock.later(120)
    drain(publisher, clock, 3)
    for item in items:
        pub = the_publication(wp_rig, item.id)
        assert pub.state == PubState.VERIFIED
        assert len(wordpress.posts(slug=pub.key)) == 1


def test_a_wrong_application_password_is_a_dead_letter_with_wordpress_message(
    tmp_path: Path, db_url: str, wordpress: WordPress, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_WP_PASSWORD", "abcd efgh ijkl mnop qrst uvwx")
    rig = make_rig(tmp_path, db_url, wordpress_board(wordpress))
    item = approved_item(rig)
    assert outlet(rig, tmp_path, Clock()).run_once().dead == 1
    pub = the_publication(rig, item.id)
    assert pub.state == PubState.DEAD and "401" in (pub.last_error or "")
    assert not wordpress.posts(slug=pub.key)
