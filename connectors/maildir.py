"""A Maildir inbox (the embedded default) and a Maildir outbox."""

from __future__ import annotations

import errno
import glob
import mailbox
import os
import re
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from connectors.base import Cursor, Fetched, PermanentError, TransientError
from pipeline.batches import weighed

BATCH = 200
BATCH_BYTES = 32 * 1024 * 1024  # as IMAP fetches: a backlog of large mail, fewer
_INFO = f"{mailbox.Maildir.colon}2,"  # what follows a key in cur/: the flags, often none
_PASSING = {errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EINTR, errno.EAGAIN}  # wait it out


def _folder_name(name: str) -> str:
    # Maildir++ sub-folders are dot-separated; a dot inside a name would nest it.
    return name.replace(".", "_").replace("/", "_")


def _maildir(path: Path) -> mailbox.Maildir:
    path.parent.mkdir(parents=True, exist_ok=True)
    return mailbox.Maildir(path, factory=None, create=True)


def delivery_order(key: str) -> tuple[int, int, str]:
    """Maildir keys are "<seconds>.M<µs>P<pid>Q<n>.<host>": as text, M99 sorts after M100
    within one second; the seconds and the delivering process's counter keep the order."""
    found = re.match(r"(\d+)\.\S*?Q(\d+)", key)
    return (int(found.group(1)), int(found.group(2)), key) if found else (0, 0, key)


class MaildirSource:
    """Reads every message still in the Maildir; handled ones are moved to sub-folders.

    Maildir has no UIDs: a message is "new" while it sits in the inbox. The
    pipeline's fingerprint makes a second read of the same message harmless.
    """

    def __init__(self, name: str, path: Path) -> None:
        self.name = name
        self.path = path
        self.box = _maildir(path)

    def poll(self, cursor: Cursor) -> Iterator[list[Fetched]]:
        """The inbox's messages in delivery order, BATCH at a time or about BATCH_BYTES."""
        keys = sorted(self.box.iterkeys(), key=delivery_order)
        for part in weighed(keys, BATCH, self._size, BATCH_BYTES):
            batch = self.fetch_again(None, part)
            if batch:
                yield batch

    def _size(self, key: str) -> int:
        here = self._file_of(key)
        try:
            return here.stat().st_size if here is not None else 0
        except OSError:  # gone meanwhile, or not ours to read: _read says which
            return 0

    def fetch_again(self, uidvalidity: int | None, keys: Sequence[str]) -> list[Fetched]:
        """The files ``keys`` read, as ``poll`` reads every file of the inbox (a Maildir has
        no UIDVALIDITY)."""
        return [fetched for key in keys if (fetched := self._read(key)) is not None]

    def _read(self, key: str) -> Fetched | None:
        """The message, or why its file cannot be read (its permissions, a broken file):
        that one stays in the inbox and the rest goes on. None when it is gone (moved by
        another reader meanwhile)."""
        try:
            raw = self.box.get_bytes(key)
        except (KeyError, FileNotFoundError):
            return None
        except OSError as exc:
            return Fetched(key=key, uid=None, uidvalidity=None, raw=b"", error=str(exc))
        return Fetched(key=key, uid=None, uidvalidity=None, raw=raw)

    def file(self, uidvalidity: int | None, moves: Iterable[tuple[str, str]]) -> None:
        """Move each message's file into its folder by one rename: whenever the daemon is
        killed, the message is in one place, never in both (a copy, then a delete, left a
        second copy in the folder), and the flags a mail client set on it are kept. A
        Maildir has no UIDVALIDITY: ``uidvalidity`` is None."""
        for key, folder in moves:
            target = self.path / f".{_folder_name(folder)}"
            if not target.is_dir():
                self.box.add_folder(_folder_name(folder))
            here = self._file_of(key)
            if here is not None:  # else filed already
                os.rename(here, target / here.parent.name / here.name)

    def _file_of(self, key: str) -> Path | None:
        """The file of message ``key``: in new/, or in cur/ with the flags a client set."""
        for path in (self.path / "new" / key, self.path / "cur" / f"{key}{_INFO}"):
            if path.exists():
                return path
        return next((self.path / "cur").glob(f"{glob.escape(key + _INFO[0])}*"), None)

    def wait(self, timeout: float) -> bool:
        time.sleep(timeout)
        return True

    def close(self) -> None:
        self.box.close()


def deliver(path: Path, raw: bytes) -> str:
    """Drop one message into a Maildir (used for the outbox and the demo)."""
    return _maildir(path).add(raw)


class OutboxSender:
    """The embedded default for outgoing mail: a local Maildir anyone can read.

    An outbox that cannot be written (a full disk, a file where its folder should be) is
    to the pipeline what an unreachable mail server is: every mail waits, owed, and the
    pass goes on; a full disk is logged as a warning, anything else as an error."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._box: mailbox.Maildir | None = None

    def send(self, sender: str, recipients: list[str], raw: bytes) -> None:
        try:
            if self._box is None:
                self._box = _maildir(self.path)
            self._box.add(raw)  # written to tmp/, fsynced, then linked into new/
        except OSError as exc:
            self._box = None  # made again next time: the folder may be put right meanwhile
            error = TransientError if exc.errno in _PASSING else PermanentError
            raise error(f"outbox {self.path} cannot be written: {exc}") from exc

    def close(self) -> None:
        pass
