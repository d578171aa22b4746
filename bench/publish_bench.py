#!/usr/bin/env python3
"""Publishing latency and throughput against a real WordPress started here.

A throwaway WordPress (``tests.wordpress.WordPress``: Debian's WordPress on PHP's
built-in server and MariaDB), a SQLite database and the demo board publishing to it.
Submissions are mailed into the board's Maildir, read by the daemon's runner and walked
through the board's review path (``review.act``), untimed.

1. Per item, one at a time: an item is approved, then the publisher runs
   (``Publisher.run_once``: create the post, read it back, compare, mark verified).
   Measured from the commit of the approval to the commit of ``verified``. Next to it,
   in the same loop (so that drift hits both alike), WordPress's own create-post call
   (``POST /wp/v2/posts`` with the fields the connector sends, through ``requests``
   with the Application Password). Target: the pipeline adds at most 25% to the raw
   call (median against median). Also in the loop, the raw read-back of that post
   (``GET /wp/v2/posts/{id}`` with the fields the connector's verification reads): the
   pipeline cannot take less than create + read-back, so the report gives that floor
   and what bientap adds over it.
2. Batch: N items approved at once, drained by one ``run_once``: items/s, next to the
   raw create calls/s of N sequential calls, half just before the drain, half just after.

Where the pipeline's time goes is measured around every HTTP request of the connector,
by request type; the rest is bientap's own work (database, building the article,
comparing). ``--with-image`` gives each item a photo; the raw baseline then uploads it
too (``POST /wp/v2/media``) and names it the post's featured image.

    .venv/bin/python bench/publish_bench.py [--items 200] [--with-image] [--seed 1]
"""

from __future__ import annotations

import argparse
import os
import random
import re
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import requests  # noqa: E402
from sqlalchemy import select  # noqa: E402

from connectors.cms import Article  # noqa: E402
from connectors.wordpress import POST_FIELDS, WordPressCms  # noqa: E402
from pipeline import review  # noqa: E402
from pipeline.commands import Verb  # noqa: E402
from pipeline.config import Board, load_board  # noqa: E402
from pipeline.models import Publication, PubState, ReviewTask, Submission, TaskState  # noqa: E402
from pipeline.publishing import Publisher, article  # noqa: E402
from pipeline.review import Decision, Desk, Evidence  # noqa: E402
from pipeline.samples import NEWS_BODY, article_mail  # noqa: E402
from tests.helpers import CONFIG, DEMO_BOX, Rig, make_rig  # noqa: E402
from tests.wordpress import WordPress  # noqa: E402

SENDER = "nhung.ltt@sgddt.demo.bientap.vn"  # staff of the education department
PASSWORD_ENV = "BENCH_WP_PASSWORD"
SECTION = "Giáo dục"
TARGET = 1.25
TOPICS = [  # education news without the demo board's sensitive keywords
    "Ngày hội tuyển sinh năm 2026",
    "Hội thi giáo viên dạy giỏi cấp tỉnh",
    "Trao học bổng cho học sinh vượt khó",
    "Khai giảng lớp bồi dưỡng giáo viên tiếng Anh",
    "Tập huấn chuyển đổi số trong trường học",
]
PNG = (  # a 1x1 photo
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"
    b"\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00"
    b"\x00\x00IEND\xaeB`\x82"
)
IMAGE = ("Ảnh hoạt động.png", "image/png")
_ID = re.compile(r"/\d+(?=/|$)")


# -- where the time goes ------------------------------------------------------------------
def request_kind(method: str, url: str) -> str:
    """``GET /wp/v2/posts/{id}`` for ``GET …/?rest_route=/wp/v2/posts/12&context=edit``."""
    route = parse_qs(urlsplit(url).query).get("rest_route", ["?"])[0]
    return f"{method} {_ID.sub('/{id}', route)}"


@dataclass
class Spent:
    """Wall time of HTTP requests, by kind, and when they ran (requests may overlap)."""

    seconds: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    calls: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    spans: list[tuple[float, float]] = field(default_factory=list)

    def add(self, kind: str, start: float, end: float) -> None:
        self.seconds[kind] += end - start
        self.calls[kind] += 1
        self.spans.append((start, end))

    def waiting(self) -> float:
        """Time during which at least one request was under way."""
        total, reach = 0.0, float("-inf")
        for start, end in sorted(self.spans):
            if end > reach:
                total += end - max(start, reach)
                reach = end
        return total

    def clear(self) -> None:
        self.seconds.clear()
        self.calls.clear()
        self.spans.clear()


def _timed(send: Callable[..., requests.Response], spent: Spent) -> Callable[..., Any]:
    def timed_send(request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        t0 = time.perf_counter()
        try:
            return send(request, **kwargs)
        finally:
            kind = request_kind(str(request.method), str(request.url))
            spent.add(kind, t0, time.perf_counter())

    return timed_send


def instrument(connector: object, spent: Spent) -> None:
    """Time every request of the ``requests`` sessions ``connector`` holds, directly or
    through a helper object (one level down)."""
    held = list(vars(connector).values())
    held += [v for h in held if hasattr(h, "__dict__") for v in vars(h).values()]
    sessions = [h for h in held if isinstance(h, requests.Session)]
    assert sessions, "the connector holds no requests session"
    for session in sessions:
        session.send = _timed(session.send, spent)  # type: ignore[method-assign]


def timed_cms(board: Board, spent: Spent) -> WordPressCms:
    """The board's WordPress connector, its requests timed."""
    assert board.publish.wordpress is not None
    connector = WordPressCms(board.publish.wordpress)
    instrument(connector, spent)
    return connector


# -- set-up -------------------------------------------------------------------------------
def wordpress_board(wp: WordPress) -> Board:
    """The demo board, publishing its education items to ``wp`` (tests' settings)."""
    data = load_board(CONFIG / "demo.toml").model_dump(exclude={"source_file"})
    data["publish"] = {
        "connector": "wordpress",
        "wordpress": {
            "url": wp.url,
            "username": wp.username,
            "password": f"env:{PASSWORD_ENV}",
            "timeout_seconds": 30,
        },
        "sections": {"giao-duc": SECTION},
        "attribution": "Theo Cổng TTĐT (bản chạy thử)",
    }
    return Board.model_validate(data)


def submit(rig: Rig, n: int, first: int, rng: random.Random, with_image: bool) -> list[int]:
    """Mail ``n`` distinct submissions into the board's Maildir and read them in."""
    words = NEWS_BODY.split("\n\n")
    for i in range(first, first + n):
        body = "\n\n".join([*words[:3], f"Đây là tin số {i} của đợt thử nghiệm.", *words[3:]])
        rig.drop(
            article_mail(
                SENDER,
                DEMO_BOX,
                f"{rng.choice(TOPICS)} (tin số {i})",
                body,
                message_id=f"<publish-bench-{i}@sgddt.demo.bientap.vn>",
                attachments=[(*IMAGE, PNG)] if with_image else None,
            )
        )
    before = {i.id for i in rig.items()}
    rig.runner.run_once()
    ids = [i.id for i in rig.items() if i.id not in before]
    assert len(ids) == n, f"{len(ids)} of {n} submissions stored"
    return ids


def approve(rig: Rig, item_id: int) -> float:
    """Walk the item through the board's review path; the time the approval committed."""
    approved_at = 0.0
    while True:
        with rig.sessions.begin() as s:
            task = s.scalars(
                select(ReviewTask)
                .where(ReviewTask.submission_id == item_id, ReviewTask.state == TaskState.PENDING)
                .order_by(ReviewTask.id)
                .limit(1)
            ).first()
            if task is None:
                break
            item = s.get(Submission, item_id)
            assert item is not None
            review.act(
                Desk(rig.board, s, rig.runner.links, rig.files),
                task.id,
                task.member_id,
                Decision(Verb.APPROVE),
                item.content_hash or "",
                Evidence("cli"),
            )
        approved_at = time.perf_counter()
    return approved_at


def publisher(rig: Rig, spent: Spent) -> Publisher:
    target = timed_cms(rig.board, spent)
    return Publisher(rig.board, rig.sessions, target, rig.files, rig.runner.links)


def verified(rig: Rig, ids: list[int]) -> int:
    with rig.sessions() as s:
        return len(
            s.scalars(
                select(Publication.id).where(
                    Publication.submission_id.in_(ids), Publication.state == PubState.VERIFIED
                )
            ).all()
        )


# -- the raw call ---------------------------------------------------------------------------
class RawWordPress:
    """WordPress's own REST calls, as a client without bientap would make them."""

    def __init__(self, wp: WordPress) -> None:
        self.wp = wp
        self.http = requests.Session()
        self.http.auth = wp.auth
        self._terms: dict[tuple[str, str], int] = {}

    def term(self, taxonomy: str, name: str) -> int:
        """Looked up once, untimed (the connector caches them too)."""
        if (taxonomy, name) not in self._terms:
            found = self.wp.rest("GET", f"/wp/v2/{taxonomy}", params={"search": name})
            match = next((t for t in found if t["name"] == name), None)
            if match is None:
                match = self.wp.rest("POST", f"/wp/v2/{taxonomy}", json={"name": name})
            self._terms[(taxonomy, name)] = int(match["id"])
        return self._terms[(taxonomy, name)]

    def fields(self, a: Article, featured: int) -> dict[str, Any]:
        """What the connector sends for ``a``."""
        return {
            "title": a.title,
            "content": a.body_html,
            "excerpt": a.summary,
            "slug": a.key,
            "status": "publish",
            "tags": [self.term("tags", t) for t in a.tags],
            "meta": {"bientap_key": a.key},
            "featured_media": featured,
            "categories": [self.term("categories", a.section or SECTION)],
        }

    def create(self, a: Article) -> tuple[float, int]:
        """Upload the article's photos (if any) and create the post; seconds taken, and
        the post's id."""
        fields = self.fields(a, 0)  # terms first: untimed
        t0 = time.perf_counter()
        for m in a.media:
            response = self.http.post(
                self.wp.rest_url("/wp/v2/media"),
                data=m.data,
                headers={
                    "Content-Disposition": 'attachment; filename="anh-hoat-dong.png"',
                    "Content-Type": m.content_type,
                },
                timeout=30,
            )
            response.raise_for_status()
            fields["featured_media"] = response.json()["id"]
        response = self.http.post(self.wp.rest_url("/wp/v2/posts"), json=fields, timeout=30)
        elapsed = time.perf_counter() - t0
        response.raise_for_status()
        post = response.json()
        assert post["status"] == "publish"
        return elapsed, int(post["id"])

    def read(self, post_id: int) -> float:
        """Read the post back as the connector's verification does; seconds taken."""
        params = {"context": "edit", "_fields": POST_FIELDS}
        url = self.wp.rest_url(f"/wp/v2/posts/{post_id}")
        t0 = time.perf_counter()
        response = self.http.get(url, params=params, timeout=30)
        elapsed = time.perf_counter() - t0
        response.raise_for_status()
        assert response.json()["id"] == post_id
        return elapsed


def raw_article(rig: Rig, item_id: int, n: int) -> Article:
    """The article bientap would publish for the item, under a key of its own."""
    with rig.sessions() as s:
        item = s.get(Submission, item_id)
        assert item is not None
        return article(rig.board, item, f"raw-bench-{item_id}-{n}", rig.files)


# -- the runs -------------------------------------------------------------------------------
@dataclass
class PerItem:
    raw: list[float]
    raw_read: list[float]  # the raw read-back of the post just created
    pipeline: list[float]
    spent: Spent


def per_item(rig: Rig, raw: RawWordPress, ids: list[int]) -> PerItem:
    """Raw create and approve → verified, item by item, alternately."""
    spent = Spent()
    outlet = publisher(rig, spent)
    warm = ids[0]  # first item: term look-ups, connections; not counted
    raw.create(raw_article(rig, warm, 0))
    approve(rig, warm)
    assert outlet.run_once().verified == 1
    spent.clear()
    raws, reads, pipes = [], [], []
    for n, item_id in enumerate(ids[1:], start=1):
        created, post_id = raw.create(raw_article(rig, item_id, n))
        raws.append(created)
        reads.append(raw.read(post_id))
        approved_at = approve(rig, item_id)
        result = outlet.run_once()
        pipes.append(time.perf_counter() - approved_at)
        assert result.verified == 1, result
    return PerItem(raws, reads, pipes, spent)


@dataclass
class Batch:
    rate: float  # items/s, approval to verified, one run_once
    raw_rate: float  # raw create calls/s, half just before the drain and half just after
    spent: Spent


def batch(rig: Rig, raw: RawWordPress, ids: list[int]) -> Batch:
    """Items/s of one run_once draining ``ids``, all approved beforehand."""
    spent = Spent()
    outlet = publisher(rig, spent)
    for item_id in ids:
        approve(rig, item_id)
    articles = [raw_article(rig, item_id, -1) for item_id in ids]
    half = len(articles) // 2
    raw_seconds = sum(raw.create(a)[0] for a in articles[:half])
    t0 = time.perf_counter()
    result = outlet.run_once()
    elapsed = time.perf_counter() - t0
    raw_seconds += sum(raw.create(a)[0] for a in articles[half:])
    assert result.verified == len(ids), result
    assert verified(rig, ids) == len(ids)
    return Batch(len(ids) / elapsed, len(articles) / raw_seconds, spent)


# -- report -------------------------------------------------------------------------------
def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20, method="inclusive")[-1]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:7.1f} ms"


def where_the_time_goes(spent: Spent, items: int, total: float) -> None:
    print("  where a pipeline item's time goes (mean per item; requests may overlap):")
    for kind in sorted(spent.seconds, key=lambda k: -spent.seconds[k]):
        calls = spent.calls[kind] / items
        print(f"    {kind:<32} {ms(spent.seconds[kind] / items)}  ({calls:.2f} calls)")
    print(f"    {'waiting for WordPress, in all':<32} {ms(spent.waiting() / items)}")
    own = (total - spent.waiting()) / items
    print(f"    {'bientap (db, article, compare)':<32} {ms(own)}")


def report_per_item(run: PerItem, raw_call: str) -> None:
    raw_med, pipe_med = statistics.median(run.raw), statistics.median(run.pipeline)
    read_med = statistics.median(run.raw_read)
    ratio = pipe_med / raw_med
    print(f"per item, one at a time, {len(run.pipeline)} items (median / p95):")
    print(f"  raw WordPress {raw_call:<21}: {ms(raw_med)} / {ms(p95(run.raw))}  (baseline)")
    print(f"  raw WordPress read-back GET        : {ms(read_med)} / {ms(p95(run.raw_read))}")
    print(f"  approval -> verified (bientap)     : {ms(pipe_med)} / {ms(p95(run.pipeline))}")
    met = "met" if ratio <= TARGET else "NOT met"
    print(f"  ratio of medians: {ratio:.2f}x (target <= {TARGET}x): {met}")
    floor = (raw_med + read_med) / raw_med
    over = pipe_med - raw_med - read_med
    print(f"  floor with a separate read-back (create + GET): {floor:.2f}x")
    print(f"  above the floor: {ms(over).strip()} = {over / raw_med:.0%} of a create", end=" ")
    print("(the media listing beside the GET, bientap's own work)")
    where_the_time_goes(run.spent, len(run.pipeline), sum(run.pipeline))


def report_batch(drain: Batch, items: int, raw_call: str) -> None:
    share = drain.rate / drain.raw_rate
    print(f"batch of {items} approved at once, drained by one run_once:")
    print(f"  raw WordPress {raw_call:<21}: {drain.raw_rate:7.1f} /s  (baseline, sequential)")
    print(f"  publish + verify (bientap)         : {drain.rate:7.1f} /s  = {share:.2f} of raw")
    where_the_time_goes(drain.spent, items, items / drain.rate)


def load() -> str:
    return "load average " + ", ".join(f"{v:.2f}" for v in os.getloadavg())


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=200, help="items per run")
    parser.add_argument("--with-image", action="store_true", help="one photo per item")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    n = args.items
    rng = random.Random(args.seed)
    raw_call = "upload + create post" if args.with_image else "create post"
    with tempfile.TemporaryDirectory() as tmpdir, WordPress() as wp:
        os.environ[PASSWORD_ENV] = wp.app_password
        tmp = Path(tmpdir)
        rig = make_rig(tmp, f"sqlite:///{tmp}/bench.db", wordpress_board(wp))
        raw = RawWordPress(wp)
        one_by_one = submit(rig, n + 1, 0, rng, args.with_image)
        drained = submit(rig, n, n + 1, rng, args.with_image)
        what = "with one photo each" if args.with_image else "without attachments"
        print(f"WordPress at {wp.url}, items {what}, SQLite, one publisher")
        print(f"{os.cpu_count()} CPUs, {load()} (other work on the machine skews every figure)")
        report_per_item(per_item(rig, raw, one_by_one), raw_call)
        report_batch(batch(rig, raw, drained), n, raw_call)
        print(f"at the end: {load()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
