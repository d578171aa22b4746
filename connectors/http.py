"""HTTP with the error mapping every HTTP connector shares (REST, Liferay, WordPress).

``JsonHttp`` is a ``requests.Session`` whose failures are CMS errors: timeouts,
connection errors, 5xx, 429 and 408 are ``CmsTransient``; other 4xx are
``CmsRejected`` with the CMS's own message, and so is a redirect (never followed).
Secrets are removed from every message: the configured ones and the credentials the
request carried (a portal's error page may echo its ``Authorization`` header).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, quote_plus, urlsplit, urlunsplit

import requests

from connectors.cms import CmsRejected, CmsTransient
from pipeline.config import ConfigError

MESSAGE_LIMIT = 500
USER_AGENT = "bientap/0.1"
AUTH_HEADERS = ("Authorization", "Proxy-Authorization")


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


def cms_message(response: requests.Response) -> str:
    """The CMS's own words: JSON ``message``/``title``/``detail``, else the text."""
    text = response.text or ""
    try:
        answer = response.json()
    except ValueError:
        answer = None
    if isinstance(answer, dict):
        for name in ("message", "title", "detail", "error_description", "error"):
            value = answer.get(name)
            if isinstance(value, str) and value.strip():
                text = value
                break
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
        """Send; ``None`` for a 404 when ``missing_ok``. Raises ``CmsError``.

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
            raise CmsTransient(f"{where}: no answer within {self.timeout:g} s") from exc
        except requests.RequestException as exc:
            reason = scrub(str(exc), self._secrets_of(exc.request))
            raise CmsTransient(f"{where}: cannot connect: {reason}"[:1000]) from exc
        status = response.status_code
        if status < 300:
            return response
        if status == 404 and missing_ok:
            return None
        if status < 400:
            location = scrub(
                response.headers.get("Location", "?"), self._secrets_of(response.request)
            )
            raise CmsRejected(
                f"{where}: HTTP {status}: redirected to {_bare_url(location)}"
                " (redirects are not followed: set the CMS's address to it)",
                status,
            )
        text = f"{where}: HTTP {status}: {self.said(response)}"
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
            f"{response.request.method} {_bare_url(response.url)}: the answer is not JSON ({kind})",
            response.status_code,
        ) from exc


def json_body(data: Any) -> bytes:
    """JSON as UTF-8 text (Vietnamese stays readable; escaping is JSON's own)."""
    return json.dumps(data, ensure_ascii=False).encode("utf-8")
