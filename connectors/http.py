"""HTTP with the error mapping every HTTP connector shares (REST, Liferay, WordPress).

``JsonHttp`` is a ``requests.Session`` whose failures are CMS errors: timeouts,
connection errors, 5xx, 429 and 408 are ``CmsTransient``; other 4xx are
``CmsRejected`` with the CMS's own message, and so is a redirect (never followed).
The messages reach the board's staff (the dead-letter mail, ``bientap publications``):
they say in Vietnamese what went wrong, then the technical cause in brackets and the
request. Secrets are removed from every message: the configured ones and the
credentials the request carried (a portal's error page may echo its ``Authorization``
header), also URL-encoded; a message is scrubbed whole, then cut.
"""

from __future__ import annotations

import json
import socket
import ssl
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import quote, quote_plus, urlsplit, urlunsplit

import requests
from bs4 import BeautifulSoup

from connectors.cms import CmsRejected, CmsTransient
from pipeline.config import ConfigError

MESSAGE_LIMIT = 500
HTML_LIMIT = 100_000  # characters of an error page looked at for its title or text
DETAILS_LIMIT = 10  # validation errors quoted from one answer
USER_AGENT = "bientap/0.1"
AUTH_HEADERS = ("Authorization", "Proxy-Authorization")

# What a status says to staff; a 4xx or 5xx not listed says its class's words.
STATUS_WORDS: dict[int, str] = {
    401: "Cổng không nhận thông tin đăng nhập",
    403: "Cổng không cho phép thao tác này",
    404: "Cổng không có địa chỉ này",
    408: "Cổng hết thời gian chờ yêu cầu",
    409: "Cổng báo dữ liệu bị xung đột",
    413: "Nội dung gửi lên lớn hơn giới hạn của cổng",
    429: "Cổng đang giới hạn số yêu cầu",
}
CLIENT_ERROR = "Cổng từ chối yêu cầu"
SERVER_ERROR = "Máy chủ của cổng báo lỗi"

# Why a connection failed, by the innermost cause: the first row that matches speaks.
CAUSES: tuple[tuple[type[BaseException] | tuple[type[BaseException], ...], str], ...] = (
    (ssl.SSLCertVerificationError, "chứng chỉ TLS của cổng không hợp lệ"),
    (ssl.SSLError, "lỗi bắt tay TLS với cổng"),
    (socket.gaierror, "không tìm thấy tên máy chủ của cổng"),
    (ConnectionRefusedError, "máy chủ của cổng từ chối kết nối"),
    (
        (ConnectionResetError, ConnectionAbortedError, BrokenPipeError),
        "cổng ngắt kết nối giữa chừng",
    ),
    (OSError, "lỗi mạng"),
)
# Requests that cannot be sent as configured: no try will send them.
UNSENDABLE = (
    requests.exceptions.InvalidURL,
    requests.exceptions.InvalidHeader,
    requests.exceptions.MissingSchema,
    requests.exceptions.InvalidSchema,
)


def scrub(text: str, secrets: list[str]) -> str:
    """``text`` with every secret replaced by ``***`` (see ``_spellings``)."""
    spellings = {form for secret in secrets for form in _spellings(secret)}
    # the whole secret first: a word of it would break it up
    for form in sorted((f for f in spellings if len(f) >= 4), key=len, reverse=True):
        text = text.replace(form, "***")
    return text


def _spellings(secret: str) -> set[str]:
    """A secret as a message may hold it: as it is, its last word (a bearer token, a Basic
    credential's base64), and those URL-encoded."""
    words = secret.split()
    forms = {secret, words[-1] if words else ""}
    return forms | {quote(f, safe="") for f in forms} | {quote_plus(f) for f in forms}


def sent_credentials(request: requests.PreparedRequest | None) -> list[str]:
    """The credentials a request carried in its ``Authorization`` headers, as sent."""
    headers = request.headers if request is not None else {}
    return [headers[name] for name in AUTH_HEADERS if headers.get(name)]


def _errors(value: Any) -> Iterator[str]:
    """Validation errors in the shapes portals answer: ``{"title": ["…"]}`` (ASP.NET's
    problem details, Laravel), ``[{"detail"|"message": "…", "field"|"source": …}]``
    (JSON:API, Spring), or plain strings."""
    if isinstance(value, dict):
        for field, said in value.items():
            texts = said if isinstance(said, list) else [said]
            words = "; ".join(str(t) for t in texts if isinstance(t, str | int))
            if words:
                yield f"{field}: {words}"
    elif isinstance(value, list):
        for entry in value:
            if isinstance(entry, str):
                yield entry
            elif isinstance(entry, dict):
                said = next(
                    (
                        entry[name]
                        for name in ("detail", "message", "defaultMessage", "title")
                        if isinstance(entry.get(name), str)
                    ),
                    None,
                )
                source = entry.get("source")
                field = entry.get("field") or (
                    source.get("pointer") if isinstance(source, dict) else None
                )
                if said:
                    yield f"{field}: {said}" if isinstance(field, str) else said


def _json_message(answer: dict[str, Any]) -> str:
    text = ""
    for name in ("message", "title", "detail", "error_description", "error"):
        value = answer.get(name)
        if isinstance(value, dict):  # {"error": {"code": …, "message": …}} (OData, Google)
            value = value.get("message")
        if isinstance(value, str) and value.strip():
            text = value
            break
    details = [d for d in _errors(answer.get("errors"))][:DETAILS_LIMIT]
    return ": ".join(p for p in (text, "; ".join(details)) if p)


def _page_message(html: str) -> str:
    """An HTML error page (a proxy's, a server's) in a few words: its title, else its text."""
    soup = BeautifulSoup(html[:HTML_LIMIT], "html.parser")
    title = soup.title.get_text(" ") if soup.title else ""
    return title if title.strip() else soup.get_text(" ")


def cms_message(response: requests.Response) -> str:
    """The CMS's own words: JSON ``message``/``title``/``detail`` with the validation
    errors it lists, an error page's title, else the text."""
    text = response.text or ""
    try:
        answer = response.json()
    except ValueError:
        answer = None
    if isinstance(answer, dict):
        text = _json_message(answer) or text
    elif "html" in response.headers.get("Content-Type", "").lower():
        text = _page_message(text)
    return " ".join(text.split()) or (response.reason or "")


def _bare_url(url: str) -> str:
    """The URL without user information, for messages."""
    parts = urlsplit(url)
    netloc = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))


def cms_code(response: requests.Response) -> str | None:
    """The CMS's own error code (JSON ``code``), if it gives one."""
    try:
        answer = response.json()
    except ValueError:
        return None
    code = answer.get("code") if isinstance(answer, dict) else None
    return code if isinstance(code, str) else None


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and what it wraps (urllib3 keeps the cause in ``reason`` and ``args``)."""
    seen: set[int] = set()
    todo = [exc]
    while todo and len(seen) < 20:
        current = todo.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        inner = [getattr(current, "reason", None), current.__cause__, current.__context__]
        todo += [e for e in [*inner, *current.args] if isinstance(e, BaseException)]


def connection_failure(exc: BaseException) -> str:
    """Why a connection failed, Vietnamese first: "máy chủ của cổng từ chối kết nối
    (Connection refused)"."""
    causes = list(_causes(exc))
    for kinds, words in CAUSES:
        found = next((c for c in reversed(causes) if isinstance(c, kinds)), None)
        if found is None:
            continue
        if isinstance(found, ssl.SSLCertVerificationError):
            detail = found.verify_message or found.reason or str(found)
        elif isinstance(found, OSError) and found.strerror:
            detail = found.strerror
        else:
            detail = str(found)
        return f"{words} ({detail})"
    return f"{type(exc).__name__}: {exc}"


class JsonHttp:
    """A ``requests.Session`` whose failures are ``CmsTransient``/``CmsRejected``.
    ``refusals``: the CMS's error codes that are rejections whatever the status (a 500
    the CMS will answer again)."""

    def __init__(
        self,
        timeout: float,
        secrets: Callable[[], list[str]],
        refusals: frozenset[str] = frozenset(),
    ) -> None:
        self.timeout = timeout
        self._secrets = secrets
        self.refusals = refusals
        self.session = requests.Session()
        self.session.headers.update({"Accept": "application/json", "User-Agent": USER_AGENT})

    def call(
        self, method: str, url: str, *, missing_ok: bool = False, **kwargs: Any
    ) -> requests.Response | None:
        """Send; ``None`` for a 404 or a 410 (Gone) when ``missing_ok``. Raises ``CmsError``.

        Redirects are not followed: the credentials would go to wherever the portal (or
        someone able to make it redirect) points, and a 404 there would read as "the post
        is gone". A 3xx is a rejection naming its ``Location``: the operator sets the
        CMS's address to it."""
        where = f"{method} {_bare_url(url)}"
        try:
            response = self.session.request(
                method, url, timeout=self.timeout, allow_redirects=False, **kwargs
            )
        except requests.Timeout as exc:
            raise CmsTransient(
                f"Cổng không trả lời sau {self.timeout:g} giây"
                f" (no answer within {self.timeout:g} s) — {where}"
            ) from exc
        except UNSENDABLE as exc:
            reason = scrub(str(exc), self._secrets_of(exc.request))
            raise CmsRejected(
                f"Không gửi được yêu cầu như đã cấu hình (invalid request: {reason}) — {where}"[
                    :1000
                ]
            ) from exc
        except requests.RequestException as exc:
            reason = scrub(connection_failure(exc), self._secrets_of(exc.request))
            raise CmsTransient(
                f"Không kết nối được tới cổng (cannot connect): {reason} — {where}"[:1000]
            ) from exc
        status = response.status_code
        if status < 300:
            return response
        if status in (404, 410) and missing_ok:  # a post deleted, or kept as deleted
            return None
        if status < 400:
            where_to = scrub(
                response.headers.get("Location", "?"), self._secrets_of(response.request)
            )
            location = _bare_url(where_to)
            raise CmsRejected(
                f"Cổng chuyển sang địa chỉ khác: {location} (HTTP {status}, redirected to "
                f"{location}; redirects are not followed: set the CMS's address to it)"
                f" — {where}",
                status,
            )
        message = self.said(response)
        words = STATUS_WORDS.get(status, SERVER_ERROR if status >= 500 else CLIENT_ERROR)
        text = f"{words} (HTTP {status}): {message} — {where}"
        if (status >= 500 or status in (408, 429)) and cms_code(response) not in self.refusals:
            raise CmsTransient(text)
        raise CmsRejected(text, status)

    def said(self, response: requests.Response) -> str:
        """The CMS's own words in ``response`` without a secret: neither the configured
        ones nor the credentials the request carried (a portal may echo its headers)."""
        # scrubbed whole, then cut: a secret the cut went through would keep its start
        return scrub(cms_message(response), self._secrets_of(response.request))[:MESSAGE_LIMIT]

    def _secrets_of(self, request: requests.PreparedRequest | requests.Request | None) -> list[str]:
        try:
            configured = self._secrets()
        except ConfigError:
            configured = []
        sent = request if isinstance(request, requests.PreparedRequest) else None
        return configured + sent_credentials(sent)

    def close(self) -> None:
        self.session.close()


def json_answer(response: requests.Response) -> Any:
    """The decoded JSON body; ``None`` when there is none (204)."""
    if not response.content.strip():
        return None
    try:
        return response.json()
    except ValueError as exc:
        kind = response.headers.get("Content-Type", "?")
        raise CmsRejected(
            f"Câu trả lời của cổng không phải JSON (the answer is not JSON: {kind}) — "
            f"{response.request.method} {_bare_url(response.url)}",
            response.status_code,
        ) from exc


def json_body(data: Any) -> bytes:
    """JSON as UTF-8 text (Vietnamese stays readable; escaping is JSON's own)."""
    return json.dumps(data, ensure_ascii=False).encode("utf-8")
