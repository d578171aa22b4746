"""HTTP with the error mapping every HTTP connector shares (REST, Liferay, WordPress).

``JsonHttp`` is a ``requests.Session`` whose failures are CMS errors: timeouts,
connection errors, 5xx, 429 and 408 are ``CmsTransient``; other 4xx are
``CmsRejected`` with the CMS's own message, and so is a redirect (never followed).
Secrets are removed from every message.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests

from connectors.cms import CmsRejected, CmsTransient
from pipeline.config import ConfigError

MESSAGE_LIMIT = 500
USER_AGENT = "bientap/0.1"


def scrub(text: str, secrets: list[str]) -> str:
    """``text`` with every secret (and a bearer token's last word) replaced by ``***``."""
    for secret in secrets:
        words = secret.split()
        for part in sorted({secret, words[-1] if words else ""}, key=len, reverse=True):
            if len(part) >= 4:  # the whole secret first: a word of it would break it up
                text = text.replace(part, "***")
    return text


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
    text = " ".join(text.split()) or (response.reason or "")
    return text[:MESSAGE_LIMIT]


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
            reason = scrub(str(exc), self._safe_secrets())
            raise CmsTransient(f"{where}: cannot connect: {reason}"[:1000]) from exc
        status = response.status_code
        if status < 300:
            return response
        if status == 404 and missing_ok:
            return None
        if status < 400:
            location = scrub(response.headers.get("Location", "?"), self._safe_secrets())
            raise CmsRejected(
                f"{where}: HTTP {status}: redirected to {_bare_url(location)}"
                " (redirects are not followed: set the CMS's address to it)",
                status,
            )
        message = scrub(cms_message(response), self._safe_secrets())
        text = f"{where}: HTTP {status}: {message}"
        if (status >= 500 or status in (408, 429)) and cms_code(response) not in self.refusals:
            raise CmsTransient(text)
        raise CmsRejected(text, status)

    def _safe_secrets(self) -> list[str]:
        try:
            return self._secrets()
        except ConfigError:
            return []

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
