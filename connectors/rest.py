"""A portal's own JSON REST API, described by a template (``[publish.rest]``).

The request body is ``settings.body`` with placeholders filled in every string:
``{title}``, ``{body_html}``, ``{summary}``, ``{author}``, ``{section}``, ``{language}``,
``{key}``, ``{scheduled_at}`` (ISO 8601 or null), ``{tags}``, ``{media}`` and the
official document's ``{document_kind}``, ``{document_number}``, ``{document_issuer}``,
``{document_issued}``, ``{document_effective}``, ``{document_summary}``. A string that
is exactly one placeholder becomes that JSON value (``"{tags}"`` is a list, an absent
author is null); inside longer text a list is joined with ", " and null is empty.
``"{media}"`` is the list of ``{"filename", "content_type", "data_base64",
"content_id"}``; ``cid:`` references in the body are left for the portal to resolve.
An unknown placeholder is a ``ConfigError`` when the connector is built.

``url`` takes the create request (``method``), ``item_url`` (``{url}``, ``{id}``) is
read with GET, replaced with PUT (same body) and removed with DELETE (a 404 there
counts as withdrawn), ``find_url`` (``{url}``, ``{key}``) is a GET answering a list, or
an object with the list under ``items`` or ``data``. Because a portal that ignores an
unknown filter answers every post, ``find`` only accepts an element that carries the
key as one of its values. Answers are read with dotted paths (``connectors.jsonpath``):
``id_path`` and ``url_path`` in the create answer, ``read_paths`` (Live field or
``meta.<name>`` -> path) in what GET returns; ``read_paths["remote_id"]`` and
``read_paths["url"]``, when given, replace ``id_path``/``url_path`` for read and find.

``Live.body_html`` is what ``read_paths["body_html"]`` finds (empty without it); the
Live that ``publish``/``update`` return carries the body as sent. The section and the
tags are read, and so compared by verification, only when ``read_paths`` names them
(``Live.known``); without a path the portal's answer cannot tell them: not compared.
HTTP failures are mapped to CMS errors by ``connectors.http.JsonHttp``.

The create request carries the publication's key as ``Idempotency-Key`` (the IETF
draft's header, as Stripe and others honour it): a portal that honours it answers a
create retried after a lost response with the post it made, even without ``find_url``.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Iterator, Mapping
from string import Formatter
from typing import Any
from urllib.parse import quote

import requests

from connectors.cms import DOCUMENT_KEYS, TERMS, Article, CmsRejected, Live, document_values
from connectors.http import JsonHttp, json_answer, json_body
from connectors.jsonpath import PathError, find_path, get_path
from pipeline.config import ConfigError, RestApi

log = logging.getLogger(__name__)

# ---------------------------------------------------------------------------
# The body template

ARTICLE_PLACEHOLDERS = (
    "title",
    "body_html",
    "summary",
    "author",
    "section",
    "language",
    "key",
    "scheduled_at",
    "tags",
    "media",
    *DOCUMENT_KEYS,
)
IDEMPOTENCY_HEADER = "Idempotency-Key"
READ_FIELDS = ("remote_id", "url", "title", "body_html", "section", "tags", "media", "status")

_FORMATTER = Formatter()


def _strings(node: Any, where: str) -> Iterator[tuple[str, str]]:
    """Every string of a JSON template, with where it is (``body.fields.0.value``)."""
    if isinstance(node, str):
        yield where, node
    elif isinstance(node, dict):
        for name, value in node.items():
            yield from _strings(value, f"{where}.{name}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _strings(value, f"{where}.{i}")


def _placeholders(text: str, where: str) -> list[str]:
    try:
        return [name for _, name, _, _ in _FORMATTER.parse(text) if name is not None]
    except ValueError as exc:
        raise ConfigError(f"{where}: {exc} in {text!r} (write {{{{ and }}}} for braces)") from None


def check_placeholders(text: str, where: str, known: tuple[str, ...]) -> None:
    """``ConfigError`` naming the first placeholder of ``text`` that is not ``known``."""
    for name in _placeholders(text, where):
        if name not in known:
            shown = "{" + name + "}"
            raise ConfigError(
                f"{where}: unknown placeholder {shown}; known: "
                + ", ".join("{" + k + "}" for k in known)
            )


def check_template(settings: RestApi) -> None:
    """Every placeholder and read path of ``[publish.rest]`` is one the connector knows."""
    for where, text in _strings(settings.body, "publish.rest.body"):
        check_placeholders(text, where, ARTICLE_PLACEHOLDERS)
    check_placeholders(settings.url, "publish.rest.url", ())
    check_placeholders(settings.item_url, "publish.rest.item_url", ("url", "id"))
    if settings.find_url is not None:
        check_placeholders(settings.find_url, "publish.rest.find_url", ("url", "key"))
    for field in settings.read_paths:
        if field not in READ_FIELDS and not (field.startswith("meta.") and len(field) > 5):
            raise ConfigError(
                f"publish.rest.read_paths: unknown field {field!r}; known: "
                + ", ".join(READ_FIELDS)
                + ", meta.<name>"
            )


def _media_values(article: Article) -> list[dict[str, Any]]:
    return [
        {
            "filename": m.filename,
            "content_type": m.content_type,
            "data_base64": base64.b64encode(m.data).decode("ascii"),
            "content_id": m.content_id,
        }
        for m in article.media
    ]


def article_values(article: Article, *, with_media: bool) -> dict[str, Any]:
    """What each placeholder stands for, as JSON values."""
    return {
        "title": article.title,
        "body_html": article.body_html,
        "summary": article.summary,
        "author": article.author,
        "section": article.section,
        "language": article.language,
        "key": article.key,
        "scheduled_at": article.scheduled_at.isoformat() if article.scheduled_at else None,
        "tags": list(article.tags),
        "media": _media_values(article) if with_media else [],
        **document_values(article.document),
    }


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return ", ".join(str(v["filename"]) if isinstance(v, dict) else str(v) for v in value)
    return str(value)


def _render_string(text: str, values: Mapping[str, Any]) -> Any:
    parts = list(_FORMATTER.parse(text))
    if len(parts) == 1:
        literal, name, spec, conversion = parts[0]
        if literal == "" and name is not None and not spec and conversion is None:
            return values[name]
    return _FORMATTER.vformat(text, (), {k: _as_text(v) for k, v in values.items()})


def render(template: Any, values: Mapping[str, Any]) -> Any:
    """``template`` with its placeholders filled (see the module docstring)."""
    if isinstance(template, str):
        return _render_string(template, values)
    if isinstance(template, dict):
        return {name: render(value, values) for name, value in template.items()}
    if isinstance(template, list):
        return [render(value, values) for value in template]
    return template


def _uses_media(template: Any) -> bool:
    return any("media" in _placeholders(t, w) for w, t in _strings(template, "body"))


def _holds(node: Any, key: str) -> bool:
    """Whether ``key`` is one of the values anywhere in ``node``."""
    if isinstance(node, dict):
        return any(_holds(v, key) for v in node.values())
    if isinstance(node, list):
        return any(_holds(v, key) for v in node)
    return node is not None and not isinstance(node, bool) and str(node) == key


def _candidates(answer: Any) -> list[Any]:
    if isinstance(answer, list):
        return answer
    if isinstance(answer, dict):
        for name in ("items", "data"):
            if isinstance(answer.get(name), list):
                return list(answer[name])
        return [answer]
    return []


def _text_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


def _names(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    items = value if isinstance(value, list) else [value]
    out = []
    for item in items:
        if isinstance(item, dict):
            item = item.get("filename") or item.get("name") or item.get("title")
        if item is not None:
            out.append(str(item))
    return tuple(out)


class RestCms:
    """A JSON portal API driven by ``[publish.rest]``; see the module docstring."""

    name = "rest"

    def __init__(self, settings: RestApi) -> None:
        check_template(settings)
        self.settings = settings
        self._with_media = _uses_media(settings.body)
        self._http = JsonHttp(settings.timeout_seconds, self._secrets)
        if settings.find_url is None:
            log.warning("publish.rest has no find_url: a retried publication may be posted twice")

    # -- plumbing

    def _secrets(self) -> list[str]:
        value = self.settings.auth_value
        return [value.reveal()] if value is not None else []

    def _headers(self) -> dict[str, str]:
        value = self.settings.auth_value
        if value is None:
            return {}
        try:
            return {self.settings.auth_header: value.reveal()}
        except ConfigError as exc:
            raise CmsRejected(f"Thiếu mã truy cập cổng trong cấu hình ({exc})") from exc

    def _call(self, method: str, url: str, **kwargs: Any) -> requests.Response | None:
        headers = {**self._headers(), **kwargs.pop("headers", {})}
        return self._http.call(method, url, headers=headers, **kwargs)

    def _send_json(self, method: str, url: str, body: Any, key: str | None = None) -> Any:
        headers = {"Content-Type": "application/json; charset=utf-8"}
        if key is not None:  # a portal that honours it makes a retried create one post
            headers[IDEMPOTENCY_HEADER] = key
        response = self._call(method, url, data=json_body(body), headers=headers)
        assert response is not None
        return json_answer(response)

    def _item_url(self, remote_id: str) -> str:
        return self.settings.item_url.format(url=self.settings.url, id=quote(remote_id, safe=""))

    def _body(self, article: Article) -> Any:
        return render(self.settings.body, article_values(article, with_media=self._with_media))

    def _path(self, field: str, fallback: str) -> str:
        return self.settings.read_paths.get(field, fallback)

    def _url_in(self, answer: Any, path: str) -> str:
        value = find_path(answer, path)
        return str(value) if isinstance(value, str | int) else ""

    def _article_live(self, remote_id: str, url: str, article: Article) -> Live:
        meta = {"key": article.key}
        return Live(
            remote_id=remote_id,
            url=url,
            title=article.title,
            body_html=article.body_html,
            section=article.section,
            tags=article.tags,
            media=tuple(m.filename for m in article.media),
            meta=meta,
        )

    def _read_live(self, remote_id: str, answer: Any) -> Live:
        """A Live from a post as GET (or find) answers it, through ``read_paths``."""
        paths = self.settings.read_paths
        fields: dict[str, Any] = {}
        meta: dict[str, str] = {}
        for field, path in paths.items():
            value = find_path(answer, path)
            if field.startswith("meta."):
                if value is not None:
                    meta[field[5:]] = _as_text(value)
            elif field in ("tags", "media"):
                fields[field] = _names(value)
            elif field in ("title", "body_html", "status"):
                if value is not None:
                    fields[field] = _as_text(value)
            elif field == "section":
                fields[field] = _text_or_none(value)
        url = self._url_in(answer, self._path("url", self.settings.url_path))
        known = frozenset(t for t in TERMS if t in paths)  # the others: not compared
        return Live(remote_id=remote_id, url=url, meta=meta, known=known, **fields)

    # -- the Cms interface

    def publish(self, article: Article) -> Live:
        body = self._body(article)
        answer = self._send_json(self.settings.method, self.settings.url, body, article.key)
        try:
            remote_id = str(get_path(answer, self.settings.id_path))
        except PathError as exc:
            raise CmsRejected(
                "Cổng nhận bài nhưng câu trả lời không có mã bài ở chỗ cấu hình chỉ ra "
                f"(the create answer has no id at {self.settings.id_path!r})"
            ) from exc
        url = self._url_in(answer, self.settings.url_path)
        if not url:
            live = self.read(remote_id)
            url = live.url if live else ""
        return self._article_live(remote_id, url, article)

    def update(self, remote_id: str, article: Article) -> Live:
        answer = self._send_json("PUT", self._item_url(remote_id), self._body(article))
        url = self._url_in(answer, self.settings.url_path) if answer is not None else ""
        if not url:
            live = self.read(remote_id)
            if live is None:
                raise CmsRejected(
                    f"Bài {remote_id} không còn trên cổng sau khi cập nhật (gone after the update)"
                )
            url = live.url
        return self._article_live(remote_id, url, article)

    def withdraw(self, remote_id: str) -> None:
        self._call("DELETE", self._item_url(remote_id), missing_ok=True)

    def read(self, remote_id: str) -> Live | None:
        response = self._call("GET", self._item_url(remote_id), missing_ok=True)
        if response is None:
            return None
        answer = json_answer(response)
        if answer is None:
            return None
        return self._read_live(remote_id, answer)

    def find(self, key: str) -> Live | None:
        if self.settings.find_url is None:
            return None
        url = self.settings.find_url.format(url=self.settings.url, key=quote(key, safe=""))
        response = self._call("GET", url, missing_ok=True)
        if response is None:
            return None
        for element in _candidates(json_answer(response)):
            if not _holds(element, key):
                continue
            value = find_path(element, self._path("remote_id", self.settings.id_path))
            if value is None:
                raise CmsRejected(
                    "Bài tìm thấy trên cổng không có mã bài ở chỗ cấu hình chỉ ra "
                    "(a post found by key has no id where expected)"
                )
            return self._read_live(str(value), element)
        return None

    def close(self) -> None:
        self._http.close()
