"""Liferay 7.x (DXP/Portal 7.4) through the headless delivery API: structured content.

Written from Liferay's documentation (Web Content API Basics, Document API Basics,
Using External Reference Codes) and tested against a local server answering with the
documented shapes; it has NOT been run against a live Liferay.

- A post is a structured content of ``structure_id``, created with POST
  ``/o/headless-delivery/v1.0/sites/{siteId}/structured-contents`` (or
  ``/structured-content-folders/{folderId}/structured-contents`` with ``folder_id``)
  and read, replaced and deleted at ``/structured-contents/{id}``. Its
  ``externalReferenceCode`` is the article's key, so ``find`` is a GET
  ``/sites/{siteId}/structured-contents/by-external-reference-code/{key}`` (404: none).
  Basic authentication (``username``, ``password``); content is written in the site's
  default language (no ``Accept-Language`` is sent).
- ``fields`` maps the article to the structure's field names: ``body`` (required),
  ``summary``, ``author``, ``section``, ``files`` and ``document_kind``,
  ``document_number``, ``document_issuer``, ``document_issued``,
  ``document_effective``, ``document_summary``. Without a ``section`` field the section
  must be a taxonomy category id (digits), sent as ``taxonomyCategoryIds``. Tags are
  ``keywords``; ``scheduled_at`` is ``datePublished``; the summary is also the
  ``description``; ``friendlyUrlPath`` is ``<slug>-<shortkey>`` and kept on update.
- Media are uploaded as documents of the site (POST ``/sites/{siteId}/documents``,
  multipart ``file`` plus a ``document`` JSON part), each named
  ``<8 hex>-<file name>`` (Liferay refuses two documents of one name in a folder) with
  an external reference code derived from key, name and bytes: a retry finds the
  upload (GET ``/sites/{siteId}/documents/by-external-reference-code/{erc}``) instead
  of repeating it. ``cid:`` references in the body become the returned ``contentUrl``
  (site-relative, as Liferay's own editor writes it). Media the body does not show are
  linked in the ``files`` field, or else after the body in
  ``<div class="bientap-tep-dinh-kem">``.
- The post's address is assumed to be ``url + "/w/" + friendlyUrlPath``: the default
  display-page URL of a web content article in Liferay 7.4; a portal that shows
  articles through another page has another address.
- ``Live.body_html`` is the body field as stored (after ``cid:`` rewriting, without the
  appended file links); ``Live.media`` lists the original file names of the documents
  the post links to; ``Live.meta`` holds ``key`` (the ERC) and the document fields;
  ``Live.section`` is the section field, or else the first taxonomy category id, and
  ``Live.tags`` the ``keywords``: both in every answer, so both are compared.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any
from urllib.parse import quote, unquote_plus

import requests

from connectors.cms import (
    DOCUMENT_KEYS,
    TERMS,
    Article,
    CmsRejected,
    Live,
    Media,
    document_values,
)
from connectors.http import JsonHttp, json_answer, json_body
from connectors.media import (
    cids_in,
    content_id,
    file_list,
    post_slug,
    rewrite_cids,
    safe_filename,
)
from pipeline.config import ConfigError, Liferay

API = "/o/headless-delivery/v1.0"
FIELD_KEYS = (
    "body",
    "summary",
    "author",
    "section",
    "files",
    *DOCUMENT_KEYS,
)
FILES_START = '<div class="bientap-tep-dinh-kem">'
_DOCUMENT_URL = re.compile(r"""/documents/\d+/\d+/([^/"'?#\s]+)""")
_UPLOAD_PREFIX = re.compile(r"^[0-9a-f]{8}-")


def _field_values(article: Article) -> dict[str, str]:
    """Article values by ``fields`` key; empty ones left out."""
    values = {
        "summary": article.summary,
        "author": article.author,
        "section": article.section,
        **document_values(article.document),
    }
    return {name: value for name, value in values.items() if value}


def _content_fields(fields: list[Any]) -> dict[str, str]:
    """Field name -> ``contentFieldValue.data``, nested fields included."""
    out: dict[str, str] = {}
    for field in fields:
        if not isinstance(field, dict):
            continue
        value = (field.get("contentFieldValue") or {}).get("data")
        if isinstance(field.get("name"), str) and isinstance(value, str):
            out.setdefault(field["name"], value)
        for name, data in _content_fields(field.get("nestedContentFields") or []).items():
            out.setdefault(name, data)
    return out


def _media_names(html: str) -> tuple[str, ...]:
    names: list[str] = []
    for match in _DOCUMENT_URL.finditer(html):
        name = _UPLOAD_PREFIX.sub("", unquote_plus(match[1]))
        if name not in names:
            names.append(name)
    return tuple(names)


class LiferayCms:
    """Posts articles as Liferay structured content; see the module docstring."""

    name = "liferay"

    def __init__(self, settings: Liferay) -> None:
        unknown = sorted(set(settings.fields) - set(FIELD_KEYS))
        if unknown:
            raise ConfigError(
                f"publish.liferay.fields: unknown {', '.join(unknown)}; known: "
                + ", ".join(FIELD_KEYS)
            )
        if "body" not in settings.fields:
            raise ConfigError("publish.liferay.fields: body needs a field of the structure")
        self.settings = settings
        self.base = settings.url.rstrip("/")
        self._http = JsonHttp(settings.timeout_seconds, self._secrets)

    # -- plumbing

    def _secrets(self) -> list[str]:
        return [self.settings.password.reveal()]

    def _auth(self) -> tuple[bytes, bytes]:
        """Basic credentials in UTF-8 (RFC 7617): requests would encode text as Latin-1,
        which has no «Đ»."""
        try:
            password = self.settings.password.reveal()
        except ConfigError as exc:
            raise CmsRejected(f"{self.name}: {exc}") from exc
        return self.settings.username.encode(), password.encode()

    def _call(
        self, method: str, path: str, *, missing_ok: bool = False, **kwargs: Any
    ) -> requests.Response | None:
        return self._http.call(
            method, self.base + path, missing_ok=missing_ok, auth=self._auth(), **kwargs
        )

    def _json(self, method: str, path: str, body: Any = None, *, missing_ok: bool = False) -> Any:
        kwargs: dict[str, Any] = {}
        if body is not None:
            kwargs["data"] = json_body(body)
            kwargs["headers"] = {"Content-Type": "application/json; charset=utf-8"}
        response = self._call(method, path, missing_ok=missing_ok, **kwargs)
        return None if response is None else json_answer(response)

    def _site(self) -> str:
        return f"{API}/sites/{self.settings.site_id}"

    # -- media

    def _upload(self, article: Article, media: Media) -> str:
        """The ``contentUrl`` of ``media`` as a document of the site, uploaded once."""
        digest = hashlib.sha256(
            b"\0".join((article.key.encode(), media.filename.encode(), media.data))
        ).hexdigest()
        erc = f"bientap-{digest[:32]}"
        found = self._json(
            "GET", f"{self._site()}/documents/by-external-reference-code/{erc}", missing_ok=True
        )
        if not isinstance(found, dict):
            name = f"{digest[:8]}-{safe_filename(media.filename)}"
            response = self._call(
                "POST",
                f"{self._site()}/documents",
                files={"file": (name, media.data, media.content_type)},
                data={"document": json.dumps({"title": name, "externalReferenceCode": erc})},
            )
            assert response is not None
            found = json_answer(response)
        url = found.get("contentUrl") if isinstance(found, dict) else None
        if not isinstance(url, str) or not url:
            raise CmsRejected(f"{self.name}: the upload of {media.filename} has no contentUrl")
        return url

    def _bodies(self, article: Article) -> tuple[str, str]:
        """The body with ``cid:`` rewritten, and the HTML linking the other media."""
        inline = cids_in(article.body_html)
        urls: dict[str, str] = {}
        links: list[tuple[str, str]] = []
        for media in article.media:
            url = self._upload(article, media)
            if media.content_id and content_id(media.content_id) in inline:
                urls[media.content_id] = url
            else:
                links.append((url, media.filename))
        body = rewrite_cids(article.body_html, urls)
        return body, file_list(links)

    # -- the structured content

    def _categories(self, article: Article) -> list[int]:
        """The section as taxonomy category ids, when no structure field takes it."""
        if not article.section or "section" in self.settings.fields:
            return []
        if not article.section.isdigit():
            raise CmsRejected(
                f"{self.name}: section {article.section!r} is not a taxonomy category id"
                " and the structure has no section field"
            )
        return [int(article.section)]

    def _content(self, article: Article, friendly_url: str) -> dict[str, Any]:
        names = self.settings.fields
        categories = self._categories(article)
        body, files = self._bodies(article)
        values = _field_values(article)
        if files and "files" in names:
            values["files"] = files
        elif files:
            body = f"{body}{FILES_START}{files}</div>"
        values["body"] = body
        content: dict[str, Any] = {
            "contentStructureId": self.settings.structure_id,
            "externalReferenceCode": article.key,
            "title": article.title,
            "description": article.summary,
            "friendlyUrlPath": friendly_url,
            "keywords": list(article.tags),
            "viewableBy": "Anyone",
            "contentFields": [
                {"name": names[key], "contentFieldValue": {"data": value}}
                for key, value in values.items()
                if key in names
            ],
        }
        if categories:
            content["taxonomyCategoryIds"] = categories
        if article.scheduled_at is not None:
            content["datePublished"] = article.scheduled_at.isoformat()
        return content

    def _live(self, answer: Any) -> Live:
        if not isinstance(answer, dict) or "id" not in answer:
            raise CmsRejected(f"{self.name}: the answer is not a structured content")
        names = self.settings.fields
        fields = _content_fields(answer.get("contentFields") or [])
        body = fields.get(names["body"], "")
        files = fields.get(names["files"], "") if "files" in names else ""
        cut = body.rfind(FILES_START)
        if cut >= 0:
            body, files = body[:cut], files + body[cut:]
        section = fields.get(names["section"]) if "section" in names else None
        if section is None:
            briefs = answer.get("taxonomyCategoryBriefs") or []
            ids = [b.get("taxonomyCategoryId") for b in briefs if isinstance(b, dict)]
            section = next((str(i) for i in ids if i is not None), None)
        meta = {"key": str(answer.get("externalReferenceCode") or "")}
        for key in DOCUMENT_KEYS:
            if key in names and names[key] in fields:
                meta[key] = fields[names[key]]
        friendly = str(answer.get("friendlyUrlPath") or "")
        return Live(
            remote_id=str(answer["id"]),
            url=f"{self.base}/w/{friendly}" if friendly else "",
            title=str(answer.get("title") or ""),
            body_html=body,
            section=section,
            tags=tuple(str(k) for k in answer.get("keywords") or []),
            media=_media_names(body + files),
            meta=meta,
            known=TERMS,
        )

    # -- the Cms interface

    def publish(self, article: Article) -> Live:
        friendly = post_slug(article.title, article.key)
        content = self._content(article, friendly)
        if self.settings.folder_id is not None:
            path = f"{API}/structured-content-folders/{self.settings.folder_id}"
        else:
            path = self._site()
        return self._live(self._json("POST", f"{path}/structured-contents", content))

    def update(self, remote_id: str, article: Article) -> Live:
        item = f"{API}/structured-contents/{quote(remote_id, safe='')}"
        current = self._json("GET", item, missing_ok=True)
        if not isinstance(current, dict):
            raise CmsRejected(f"{self.name}: no structured content {remote_id}", 404)
        friendly = str(current.get("friendlyUrlPath") or "") or (
            post_slug(article.title, article.key)
        )
        return self._live(self._json("PUT", item, self._content(article, friendly)))

    def withdraw(self, remote_id: str) -> None:
        self._call(
            "DELETE", f"{API}/structured-contents/{quote(remote_id, safe='')}", missing_ok=True
        )

    def find(self, key: str) -> Live | None:
        path = (
            f"{self._site()}/structured-contents/by-external-reference-code/{quote(key, safe='')}"
        )
        answer = self._json("GET", path, missing_ok=True)
        return None if answer is None else self._live(answer)

    def read(self, remote_id: str) -> Live | None:
        path = f"{API}/structured-contents/{quote(remote_id, safe='')}"
        answer = self._json("GET", path, missing_ok=True)
        return None if answer is None else self._live(answer)

    def close(self) -> None:
        self._http.close()
