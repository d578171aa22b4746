"""The embedded default CMS: pages written to a folder any web server can serve.

Each post is ``posts/<slug>-<shortkey>/index.html`` (``remote_id`` is that folder's
name) with its media beside it; ``index.html`` at the root lists the newest posts and
links to ``trang/<n>/``, the older ones ``PAGE_SIZE`` a page, newest first;
``index.json`` holds ``id``, ``key``, ``title``, ``url``, ``section``, ``language``,
``published`` and ``updated`` for each (``find`` reads it). Every file is written to a
temporary name and moved into place (``os.replace``), under a lock, so a reader never
sees half a page and two workers never lose an index entry. A page is in the language
of its article (the labels around it too: ``LABELS``), the lists in Vietnamese.

The page is built with Jinja2, autoescaping on: the body is the only markup let
through, as the pipeline sanitised it; title, credit, section, document fields and file
names are escaped. Inline images (``cid:`` in the body) are rewritten to the written
file, relative to the page. The static site cannot schedule: a post is written at once
and shows ``scheduled_at`` as its date.

``Live.body_html`` is the body as stored: the article body after ``cid:`` rewriting
(NFC), without anything the page adds around it (summary, credit, files); ``read``
returns exactly the stored bytes between the ``<!--bientap:body-->`` markers (the
sanitiser strips comments, so a body cannot forge them). ``Live.meta`` holds ``key`` and
the document fields (``document_number``…), from ``<meta name="bientap:…">`` tags, as
do ``Live.section`` and ``Live.tags`` (always read: compared by verification).
``Live.media`` lists the written file names, sorted.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote
from zoneinfo import ZoneInfo

from bs4 import BeautifulSoup, Tag
from jinja2 import Environment, FileSystemLoader, select_autoescape

from connectors.cms import (
    TERMS,
    Article,
    CmsError,
    CmsRejected,
    CmsTransient,
    Live,
    Media,
    document_values,
)
from connectors.media import (
    cids_in,
    content_id,
    nfc,
    post_slug,
    rewrite_cids,
    safe_filename,
)
from pipeline.config import StaticSite
from pipeline.files import write_atomic
from pipeline.sanitize import html_to_text
from pipeline.textfold import mentions, opens_with

TIMEZONE = ZoneInfo("Asia/Ho_Chi_Minh")
BODY_START, BODY_END = "<!--bientap:body-->", "<!--/bientap:body-->"
DOCUMENT_FIELDS = ("kind", "number", "issuer", "issued", "effective", "summary")
# What a page says around the article, in the article's language (Bình Phước Đ7.2 runs an
# English edition): a reader of it, or his screen reader, is told the page's language.
LABELS: dict[str, dict[str, str]] = {
    "vi": {
        "site": "Tin bài đã đăng",
        "published": "Đăng ngày",
        "updated": "Cập nhật",
        "document": "Thông tin văn bản",
        "files": "Tệp đính kèm",
        "tags": "Từ khóa",
        "kind": "Loại văn bản",
        "number": "Số, ký hiệu",
        "issuer": "Cơ quan ban hành",
        "issued": "Ngày ban hành",
        "effective": "Ngày hiệu lực",
        "summary": "Trích yếu",
    },
    "en": {
        "site": "Published news",
        "published": "Published",
        "updated": "Updated",
        "document": "Document details",
        "files": "Attachments",
        "tags": "Keywords",
        "kind": "Type",
        "number": "Number",
        "issuer": "Issued by",
        "issued": "Date of issue",
        "effective": "Effective from",
        "summary": "Summary",
    },
}
SITE_LANGUAGE = "vi"  # the index lists every post, whatever its language
PAGE_SIZE = 50  # posts a list shows: a home page of 20,000 was 5 MB, rewritten in 1 s
_LOCAL_FILE = re.compile(r"(?:[0-9]+/)?[^/:?#.][^/:?#]*")  # "anh.jpg", "2/anh.jpg"
_REMOTE_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,100}")

_ENV = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)

# ---------------------------------------------------------------------------
# The site


def _size(data: bytes) -> str:
    size = len(data)
    if size < 1024:
        return f"{size} B"
    if size < 1024 * 1024:
        return f"{size / 1024:.0f} KB".replace(".", ",")
    return f"{size / 1024 / 1024:.1f} MB".replace(".", ",")


def _when(moment: datetime) -> str:
    return moment.astimezone(TIMEZONE).strftime("%d/%m/%Y %H:%M")


def _iso(moment: datetime) -> str:
    """A moment as HTML's ``<time datetime>`` takes it: whole seconds (HTML allows three
    digits of a second at most; ``isoformat`` may write six)."""
    return moment.isoformat(timespec="seconds")


def _day(iso: str) -> str:
    try:
        return datetime.strptime(iso[:10], "%Y-%m-%d").strftime("%d/%m/%Y")
    except ValueError:
        return iso


@dataclass(frozen=True)
class _Placed:
    media: Media
    name: str  # the file name
    where: str  # the path relative to the page: "anh.jpg" or "2/anh.jpg"

    @property
    def href(self) -> str:
        return quote(self.where)


@contextlib.contextmanager
def _disk(what: str) -> Iterator[None]:
    """File-system failures as CMS errors, ``what`` failed said in Vietnamese first (the
    staff read it): permissions and a name too long for the file system will not fix
    themselves (the error names both paths of a move)."""
    try:
        yield
    except OSError as exc:
        paths = ": ".join(str(p) for p in (exc.filename, exc.filename2) if p is not None)
        message = f"Trang tĩnh: {what}: {exc.strerror}: {paths}"
        if isinstance(exc, PermissionError) or exc.errno == errno.ENAMETOOLONG:
            raise CmsRejected(message) from exc
        raise CmsTransient(message) from exc


def _write_atomic(path: Path, data: bytes) -> None:
    write_atomic(path, data, mode=0o644)  # served by a web server running as someone else


def _write_changed(path: Path, text: str) -> None:
    """``text`` to ``path`` unless it holds it already (a list page a change left alone)."""
    data = text.encode("utf-8")
    with contextlib.suppress(OSError):
        if path.read_bytes() == data:
            return
    path.parent.mkdir(parents=True, exist_ok=True)
    _write_atomic(path, data)


def _newest_first(entry: dict[str, Any]) -> tuple[str, str]:
    """The order of the lists (reversed): publication time, then id."""
    return entry["published"], entry["id"]


def _page_of(position: int) -> int:
    """The ``trang/<n>/`` page of the post at ``position`` counted from the oldest (0)."""
    return position // PAGE_SIZE + 1


def _list_page(entries: list[dict[str, Any]], home: str, older: int, newer: int | None) -> str:
    """A list of posts, newest first; ``home`` is the way from the page to the site's
    root, ``older``/``newer`` the neighbouring ``trang/<n>/`` pages (0/None: none; a
    newer page of None from an archive page is the home page)."""
    posts = [
        {
            **e,
            "href": f"{home}posts/{e['id']}/",
            "published_iso": _iso(datetime.fromisoformat(e["published"])),
            "published_text": _when(datetime.fromisoformat(e["published"])),
        }
        for e in entries
    ]
    dates = [p["published_text"][:10] for p in posts]
    return _ENV.get_template("site_index.html").render(
        posts=posts,
        home=home or "./",
        span=(dates[-1], dates[0]) if home and dates else None,
        older=f"{home}trang/{older}/" if older else "",
        newer=(f"{home}trang/{newer}/" if newer else home) if home else "",
        language=SITE_LANGUAGE,
        labels=LABELS[SITE_LANGUAGE],
    )


def _remove_stale(folder: Path, keep: set[str]) -> None:
    """Files a rewritten post no longer uses (and subfolders left empty)."""
    for path in sorted(folder.rglob("*"), reverse=True):
        relative = path.relative_to(folder).as_posix()
        if path.is_dir():
            if not any(path.iterdir()):
                path.rmdir()
        elif relative not in keep:
            path.unlink()


class StaticSiteCms:
    """Writes posts as static pages under ``settings.path`` (relative: in ``data_dir``)."""

    name = "static"

    def __init__(self, settings: StaticSite, data_dir: Path) -> None:
        root = Path(settings.path)
        self.root = root if root.is_absolute() else Path(data_dir) / root
        self.base_url = settings.base_url.rstrip("/") + "/"

    # -- paths and the index

    def _folder(self, remote_id: str) -> Path:
        if not _REMOTE_ID.fullmatch(remote_id):
            raise CmsRejected(f"Trang tĩnh: không phải mã tin, bài (not a post id): {remote_id!r}")
        return self.root / "posts" / remote_id

    def _url(self, remote_id: str) -> str:
        return f"{self.base_url}posts/{remote_id}/"

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        with _disk("không khóa được thư mục trang (cannot lock the site)"):
            (self.root / "posts").mkdir(parents=True, exist_ok=True)
            fh = (self.root / ".lock").open("a")
        try:
            fcntl.flock(fh, fcntl.LOCK_EX)
            yield
        finally:
            fh.close()

    def _entries(self) -> list[dict[str, Any]]:
        path = self.root / "index.json"
        with _disk("không đọc được danh sách tin, bài (cannot read index.json)"):
            if not path.exists():
                return []
            text = path.read_text("utf-8")
        try:
            entries = json.loads(text)
        except ValueError as exc:
            raise CmsRejected(
                f"Trang tĩnh: danh sách tin, bài bị hỏng ({path} is damaged: {exc})"
            ) from exc
        if not isinstance(entries, list):
            raise CmsRejected(
                f"Trang tĩnh: danh sách tin, bài bị hỏng ({path} is not a list of posts)"
            )
        return entries

    def _write_index(self, before: list[dict[str, Any]], entries: list[dict[str, Any]]) -> None:
        """``index.json`` and the lists: ``trang/<n>/`` shows ``PAGE_SIZE`` posts a page
        counted from the oldest, so that a new post changes the newest page only;
        ``index.html`` the newest, from the start of a page on (``PAGE_SIZE`` to twice as
        many), and a link to the page before. A list is written only from where ``before``
        and ``entries`` differ (and where its file is missing), and only if it changed."""
        entries.sort(key=_newest_first, reverse=True)
        oldest = entries[::-1]
        was = sorted(before, key=_newest_first)
        same = next((i for i, (a, b) in enumerate(zip(was, oldest, strict=False)) if a != b), None)
        changed = min(len(was), len(oldest)) if same is None else same
        count = max(1, -(-len(entries) // PAGE_SIZE))
        # from the page of the first change; the page that was the newest links on anew
        first = min(_page_of(changed), max(1, -(-len(was) // PAGE_SIZE)))
        with _disk("không ghi được danh sách tin, bài (cannot write the index)"):
            # a post a line: indent=… would take Python's own encoder, ten times slower
            lines = ",\n".join(json.dumps(e, ensure_ascii=False) for e in entries)
            data = f"[\n{lines}\n]\n".encode()
            _write_atomic(self.root / "index.json", data)
            # the newest posts, from the start of a page on: the older pages follow it
            start = (max(0, len(entries) - PAGE_SIZE) // PAGE_SIZE) * PAGE_SIZE
            older = _page_of(start - 1) if start else 0
            home = _list_page(oldest[start:][::-1], "", older=older, newer=None)
            _write_changed(self.root / "index.html", home)
            for number in range(1, count + 1):
                path = self.root / "trang" / str(number) / "index.html"
                if number >= first or not path.exists():
                    shown = oldest[(number - 1) * PAGE_SIZE : number * PAGE_SIZE][::-1]
                    newer = number + 1 if number < count else None
                    page = _list_page(shown, "../../", older=number - 1, newer=newer)
                    _write_changed(path, page)
            for stale in (self.root / "trang").glob("*"):
                if not (stale.name.isdigit() and 1 <= int(stale.name) <= count):
                    shutil.rmtree(stale)

    # -- writing a post

    def _place(self, article: Article) -> list[_Placed]:
        """Where each medium goes: beside the page, or in ``2/``, ``3/``… when its name
        is taken (mail often carries two ``image001.jpg``); names stay as sent. A folder
        and a file never share a name (a file may well be called "2")."""
        files: set[str] = {"index.html"}
        folders: set[str] = set()
        placed = []
        for media in article.media:
            name = safe_filename(media.filename)
            where, n = name, 1
            while (key := where.lower()) in files | folders or key.partition("/")[0] in files:
                n += 1
                where = f"{n}/{name}"
            files.add(key)
            if "/" in key:
                folders.add(key.partition("/")[0])
            placed.append(_Placed(media, name, where))
        return placed

    def _page(
        self,
        article: Article,
        body: str,
        placed: list[_Placed],
        published: datetime,
        updated: datetime | None,
    ) -> str:
        inline = cids_in(article.body_html)  # shown in the body: not again below it
        referenced = [
            p for p in placed if p.media.content_id and content_id(p.media.content_id) in inline
        ]
        rest = [p for p in placed if p not in referenced]
        gallery = [p for p in rest if p.media.role == "image"]
        files = [
            {"name": p.name, "href": p.href, "size": _size(p.media.data)}
            for p in rest
            if p.media.role != "image"
        ]
        text = html_to_text(body)
        summary, author = nfc(article.summary), nfc(article.author or "")
        language = article.language if article.language in LABELS else SITE_LANGUAGE
        return _ENV.get_template("site_post.html").render(
            language=language,
            content_language="" if article.language == language else article.language,
            labels=LABELS[language],
            title=nfc(article.title),
            summary=summary,
            # a summary cut from the body's opening is no sapo: the reader would read it twice
            lead="" if opens_with(text, summary.removesuffix("…")) else summary,
            author="" if mentions(text, author) else author,  # a credit the body carries
            section=nfc(article.section or ""),
            tags=[nfc(t) for t in article.tags],
            body=body,
            gallery=gallery,
            files=files,
            document=self._document_rows(article, LABELS[language]),
            meta=list(self._meta(article).items())
            + ([("section", nfc(article.section))] if article.section else [])
            + [("tag", nfc(t)) for t in article.tags],
            published_iso=_iso(published),
            published_text=_when(published),
            updated_iso=_iso(updated) if updated else "",
            updated_text=_when(updated) if updated else "",
        )

    @staticmethod
    def _document_rows(article: Article, labels: dict[str, str]) -> list[tuple[str, str]]:
        doc = article.document
        if doc is None:
            return []
        rows = []
        for name in DOCUMENT_FIELDS:
            value = getattr(doc, name)
            if value:
                shown = _day(value) if name in ("issued", "effective") else nfc(value)
                rows.append((labels[name], shown))
        return rows

    @staticmethod
    def _meta(article: Article) -> dict[str, str]:
        meta = {"key": article.key}
        meta.update({k: nfc(v) for k, v in document_values(article.document).items() if v})
        return meta

    def _write_post(
        self, remote_id: str, article: Article, published: datetime, updated: datetime | None
    ) -> Live:
        folder = self._folder(remote_id)
        placed = self._place(article)
        urls = {p.media.content_id: p.href for p in placed if p.media.content_id}
        body = nfc(rewrite_cids(article.body_html, urls))
        page = self._page(article, body, placed, published, updated)
        with _disk(f"không ghi được tin, bài (cannot write post {remote_id})"):
            folder.mkdir(parents=True, exist_ok=True)
            for p in placed:
                (folder / p.where).parent.mkdir(exist_ok=True)
                _write_atomic(folder / p.where, p.media.data)
            _write_atomic(folder / "index.html", page.encode("utf-8"))
            _remove_stale(folder, {p.where for p in placed} | {"index.html"})
        return Live(
            remote_id=remote_id,
            url=self._url(remote_id),
            title=nfc(article.title),
            body_html=body,
            section=nfc(article.section) if article.section else None,
            tags=tuple(nfc(t) for t in article.tags),
            media=tuple(sorted(p.name for p in placed)),
            meta=self._meta(article),
            known=TERMS,
        )

    def _save(self, remote_id: str, article: Article, entries: list[dict[str, Any]]) -> Live:
        now = datetime.now(UTC)
        old = next((e for e in entries if e["id"] == remote_id), None)
        if old is not None:
            published, updated = datetime.fromisoformat(old["published"]), now
        else:
            published, updated = (article.scheduled_at or now).astimezone(UTC), None
        live = self._write_post(remote_id, article, published, updated)
        entry = {
            "id": remote_id,
            "key": article.key,
            "title": live.title,
            "url": live.url,
            "section": live.section,
            "language": article.language,
            "published": published.isoformat(),
            "updated": now.isoformat(),
        }
        self._write_index(entries, [e for e in entries if e["id"] != remote_id] + [entry])
        return live

    # -- the Cms interface

    def publish(self, article: Article) -> Live:
        """Write the post; publishing a key again rewrites the same post."""
        with self._locked():
            entries = self._entries()
            old = next((e for e in entries if e.get("key") == article.key), None)
            remote_id = old["id"] if old else post_slug(article.title, article.key)
            return self._save(remote_id, article, entries)

    def update(self, remote_id: str, article: Article) -> Live:
        with self._locked():
            entries = self._entries()
            if not any(e["id"] == remote_id for e in entries):
                raise CmsRejected(f"Trang tĩnh: không có tin, bài {remote_id} (no post)", 404)
            return self._save(remote_id, article, entries)

    def withdraw(self, remote_id: str) -> None:
        folder = self._folder(remote_id)
        with self._locked():
            entries = self._entries()
            with _disk(f"không gỡ được tin, bài (cannot remove post {remote_id})"):
                trash = folder.with_name(f".withdrawn-{remote_id}")
                if trash.exists():  # left by an earlier attempt that failed half-way
                    shutil.rmtree(trash)
                if folder.exists():
                    os.replace(folder, trash)  # gone from the web at once
                    shutil.rmtree(trash)
            self._write_index(entries, [e for e in entries if e["id"] != remote_id])

    def find(self, key: str) -> Live | None:
        entry = next((e for e in self._entries() if e.get("key") == key), None)
        return self.read(entry["id"]) if entry else None

    def read(self, remote_id: str) -> Live | None:
        path = self._folder(remote_id) / "index.html"
        with _disk(f"không đọc được tin, bài (cannot read post {remote_id})"):
            if not path.exists():
                return None
            page = path.read_text("utf-8")
        return self._parse(remote_id, page)

    def close(self) -> None:
        pass

    # -- reading a page back

    def _parse(self, remote_id: str, page: str) -> Live:
        soup = BeautifulSoup(page, "html.parser")
        heading = soup.find("h1")
        container = soup.find(id="noi-dung")
        if not isinstance(container, Tag):
            raise CmsError(
                f"Trang tĩnh: trang tin, bài {remote_id} không có phần nội dung (no article body)"
            )
        start, end = page.find(BODY_START), page.rfind(BODY_END)
        if 0 <= start < end:
            body = page[start + len(BODY_START) : end]
        else:
            body = container.decode_contents()
        meta: dict[str, str] = {}
        section: str | None = None
        tags: list[str] = []
        for tag in soup.find_all("meta"):
            name = str(tag.get("name") or "")
            if not name.startswith("bientap:"):
                continue
            value = str(tag.get("content") or "")
            if name == "bientap:section":
                section = value
            elif name == "bientap:tag":
                tags.append(value)
            else:
                meta[name.removeprefix("bientap:")] = value
        return Live(
            remote_id=remote_id,
            url=self._url(remote_id),
            title=heading.get_text().strip() if heading else "",
            body_html=body,
            section=section,
            tags=tuple(tags),
            media=self._media_names(soup),
            meta=meta,
            known=TERMS,
        )

    @staticmethod
    def _media_names(soup: BeautifulSoup) -> tuple[str, ...]:
        """Names of the files the page uses from its own folder."""
        paths: set[str] = set()
        article = soup.find("article")
        for tag in (article if isinstance(article, Tag) else soup).find_all(["img", "a"]):
            ref = str(tag.get("src") or tag.get("href") or "")
            if _LOCAL_FILE.fullmatch(ref):  # still percent-encoded: no ":" from a file name
                paths.add(unquote(ref))
        return tuple(sorted(p.rsplit("/", 1)[-1] for p in paths))
