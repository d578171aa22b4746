"""WordPress through its REST API (``/wp/v2``), with an Application Password.

A post gets its category (the board's section) and tags, its images and files
uploaded as media (inline ``cid:`` images rewritten to the media URLs, the first
photo as featured image, files listed as download links under the article), an
official document's metadata as post meta (``bientap_document_*``, registered by
the site: see the README), and the idempotency key both as its slug and as the
``bientap_key`` meta: ``find`` asks for the slug, which any WordPress can answer.
A medium's slug is that key and a digest of the file: an attempt after one that timed
out finds the files that one uploaded and attaches them, instead of uploading them
again and leaving the first copies public, attached to nothing.

Routes are reached as ``?rest_route=/wp/v2/…``, which works with and without pretty
permalinks. Round trips are kept few: answers carry only the fields read (``_fields``:
WordPress then skips rendering the content and building links), a medium gets its title
on upload and, when the post exists, its post too; a read asks for the post and for the
media attached to it at the same time. HTTP failures are mapped to CMS errors by
``connectors.http.JsonHttp`` (the application password scrubbed from messages).

Term ids (categories, tags) are looked up once and kept for TERM_SECONDS. WordPress
(6.1, tested) takes a post naming a term id it no longer has (the category was deleted,
or deleted and made again under a new id) without a word: 201/200, the id left out of
the answer. So the answer's ``categories`` and ``tags`` are checked against what was
sent; when one is missing the kept ids are dropped, looked up again (made when the site
lacks them) and the terms sent once more, to the same post. A read gives the post's
terms back by name (``Live.section``: its categories' names, ``Live.tags``), through the
same ids; an id not kept is asked for. A term renamed in WordPress keeps its id: once
its name here is older than TERM_SECONDS it is asked again, so verification sees the
rename, and the board's section is looked up again by its name (made, as when deleted).
"""

from __future__ import annotations

import hashlib
import logging
import time
from concurrent.futures import Future, ThreadPoolExecutor
from html import escape, unescape
from typing import Any, Generic, TypeVar
from urllib.parse import quote

from connectors.cms import TERMS, Article, CmsError, CmsRejected, Live, Media, document_values
from connectors.http import JsonHttp, json_answer
from connectors.media import ascii_name, file_list, rewrite_cids, safe_filename
from pipeline.config import WordPress

log = logging.getLogger(__name__)

FILES_MARK = "<!-- bientap:files -->"  # what follows is the download list we add
POST_FIELDS = "id,link,status,title.raw,content.raw,categories,tags,meta"  # what _live reads
TAXONOMIES = ("categories", "tags")  # the post fields holding term ids
MEDIA_FIELDS = "id,post,slug,source_url,title.raw"  # what publishing a post reads of a medium
TERM_SECONDS = 600.0  # a term's id and name, as the site gave them, are kept this long
# WordPress's 500s that it answers again as asked: a file it does not take (its type, its
# size), said by wp_handle_sideload. Retried, they would only open the breaker.
REFUSALS = frozenset({"rest_upload_sideload_error"})
K = TypeVar("K")
V = TypeVar("V")


class _Kept(Generic[K, V]):
    """What the site said, for TERM_SECONDS: a term renamed there is seen after that."""

    def __init__(self) -> None:
        self._data: dict[K, tuple[V, float]] = {}

    def get(self, key: K) -> V | None:
        found = self._data.get(key)
        if found is None or time.monotonic() - found[1] >= TERM_SECONDS:
            return None
        return found[0]

    def put(self, key: K, value: V) -> None:
        self._data[key] = (value, time.monotonic())

    def clear(self) -> None:
        self._data.clear()


class WordPressCms:
    name = "wordpress"

    def __init__(self, settings: WordPress) -> None:
        self.settings = settings
        self.http = self._session()
        self.side_http = self._session()  # the media listing, while self.http reads the post
        self._side = ThreadPoolExecutor(max_workers=1, thread_name_prefix="wordpress-media")
        self._terms: _Kept[tuple[str, str], int] = _Kept()  # (taxonomy, name) -> id
        self._term_names: _Kept[tuple[str, int], str] = _Kept()  # (taxonomy, id) -> name

    def _session(self) -> JsonHttp:
        http = JsonHttp(self.settings.timeout_seconds, self._secrets, REFUSALS)
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
        answer = json_answer(response)
        if isinstance(answer, dict) and isinstance(answer.get("code"), str) and "id" not in answer:
            # WordPress's error shape with a 2xx: a plugin or a firewall refused the request
            said = (http or self.http).said(response)
            raise CmsRejected(f"{method} {route}: HTTP {response.status_code}: {said}")
        return answer

    # -- terms and media -----------------------------------------------------------------
    def _term(self, taxonomy: str, name: str) -> int:
        """The id of a category or tag, created when the site lacks it."""
        kept = self._terms.get((taxonomy, name))
        if kept is not None:
            return kept
        found = self._call("GET", f"/wp/v2/{taxonomy}", {"search": name, "per_page": 100})
        match = next((t for t in found if unescape(t["name"]) == name), None)
        if match is None:
            match = self._call("POST", f"/wp/v2/{taxonomy}", json={"name": name})
        self._terms.put((taxonomy, name), int(match["id"]))
        self._term_names.put((taxonomy, int(match["id"])), name)
        return int(match["id"])

    def _term_ids(self, article: Article) -> dict[str, list[int]]:
        terms = {"tags": [self._term("tags", t) for t in article.tags]}
        if article.section:
            terms["categories"] = [self._term("categories", article.section)]
        return terms

    def _names(self, taxonomy: str, ids: list[int]) -> list[str]:
        """The names of term ids: those not kept are asked for, in one request."""
        names = {i: self._term_names.get((taxonomy, i)) for i in ids}
        missing = [i for i, name in names.items() if name is None]
        if missing:
            params = {"include": ",".join(map(str, missing)), "per_page": 100, "_fields": "id,name"}
            for term in self._call("GET", f"/wp/v2/{taxonomy}", params):
                term_id, name = int(term["id"]), unescape(term["name"])
                names[term_id] = name
                self._term_names.put((taxonomy, term_id), name)
        return [names.get(i) or f"#{i}" for i in ids]

    def _attached(self, post_id: str, http: JsonHttp | None = None) -> dict[str, dict[str, Any]]:
        params = {"parent": post_id, "per_page": 100, "context": "edit", "_fields": MEDIA_FIELDS}
        items = self._call("GET", "/wp/v2/media", params, http)
        return {unescape(m["title"]["raw"]): m for m in items}

    def _uploaded_before(self, slugs: dict[str, str]) -> dict[str, dict[str, Any]]:
        """The media an earlier attempt uploaded, by file name, found by their ``slugs``
        (file name -> slug) in one request."""
        names = {slug: name for name, slug in slugs.items()}
        params = {
            "slug": ",".join(names),
            "per_page": 100,
            "context": "edit",
            "_fields": MEDIA_FIELDS,
        }
        found = self._call("GET", "/wp/v2/media", params)
        return {names[m["slug"]]: m for m in found if m.get("slug") in names}

    def _upload(self, media: Media, slug: str, post_id: str | None) -> dict[str, Any]:
        # stored under a name the site serves inertly: an administrator may upload
        # .html, which the portal would then serve as a page on its own origin
        disposition = f'attachment; filename="{ascii_name(safe_filename(media.filename))}"'
        # the real file name as title (WordPress would make one from the mangled name),
        # the slug a later attempt finds it by, and the post it belongs to when there is
        # one already
        params = {"title": media.filename, "slug": slug, "_fields": MEDIA_FIELDS}
        try:
            uploaded = self._call(
                "POST",
                "/wp/v2/media",
                params | ({"post": post_id} if post_id else {}),
                data=media.data,
                headers={"Content-Disposition": disposition, "Content-Type": media.content_type},
            )
        except CmsRejected as exc:  # which file, for the operator
            raise CmsRejected(f"«{media.filename}»: {exc}", exc.status) from exc
        return dict(uploaded)

    def _media(self, article: Article, post_id: str | None) -> dict[str, dict[str, Any]]:
        """The article's media on the site: those already attached to the post, those an
        earlier attempt uploaded (it timed out), the rest uploaded; should one upload
        fail, those just uploaded are deleted again (they would stay public, attached to
        nothing)."""
        have = self._attached(post_id) if post_id and article.media else {}
        missing = {
            m.filename: _slug(article.key, m) for m in article.media if m.filename not in have
        }
        if missing:
            have |= self._uploaded_before(missing)
        uploaded: dict[str, dict[str, Any]] = {}
        try:
            for m in article.media:
                uploaded[m.filename] = have.get(m.filename) or self._upload(
                    m, missing[m.filename], post_id
                )
        except Exception:
            self._forget([u for name, u in uploaded.items() if name not in have])
            raise
        return uploaded

    def _forget(self, media: list[dict[str, Any]]) -> None:
        """Delete media uploaded for a post that was never made (best effort)."""
        for medium in media:
            try:
                self._call("DELETE", f"/wp/v2/media/{medium['id']}", {"force": "true"})
            except CmsError as exc:
                log.warning("wordpress: medium %s left behind: %s", medium.get("id"), exc)

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
            # text, not markup: an account that may post unfiltered HTML (an
            # administrator) would store "<img onerror=…>" from a mail's subject as is
            "title": escape(article.title, quote=False),
            "content": self._content(article, uploaded),
            "excerpt": escape(article.summary, quote=False),
            "slug": article.key,
            "status": self.settings.status,
            **self._term_ids(article),
            "meta": meta,
            "featured_media": images[0] if images else 0,
        }
        if article.scheduled_at is not None:
            fields["status"] = "future"
            fields["date_gmt"] = article.scheduled_at.strftime("%Y-%m-%dT%H:%M:%S")
        return fields

    def _adopt(self, post_id: str, uploaded: dict[str, dict[str, Any]]) -> None:
        for media in uploaded.values():
            if str(media.get("post") or "") != post_id:
                route, fields = f"/wp/v2/media/{media['id']}", {"_fields": "id"}
                self._call("POST", route, fields, json={"post": int(post_id)})

    def _save(self, route: str, article: Article, uploaded: dict[str, dict[str, Any]]) -> Any:
        """Create (``/wp/v2/posts``) or update a post; a term WordPress left out (its id
        is stale) is looked up again and sent once more, to the post just saved."""
        fields = self._fields(article, uploaded)
        post = self._call("POST", route, {"_fields": POST_FIELDS}, json=fields)
        if not isinstance(post, dict) or not isinstance(post.get("id"), int):
            raise CmsRejected(f"POST {route}: the answer is not a post: {str(post)[:200]}")
        lost = {
            t: sorted(set(fields[t]) - set(post.get(t) or [])) for t in TAXONOMIES if t in fields
        }
        if any(lost.values()):
            log.warning("wordpress: post %s: stale term ids %s, looked up again", post["id"], lost)
            self._terms.clear()
            self._term_names.clear()
            route = f"/wp/v2/posts/{post['id']}"
            post = self._call("POST", route, {"_fields": POST_FIELDS}, json=self._term_ids(article))
        return post

    def publish(self, article: Article) -> Live:
        uploaded = self._media(article, None)
        try:
            post = self._save("/wp/v2/posts", article, uploaded)
        except CmsRejected:  # no post was made: its media would stay, attached to nothing
            self._forget(list(uploaded.values()))
            raise
        self._adopt(str(post["id"]), uploaded)
        return self._live(post, list(uploaded))

    def update(self, remote_id: str, article: Article) -> Live:
        uploaded = self._media(article, remote_id)
        post = self._save(f"/wp/v2/posts/{remote_id}", article, uploaded)
        self._adopt(remote_id, uploaded)
        return self._live(post, list(uploaded))

    def withdraw(self, remote_id: str) -> None:
        """To the trash (recoverable). A post already gone counts as withdrawn: trashed
        by hand (410 "already been deleted") or deleted for good (404)."""
        try:
            self._call("DELETE", f"/wp/v2/posts/{remote_id}", {"_fields": "id"})
        except CmsRejected as exc:
            if exc.status not in (404, 410):
                raise
            log.info("wordpress: post %s was already gone: %s", remote_id, exc)

    def find(self, key: str) -> Live | None:
        params = {"slug": key, "status": "any", "context": "edit", "_fields": "id"}
        try:
            posts = self._call("GET", "/wp/v2/posts", params)
        except CmsRejected as exc:
            # to a request it takes as a visitor's (a wrong application password too)
            # WordPress answers "400 Invalid parameter(s): status": ask who we are, so
            # the operator reads the credentials' problem instead
            if exc.status == 400:
                self._call("GET", "/wp/v2/users/me", {"_fields": "id"})
            raise
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
        categories = sorted(self._names("categories", post.get("categories") or []))
        return Live(
            remote_id=str(post["id"]),
            url=str(post.get("link", "")),
            title=unescape(post["title"].get("raw", post["title"].get("rendered", ""))),
            body_html=content.split(FILES_MARK)[0].rstrip(),
            section=", ".join(categories) or None,  # one, unless changed by hand
            tags=tuple(self._names("tags", post.get("tags") or [])),
            media=tuple(sorted(media)),
            meta=meta,
            status=str(post.get("status", "")),
            known=TERMS,
        )

    def close(self) -> None:
        self._side.shutdown(wait=True)
        self.http.close()
        self.side_http.close()


def _slug(key: str, media: Media) -> str:
    """A medium's slug: the post's key and a digest of the file (its name and bytes)."""
    digest = hashlib.sha256(media.filename.encode() + b"\0" + media.data).hexdigest()
    return f"{key}-{digest[:16]}"


def _settle(future: Future[Any]) -> None:
    """Wait for a request whose answer is not needed any more; its failure too."""
    future.exception()
