"""Interfaces between the pipeline and the outside world.

The pipeline never imports a protocol library; it talks to these. Each connector
turns its library's errors into the outcomes below: the two about the server, and, for
a mail sent, the two about that one message.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol


class TransientError(Exception):
    """Try again later: the server is down, the connection dropped, a timeout."""


class PermanentError(Exception):
    """Retrying cannot help: bad credentials, a folder that cannot exist, a refusal."""


class MailDeferred(TransientError):
    """This message, for now: the server answered it with a 4xx (greylisting, a full
    mailbox) or dropped the connection while taking it. The next message may go."""


class MailRefused(PermanentError):
    """This message, for good: the server refused it or its recipient (5xx)."""


@dataclass(frozen=True)
class Cursor:
    """How far a source has been read: IMAP UIDVALIDITY and the last UID seen."""

    uidvalidity: int | None = None
    last_uid: int = 0


@dataclass(frozen=True)
class Fetched:
    key: str  # IMAP UID (as text) or Maildir key: what file() takes
    uid: int | None
    uidvalidity: int | None
    raw: bytes
    error: str | None = None  # the mailbox could not serve it (raw is empty): its answer


class MailSource(Protocol):
    """A mailbox the daemon reads submissions from."""

    name: str

    def poll(self, cursor: Cursor) -> Iterator[list[Fetched]]:
        """Batches of messages not seen at ``cursor``, oldest first."""
        ...

    def fetch_again(self, uidvalidity: int | None, keys: Sequence[str]) -> list[Fetched]:
        """The messages ``keys`` (read at ``uidvalidity``) that could not be served before,
        asked for again: each served now or refused again with the answer. A key missing
        from the list is no longer there (moved, deleted, or the folder renumbered: a new
        UIDVALIDITY), and ``poll`` reads its message where it now is."""
        ...

    def file(self, uidvalidity: int | None, moves: Iterable[tuple[str, str]]) -> None:
        """Move handled messages (key, folder), read at ``uidvalidity``, out of the inbox;
        never delete. None is moved when the folder has been renumbered since (its keys
        name other mail now): ``poll`` reads what is still there where it now is."""
        ...

    def wait(self, timeout: float) -> bool:
        """Block until the mailbox may have changed (IMAP IDLE) or ``timeout`` passes."""
        ...

    def close(self) -> None: ...


class MailSender(Protocol):
    """Delivers an already-built message."""

    def send(self, sender: str, recipients: list[str], raw: bytes) -> None: ...

    def close(self) -> None: ...
