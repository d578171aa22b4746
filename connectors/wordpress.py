"""WordPress through its REST API (``/wp/v2``), with an Application Password.

A post gets its category (the board's section) and tags, its images and files
uploaded as media (inline ``cid:`` images rewritten to the media URLs, the first
photo as featured image, files listed as download links under the article), an
official document's metadata as post meta (``bientap_document_*``, registered by
the site: see the README), and the idempotency key both as its slug and as the
``bientap_key`` meta: ``find`` asks for the slug, which any WordPress can answer.

Routes are reached as ``?rest_route=/wp/v2/…``, which works with and without pretty
permalinks.
"""

from __future__ import annotations

import re
import unicodedata
from html import escape, unescape
from typing import Any
from urllib.parse import quote

import requests

from connectors.cms import Article, CmsRejected, CmsTransient, Live, Media
from pipeline.config import WordPress

FILES_MARK = "<!-- bientap:files -->"  # what follows is the download list we add
DOCUMENT_META = ("kind", "number", "issuer", "issued", "effective", "summary")
_CID = re.compile(r"""(src=["'])cid:([^"']+)(["'])""", re.IGNORECASE)


class WordPressCms:
    name = "wordpress"

    def __init__(self, settings: WordPress) -> None:
        self.settings = settings
        self.http = requests.Session()
        self.http.auth = (settings.username, settings.password.reveal())
        self._terms: dict[tuple[str, str], int] = {}

    # -- HTTP ------------------------------------------------------------------------------
    def _url(self, route: str, **params: str | int) -> str:
        query = "".join(f"&{k}={quote(str(v), safe='')}" for k, v in params.items())
        return f"{self.settings.url.rstrip('/')}/?rest_route={quote(route, safe='/')}{query}"

    def _call(
        self, method: str, route: str, params: dict[str, Any] | None = None, **kw: Any
    ) -> Any:
        url = self._url(route, **(params or {}))
        try:
            response = self.http.request(method, url, timeout=self.settings.timeout_seconds, **kw)
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise CmsTransient(f"WordPress {method} {route}: {type(exc).__name__}") from None
        if response.status_code >= 500 or response.status_code == 429:
            raise CmsTransient(f"WordPress {method} {route}: HTTP {response.status_code}")
        if response.status_code >= 400:
            raise CmsRejected(
                f"WordPress {method} {route}: HTTP {response.status_code}: {_message(response)}",
                response.status_code,
            )
        return response.json() if response.content else None

    # -- terms and media -----------------------------------------------------------------
    def _term(self, taxonomy: str, name: str) -> int:
        """The id of a category or tag, created when the site lacks it."""
        if (taxonomy, name) in self._terms:
            return self._terms[(taxonomy, name)]
        found = self._call("GET", f"/wp/v2/{taxonomy}", {"search": name, "per_page": 100})
        match = next((t for t in found if unescape(t["name"]) == name), None)
        if match is None:
            match = self._call("POST", f"/wp/v2/{taxonomy}", json={"name": name})
        self._terms[(taxonomy, name)] = int(match["id"])
        return int(match["id"])

    def _attached(self, post_id: str) -> dict[str, dict[str, Any]]:
        items = self._call(
            "GET", "/wp/v2/media", {"parent": post_id, "per_page": 100, "context": "edit"}
        )
        return {unescape(m["title"]["raw"]): m for m in items}

    def _upload(self, media: Media) -> dict[str, Any]:
        disposition = f'attachment; filename="{ascii_name(media.filename)}"'
        uploaded = self._call(
            "POST",
            "/wp/v2/media",
            data=media.data,
            headers={"Content-Disposition": disposition, "Content-Type": media.content_type},
        )
        # WordPress makes the title from a mangled file name: keep the real one
        return dict(
            self._call("POST", f"/wp/v2/media/{uploaded['id']}", json={"title": media.filename})
        )

    def _media(self, article: Article, post_id: str | None) -> dict[str, dict[str, Any]]:
        have = self._attached(post_id) if post_id else {}
        return {m.filename: have.get(m.filename) or self._upload(m) for m in article.media}

    # -- the post ------------------------------------------------------------------------
    def _content(self, article: Article, uploaded: dict[str, dict[str, Any]]) -> str:
        by_cid = {
            m.content_id: escape(uploaded[m.filename]["source_url"])
            for m in article.media
            if m.content_id
        }
        body = _CID.sub(
            lambda g: f"{g[1]}{by_cid.get(g[2], 'cid:' + g[2])}{g[3]}", article.body_html
        )
        files = [m for m in article.media if m.role == "file"]
        if not files:
            return body
        rows = "".join(
            f'<li><a href="{escape(uploaded[m.filename]["source_url"])}">'
            f"{escape(m.filename)}</a></li>"
            for m in files
        )
        return f"{body}\n{FILES_MARK}\n<ul>{rows}</ul>"

    def _fields(self, article: Article, uploaded: dict[str, dict[str, Any]]) -> dict[str, Any]:
        meta = {"bientap_key": article.key}
        if article.document is not None:
            for name in DOCUMENT_META:
                meta[f"bientap_document_{name}"] = getattr(article.document, name) or ""
        images = [uploaded[m.filename]["id"] for m in article.media if m.role == "image"]
        fields: dict[str, Any] = {
            "title": article.title,
            "content": self._content(article, uploaded),
            "excerpt": article.summary,
            "slug": article.key,
            "status": self.settings.status,
            "tags": [self._term("tags", t) for t in article.tags],
            "meta": meta,
            "featured_media": images[0] if images else 0,
        }
        if article.section:
            fields["categories"] = [self._term("categories", article.section)]
        if article.scheduled_at is not None:
            fields["status"] = "future"
            fields["date_gmt"] = article.scheduled_at.strftime("%Y-%m-%dT%H:%M:%S")
        return fields

    def _adopt(self, post_id: str, uploaded: dict[str, dict[str, Any]]) -> None:
        for media in uploaded.values():
            if str(media.get("post") or "") != post_id:
                self._call("POST", f"/wp/v2/media/{media['id']}", json={"post": int(post_id)})

    def publish(self, article: Article) -> Live:
        uploaded = self._media(article, None)
        post = self._call("POST", "/wp/v2/posts", json=self._fields(article, uploaded))
        self._adopt(str(post["id"]), uploaded)
        return self._live(post, list(uploaded))

    def update(self, remote_id: str, article: Article) -> Live:
        uploaded = self._media(article, remote_id)
        post = self._call("POST", f"/wp/v2/posts/{remote_id}", json=self._fields(article, uploaded))
        self._adopt(remote_id, uploaded)
        return self._live(post, list(uploaded))

    def withdraw(self, remote_id: str) -> None:
        self._call("DELETE", f"/wp/v2/posts/{remote_id}")  # to the trash: recoverable

    def find(self, key: str) -> Live | None:
        posts = self._call("GET", "/wp/v2/posts", {"slug": key, "status": "any", "context": "edit"})
        return self.read(str(posts[0]["id"])) if posts else None

    def read(self, remote_id: str) -> Live | None:
        try:
            post = self._call("GET", f"/wp/v2/posts/{remote_id}", {"context": "edit"})
        except CmsRejected as exc:
            if exc.status in (404, 410):
                return None
            raise
        if post.get("status") == "trash":
            return None
        return self._live(post, list(self._attached(remote_id)))

    def _live(self, post: dict[str, Any], media: list[str]) -> Live:
        content = post["content"].get("raw", post["content"].get("rendered", ""))
        meta = {
            k.removeprefix("bientap_"): str(v) for k, v in (post.get("meta") or {}).items() if v
        }
        return Live(
            remote_id=str(post["id"]),
            url=str(post.get("link", "")),
            title=unescape(post["title"].get("raw", post["title"].get("rendered", ""))),
            body_html=content.split(FILES_MARK)[0].rstrip(),
            tags=tuple(str(t) for t in post.get("tags", [])),
            media=tuple(sorted(media)),
            meta=meta,
            status=str(post.get("status", "")),
        )

    def close(self) -> None:
        self.http.close()


def ascii_name(filename: str) -> str:
    """A file name WordPress accepts in Content-Disposition: "Ảnh lễ.png" -> "Anh-le.png"."""
    plain = unicodedata.normalize("NFKD", filename.replace("đ", "d").replace("Đ", "D"))
    plain = "".join(c for c in plain if not unicodedata.combining(c))
    return re.sub(r"[^A-Za-z0-9._-]+", "-", plain).strip("-.") or "tep"


def _message(response: requests.Response) -> str:
    try:
        data = response.json()
    except ValueError:
        return response.text[:500]
    return str(data.get("message") or data)[:500] if isinstance(data, dict) else str(data)[:500]
