"""The daemon's logs: text or JSON lines, and never a secret, a link or a mail body.

A filter on the one handler scrubs every record, whichever library wrote it, before it
is formatted: the values of the environment variables that the boards' secrets name
(``env:NAME``), of BIENTAP_LINK_KEY and of variables whose names say they hold a
secret; reviewers' link tokens (in ``/duyet/<task>/<token>`` addresses or alone);
``Authorization`` values, ``password=…`` pairs, passwords in URLs and the row values
PostgreSQL names in an error. Long messages are cut, so a mail body logged by mistake
leaves only its first lines. An error kept on record (``scrub``) is scrubbed alike.
"""

from __future__ import annotations

import base64
import logging
import os
import re
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Final
from urllib.parse import quote

from pydantic import BaseModel
from pythonjsonlogger.json import JsonFormatter

from pipeline.config import secret_refs
from pipeline.tokens import DEFAULT_KEY_ENV, TokenKeyError, load_key

FORMATS = ("text", "json")
FORMAT_ENV = "BIENTAP_LOG_FORMAT"
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
MAX_MESSAGE = 2000  # characters of a message kept; the rest is cut
MAX_TRACEBACK = 8000  # characters of a traceback kept (its end, where the error is)
MIN_SECRET = 4  # shorter values are not hidden (they would blank ordinary words)
REDACTED = "[redacted]"

# Variables whose name says they hold a secret, hidden even when no board names them.
_SECRET_NAME = re.compile(r"PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|PRIVATE_KEY|LINK_KEY")

# (pattern, replacement), applied in order to every message, traceback and extra field.
PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"(/duyet/\d+/)[^\s/?#\"'<>]+"), rf"\1{REDACTED}"),  # review.Links.url
    # a signed token alone: base64url payload "." base64url HMAC-SHA256 (pipeline/tokens.py)
    (
        re.compile(r"(?<![A-Za-z0-9_-])[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]{43}(?![A-Za-z0-9_-])"),
        REDACTED,
    ),
    (
        re.compile(
            r"(?i)(\b(?:proxy-)?authorization[\"']?\s*[:=]\s*[\"']?)"
            r"(?:(?:bearer|basic|digest|token)\s+)?[^\s\"',;}]+"
        ),
        rf"\1{REDACTED}",
    ),
    (
        re.compile(
            r"(?i)(\b(?:pass(?:word|wd)?|pwd|secret|api[_-]?key|access[_-]?token|token)"
            r"[\"']?\s*[:=]\s*[\"']?)[^\s\"',;&}]+"
        ),
        rf"\1{REDACTED}",
    ),
    (re.compile(r"(\b[a-z][a-z0-9+.-]*://[^/\s:@]+:)[^@\s/]+@"), rf"\1{REDACTED}@"),  # user:pw@
    # PostgreSQL's DETAIL names the refused row's values ("Failing row contains (…)",
    # "Key (token)=(…)"), which may span lines, up to the statement SQLAlchemy adds
    (re.compile(r"(DETAIL:)[\s\S]*?(?=\n\[SQL|\nHINT:|\nCONTEXT:|\Z)"), rf"\1 {REDACTED}"),
)

_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}
_named: set[str] = {DEFAULT_KEY_ENV}  # environment variables whose values are hidden


def hide_secrets(boards: Iterable[BaseModel]) -> None:
    """Hide the values of the variables the boards' ``env:NAME`` secrets name."""
    _named.update(secret.env_name for board in boards for _key, secret in secret_refs(board))


def _spellings(value: str) -> set[str]:
    """A secret as it may be written: as is, URL-encoded, and for the link key its bytes
    in hex and base64 (the forms ``load_key`` accepts)."""
    value = value.strip()
    out = {value, quote(value, safe="")}
    prefix, sep, rest = value.partition(":")
    if sep and prefix in ("hex", "base64", "raw"):
        out.add(rest.strip())
    return out


def _link_key_spellings() -> set[str]:
    try:
        key = load_key()
    except TokenKeyError:
        return set()
    b64 = base64.b64encode(key).decode()
    url = base64.urlsafe_b64encode(key).decode()
    return {key.hex(), key.hex().upper(), b64, b64.rstrip("="), url, url.rstrip("=")}


def _secret_values() -> tuple[str, ...]:
    """The values to hide, worked out again only when the environment changes size or a
    named variable changes (every record asks)."""
    named = tuple((n, os.environ.get(n)) for n in sorted(_named))
    return _values_for(named, len(os.environ))


@lru_cache(maxsize=4)
def _values_for(named: tuple[tuple[str, str | None], ...], _env_size: int) -> tuple[str, ...]:
    names = {n for n, _v in named} | {n for n in os.environ if _SECRET_NAME.search(n)}
    values: set[str] = set()
    for name in names:
        if os.environ.get(name):
            values |= _spellings(os.environ[name])
    if os.environ.get(DEFAULT_KEY_ENV):
        values |= _link_key_spellings()
    return tuple(sorted((v for v in values if len(v) >= MIN_SECRET), key=len, reverse=True))


@lru_cache(maxsize=8)
def _secrets_pattern(values: tuple[str, ...]) -> re.Pattern[str] | None:
    return re.compile("|".join(map(re.escape, values))) if values else None


def scrub(text: str) -> str:
    """``text`` with every secret, token and password in it replaced by [redacted]."""
    secrets_re = _secrets_pattern(_secret_values())
    if secrets_re is not None:
        text = secrets_re.sub(REDACTED, text)
    for pattern, replacement in PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def cut(text: str, limit: int = MAX_MESSAGE) -> str:
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… [{len(text) - limit} characters cut]"


class ScrubFilter(logging.Filter):
    """Rewrites each record with its message, traceback and extra fields scrubbed."""

    _traceback = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a bad format string: keep what was given
            message = f"{record.msg!r} {record.args!r}"
        record.msg, record.args = cut(scrub(message)), None
        if record.exc_info:
            record.exc_text = self._traceback.formatException(record.exc_info)
            record.exc_info = None
        if record.exc_text:
            text = scrub(record.exc_text)
            record.exc_text = text if len(text) <= MAX_TRACEBACK else "…" + text[-MAX_TRACEBACK:]
        if record.stack_info:
            record.stack_info = scrub(record.stack_info)
        for key, value in list(vars(record).items()):
            if key not in _STANDARD and isinstance(value, str):
                setattr(record, key, cut(scrub(value)))
        return True


class LineFormatter(logging.Formatter):
    """Text lines, one an event: a line break a mail put in a value (a folded Message-ID,
    a subject) is written as ``\\n`` and cannot forge a line of its own. A traceback
    still follows on its own lines."""

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 - logging's name
        return super().formatMessage(record).replace("\r", "\\r").replace("\n", "\\n")


def formatter(json_format: bool) -> logging.Formatter:
    if not json_format:
        return LineFormatter(TEXT_FORMAT)
    return JsonFormatter(
        "%(levelname)s %(name)s %(message)s",
        rename_fields={"levelname": "level", "name": "logger"},
        timestamp="time",
        json_ensure_ascii=False,
    )


# Alembic says which dialect it talks to each time it opens a database (every start,
# every backup): noise. The migrations it runs are still logged.
_CHATTER: Final = ("Context impl ", "Will assume ")


def _not_chatter(record: logging.LogRecord) -> bool:
    return not (isinstance(record.msg, str) and record.msg.startswith(_CHATTER))


def setup(level: int, json_format: bool) -> None:
    """One handler on stderr for every logger (warnings included), scrubbed, as text
    lines or one JSON object a line."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter(json_format))
    handler.addFilter(ScrubFilter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    migration = logging.getLogger("alembic.runtime.migration")
    if _not_chatter not in migration.filters:
        migration.addFilter(_not_chatter)
    logging.captureWarnings(True)


@contextmanager
def to_stderr(level: int = logging.WARNING) -> Iterator[None]:
    """Scrubbed text lines on stderr while a command works (``bientap reprocess`` runs
    the daemon's code, which logs), without touching the logging already set up."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setLevel(level)
    handler.setFormatter(formatter(False))
    handler.addFilter(ScrubFilter())
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield
    finally:
        root.removeHandler(handler)


def default_format() -> str:
    """The log format from BIENTAP_LOG_FORMAT (text unless it says json)."""
    value = os.environ.get(FORMAT_ENV, "text").strip().lower()
    return value if value in FORMATS else "text"
