"""An IMAP mailbox read with imapclient.

Only new UIDs are fetched: the pipeline keeps UIDVALIDITY and the last UID per
mailbox, and an idle poll costs one SELECT whatever the mailbox's size. Handled
mail is moved to folders named in the config (modified UTF-7 is imapclient's
job), never deleted.
"""

from __future__ import annotations

import contextlib
import imaplib
import logging
import socket
import ssl
import time
from collections.abc import Iterable, Iterator
from typing import Any

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError, LoginError

from connectors.base import Cursor, Fetched, PermanentError, TransientError

log = logging.getLogger(__name__)

BATCH = 200
_DROPPED = (imaplib.IMAP4.abort, socket.error, ssl.SSLError, EOFError, TimeoutError)


class ImapSource:
    def __init__(
        self,
        name: str,
        host: str,
        port: int,
        username: str,
        password: str,
        *,
        use_ssl: bool = True,
        folder: str = "INBOX",
        idle: bool = True,
        timeout: float = 60.0,
    ) -> None:
        self.name = name
        self.host, self.port, self.use_ssl = host, port, use_ssl
        self.username, self._password = username, password
        self.folder, self.use_idle, self.timeout = folder, idle, timeout
        self._client: IMAPClient | None = None
        self._created: set[str] = set()

    # -- connection -------------------------------------------------------
    def _connect(self) -> IMAPClient:
        if self._client is not None:
            return self._client
        try:
            client = IMAPClient(self.host, port=self.port, ssl=self.use_ssl, timeout=self.timeout)
            client.login(self.username, self._password)
        except LoginError as exc:
            raise PermanentError(f"{self.name}: IMAP login refused for {self.username}") from exc
        except (*_DROPPED, IMAPClientError) as exc:
            raise TransientError(
                f"{self.name}: cannot reach {self.host}:{self.port}: {exc}"
            ) from exc
        self._client = client
        return client

    def _drop(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(Exception):  # the connection is already broken
                client.shutdown()

    def _call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        """Run an IMAP command; a dropped connection becomes TransientError."""
        client = self._connect()
        try:
            return getattr(client, fn)(*args, **kwargs)
        except _DROPPED as exc:
            self._drop()
            raise TransientError(f"{self.name}: connection lost during {fn}: {exc}") from exc
        except IMAPClientError as exc:
            raise PermanentError(f"{self.name}: {fn} refused: {exc}") from exc

    # -- reading ----------------------------------------------------------
    def poll(self, cursor: Cursor) -> Iterator[list[Fetched]]:
        # STATUS reads the folder's index only: an idle poll costs the same for 50 or
        # 50,000 messages. SELECT (which may sync the whole folder) only when needed, and
        # the folder is left unselected after: STATUS must not ask about a selected folder
        # (RFC 3501 6.3.10; Dovecot then answers from the stale selected view).
        status = self._call("folder_status", self.folder, [b"UIDVALIDITY", b"UIDNEXT"])
        uidvalidity = int(status[b"UIDVALIDITY"])
        if cursor.uidvalidity == uidvalidity and int(status[b"UIDNEXT"]) <= cursor.last_uid + 1:
            return
        info = self._call("select_folder", self.folder)
        try:
            yield from self._fetch_new(cursor, info)
        finally:
            if self._client is not None:
                self._unselect()

    def _fetch_new(self, cursor: Cursor, info: dict[bytes, Any]) -> Iterator[list[Fetched]]:
        uidvalidity = int(info[b"UIDVALIDITY"])
        last_uid = cursor.last_uid
        if cursor.uidvalidity is not None and cursor.uidvalidity != uidvalidity:
            log.warning(
                "%s: UIDVALIDITY changed %s -> %s, re-syncing",
                self.name,
                cursor.uidvalidity,
                uidvalidity,
            )
            last_uid = 0
        uidnext = info.get(b"UIDNEXT")
        if uidnext is not None and int(uidnext) <= last_uid + 1:
            return
        # `UID n:*` answers with the last message even when n is past it: filter.
        uids = sorted(u for u in self._call("search", ["UID", f"{last_uid + 1}:*"]) if u > last_uid)
        for start in range(0, len(uids), BATCH):
            chunk = uids[start : start + BATCH]
            data = self._call("fetch", chunk, ["BODY.PEEK[]"])
            batch = [
                Fetched(key=str(uid), uid=uid, uidvalidity=uidvalidity, raw=data[uid][b"BODY[]"])
                for uid in chunk
                if uid in data and b"BODY[]" in data[uid]
            ]
            if batch:
                yield batch

    def _unselect(self) -> None:
        if self._call("has_capability", "UNSELECT"):
            self._call("unselect_folder")
        else:  # CLOSE also expunges, but nothing here is ever left flagged \Deleted
            self._call("close_folder")

    # -- filing -----------------------------------------------------------
    def _ensure_folder(self, folder: str) -> None:
        if folder in self._created:
            return
        if not self._call("folder_exists", folder):
            self._call("create_folder", folder)
        self._created.add(folder)

    def file(self, moves: Iterable[tuple[str, str]]) -> None:
        by_folder: dict[str, list[int]] = {}
        for key, folder in moves:
            by_folder.setdefault(folder, []).append(int(key))
        if not by_folder:
            return
        self._call("select_folder", self.folder)
        can_move = self._call("has_capability", "MOVE")
        for folder, uids in by_folder.items():
            self._ensure_folder(folder)
            if can_move:
                self._call("move", uids, folder)
            else:  # COPY, then expunge exactly those UIDs (the copy is kept)
                self._call("copy", uids, folder)
                self._call("add_flags", uids, [b"\\Deleted"])
                self._call("uid_expunge", uids)
        self._unselect()

    # -- waiting ----------------------------------------------------------
    def wait(self, timeout: float) -> bool:
        """IDLE until the server reports a change or ``timeout`` passes."""
        if not (self.use_idle and self._call("has_capability", "IDLE")):
            time.sleep(timeout)
            return True
        self._call("select_folder", self.folder, readonly=True)
        self._call("idle")
        try:
            responses = self._call("idle_check", timeout=timeout)
        finally:
            if self._client is not None:
                self._call("idle_done")
                self._unselect()
        return bool(responses)

    def close(self) -> None:
        if self._client is not None:
            with contextlib.suppress(Exception):  # closing a broken connection
                self._client.logout()
            self._client = None
