"""The one interface every portal CMS is reached through.

An ``Article`` is what the board approved, ready for a portal: sanitised HTML whose
inline images reference ``cid:`` content ids of its ``media``, plus metadata. A
connector publishes it, updates it, withdraws it, finds it again by its idempotency
key, and reads back what is live, as a ``Live`` with the same shape of content so the
pipeline can compare the two (verification).

Failures are of two kinds: ``CmsTransient`` (timeouts, connection refused, 5xx,
429: worth retrying) and ``CmsRejected`` (4xx the CMS will answer the same way again:
bad credentials, validation; carries the CMS's own message for the operator).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Literal, Protocol


@dataclass(frozen=True)
class Media:
    filename: str
    content_type: str
    data: bytes
    content_id: str | None = None  # referenced as cid:… in the body when inline
    role: Literal["image", "file"] = "file"


@dataclass(frozen=True)
class Document:
    """An official document's metadata (Đồng Nai Đ8.1d)."""

    kind: str | None = None  # Quyết định, Công văn…
    number: str | None = None  # số, ký hiệu
    issuer: str | None = None
    issued: str | None = None  # ISO date
    effective: str | None = None
    summary: str | None = None  # trích yếu


DOCUMENT_KEYS = tuple(f"document_{f.name}" for f in fields(Document))  # document_kind…


def document_values(document: Document | None) -> dict[str, str | None]:
    """``document_<field>`` -> value, in field order; all None without a document."""
    doc = document or Document()
    return {f"document_{f.name}": getattr(doc, f.name) for f in fields(Document)}


@dataclass(frozen=True)
class Article:
    key: str  # idempotency key: one publication, however often it is retried
    title: str
    body_html: str
    summary: str = ""
    author: str | None = None  # credit line, as the board writes it
    section: str | None = None  # the CMS's category/section, from the board's mapping
    tags: tuple[str, ...] = ()
    media: tuple[Media, ...] = ()
    language: str = "vi"
    scheduled_at: datetime | None = None  # publish later; None: now
    document: Document | None = None


Term = Literal["section", "tags"]
TERMS: frozenset[Term] = frozenset({"section", "tags"})


@dataclass(frozen=True)
class Live:
    """What the CMS shows for a post. ``known`` says which of ``section`` and ``tags``
    the CMS's answer carries; verification compares those and leaves the others alone
    (a read-back that cannot tell them is "not compared", never "empty")."""

    remote_id: str
    url: str
    title: str = ""
    body_html: str = ""
    section: str | None = None
    tags: tuple[str, ...] = ()
    media: tuple[str, ...] = ()  # file names of the media attached to the post
    meta: dict[str, str] = field(default_factory=dict)  # document metadata, key…
    status: str = "publish"
    known: frozenset[Term] = frozenset()


class CmsError(Exception):
    """A CMS did not do what was asked; ``str()`` is safe to log (no secrets)."""


class CmsTransient(CmsError):
    """Worth retrying: timeout, connection refused, 5xx, 429."""


class CmsRejected(CmsError):
    """Will fail again as asked: bad credentials, validation. The CMS's own message."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class Cms(Protocol):
    name: str

    def publish(self, article: Article) -> Live: ...

    def update(self, remote_id: str, article: Article) -> Live: ...

    def withdraw(self, remote_id: str) -> None: ...

    def find(self, key: str) -> Live | None:
        """The post published under idempotency ``key``, if the CMS has one."""
        ...

    def read(self, remote_id: str) -> Live | None: ...

    def close(self) -> None: ...
