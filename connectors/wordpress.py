"""WordPress through its REST API (``/wp/v2``), with an Application Password.

A post gets its category (the board's section) and tags, its images and files
uploaded as media (inline ``cid:`` images rewritten to the media URLs, the first
photo as featured image, files listed as download links under the article), an
official document's metadata as post meta (``bientap_document_*``, registered by
the site: see the README), and the idempotency key both as its slug and as the
``bientap_key`` meta: ``find`` asks for the slug, which any WordPress can answer.

Routes are reached as ``?rest_route=/wp/v2/…``, which works with and without pretty
permalinks. Round trips are kept few: answers carry only the fields read (``_fields``:
WordPress then skips rendering the content and building links), a medium gets its title
on upload and, when the post exists, its post too; a read asks for the post and for the
media attached to it at the same time. HTTP failures are mapped to CMS errors by
``connectors.http.JsonHttp`` (the application password scrubbed from messages).
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from html import unescape
from typing import Any
from urllib.parse import quote

from connectors.cms import Article, CmsRejected, Live, Media, document_values
from connectors.http import JsonHttp, json_answer
from connectors.media import ascii_name, file_list, rewrite_cids
from pipeline.config import WordPress

FILES_MARK = "<!-- bientap:files -->"  # what follows is the download list we add
POST_FIELDS = "id,link,status,title.raw,content.raw,tags,meta"  # what _live reads
MEDIA_FIELDS = "id,post,source_url,title.raw"  # what publishing a post reads of a medium


class WordPressCms:
    name = "wordpress"

    def __init__(self, settings: WordPress) -> None:
        self.settings = settings
        self.http = self._session()
        self.side_http = self._session()  # the media listing, while self.http reads the post
        self._side = ThreadPoolExecutor(max_workers=1, thread_name_prefix="wordpress-media")
        self._terms: dict[tuple[str, str], int] = {}

    def _session(self) -> JsonHttp:
        http = JsonHttp(self.settings.timeout_seconds, self._secrets)
        http.session.auth = (self.settings.username, self.settings.password.reveal())
        return http

    def _secrets(self) -> list[str]:
        password = self.settings.password.reveal()
        return [password, password.replace(" ", "")]  # WordPress takes it either way

    # -- HTTP ------------------------------------------------------------------------------
    def _url(self, route: str, **params: str | int) -> str:
        query = "".join(f"&{k}={quote(str(v), safe='')}" for k, v in params.items())
        return f"{self.settings.url.rstrip('/')}/?rest_route={quote(route, safe='/')}{query}"

    def _call(
        self,
        method: str,
        route: str,
        params: dict[str, Any] | None = None,
        http: JsonHttp | None = None,
        **kw: Any,
    ) -> Any:
        response = (http or self.http).call(method, self._url(route, **(params or {})), **kw)
        assert response is not None  # None only with missing_ok
        return json_answer(response)

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

    def _attached(self, post_id: str, http: JsonHttp | None = None) -> dict[str, dict[str, Any]]:
        params = {"parent": post_id, "per_page": 100, "context": "edit", "_fields": MEDIA_FIELDS}
        items = self._call("GET", "/wp/v2/media", params, http)
        return {unescape(m["title"]["raw"]): m for m in items}

    def _upload(self, media: Media, post_id: str | None) -> dict[str, Any]:
        disposition = f'attachment; filename="{ascii_name(media.filename)}"'
        # the real file name as title (WordPress would make one from the mangled name),
        # and the post it belongs to when there is one already
        params = {"title": media.filename, "_fields": MEDIA_FIELDS}
        uploaded = self._call(
            "POST",
            "/wp/v2/media",
            params | ({"post": post_id} if post_id else {}),
            data=media.data,
            headers={"Content-Disposition": disposition, "Content-Type": media.content_type},
        )
        return dict(uploaded)

    def _media(self, article: Article, post_id: str | None) -> dict[str, dict[str, Any]]:
        have = self._attached(post_id) if post_id and article.media else {}
        return {m.filename: have.get(m.filename) or self._upload(m, post_id) for m in article.media}

    # -- the post ------------------------------------------------------------------------
    def _content(self, article: Article, uploaded: dict[str, dict[str, Any]]) -> str:
        urls = {
            m.content_id: uploaded[m.filename]["source_url"] for m in article.media if m.content_id
        }
        body = rewrite_cids(article.body_html, urls)
        files = file_list(
            (uploaded[m.filename]["source_url"], m.filename)
            for m in article.media
            if m.role == "file"
        )
        return f"{body}\n{FILES_MARK}\n{files}" if files else body

    def _fields(self, article: Article, uploaded: dict[str, dict[str, Any]]) -> dict[str, Any]:
        meta = {"bientap_key": article.key}
        if article.document is not None:
            meta |= {f"bientap_{k}": v or "" for k, v in document_values(article.document).items()}
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
                route, fields = f"/wp/v2/media/{media['id']}", {"_fields": "id"}
                self._call("POST", route, fields, json={"post": int(post_id)})

    def publish(self, article: Article) -> Live:
        uploaded = self._media(article, None)
        post = self._call(
            "POST",
            "/wp/v2/posts",
            {"_fields": POST_FIELDS},
            json=self._fields(article, uploaded),
        )
        self._adopt(str(post["id"]), uploaded)
        return self._live(post, list(uploaded))

    def update(self, remote_id: str, article: Article) -> Live:
        uploaded = self._media(article, remote_id)
        post = self._call(
            "POST",
            f"/wp/v2/posts/{remote_id}",
            {"_fields": POST_FIELDS},
            json=self._fields(article, uploaded),
        )
        self._adopt(remote_id, uploaded)
        return self._live(post, list(uploaded))

    def withdraw(self, remote_id: str) -> None:
        # to the trash: recoverable
        self._call("DELETE", f"/wp/v2/posts/{remote_id}", {"_fields": "id"})

    def find(self, key: str) -> Live | None:
        params = {"slug": key, "status": "any", "context": "edit", "_fields": "id"}
        posts = self._call("GET", "/wp/v2/posts", params)
        return self.read(str(posts[0]["id"])) if posts else None

    def read(self, remote_id: str) -> Live | None:
        """The post as WordPress has it now, with every medium attached to it (a post
        changed by hand may have gained some): two requests, sent at the same time."""
        media = self._side.submit(self._attached, remote_id, self.side_http)
        try:
            post = self._post(remote_id)
        except BaseException:
            _settle(media)
            raise
        if post is None:
            _settle(media)
            return None
        return self._live(post, list(media.result()))

    def _post(self, remote_id: str) -> dict[str, Any] | None:
        """The post, or None when it is gone (deleted, in the trash)."""
        params = {"context": "edit", "_fields": POST_FIELDS}
        try:
            post = self._call("GET", f"/wp/v2/posts/{remote_id}", params)
        except CmsRejected as exc:
            if exc.status in (404, 410):
                return None
            raise
        return None if post.get("status") == "trash" else dict(post)

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
        self._side.shutdown(wait=True)
        self.http.close()
        self.side_http.close()


def _settle(future: Future[Any]) -> None:
    """Wait for a request whose answer is not needed any more; its failure too."""
    future.exception()
