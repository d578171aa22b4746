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
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError, LoginError

from connectors.base import Cursor, Fetched, PermanentError, TransientError
from pipeline.batches import weighed

log = logging.getLogger(__name__)
# imapclient warns when a server's answer is not ASCII ("[TRYCREATE] … Đã xử lý", before
# the folder is made): it reads it anyway, and our own messages name the folder
logging.getLogger("imapclient.util").setLevel(logging.ERROR)

BATCH = 200  # messages fetched by one command at most
# ... and about this many bytes of mail (a larger message alone): a FETCH's answer is held
# whole, about three times over, while it is recorded; 200 mails of 25 MB took 15 GB
BATCH_BYTES = 32 * 1024 * 1024
# A folder deleted and recreated under a selected session can stay invisible to NOOP
# (Dovecot keeps the old view): re-SELECT this often to catch a new UIDVALIDITY.
RESELECT_SECONDS = 300.0
_DROPPED = (imaplib.IMAP4.abort, socket.error, ssl.SSLError, EOFError, TimeoutError)


def _announced(client: IMAPClient) -> bool:
    """Has the server announced new mail (EXISTS) since the last look, with the answer to
    any command? imaplib keeps these untagged responses aside (those of a FETCH or MOVE
    too), and the server does not announce that mail again: take them. RECENT is taken
    too but announces nothing: Dovecot answers a MOVE with a smaller count («* 0 RECENT»),
    and new mail comes with its EXISTS."""
    pending = client._imap.untagged_responses
    pending.pop("RECENT", None)
    return pending.pop("EXISTS", None) is not None


def _farewell(client: IMAPClient) -> str:
    """What the server said as it closed the connection itself (BYE), if it did."""
    bye = client._imap.untagged_responses.get("BYE")
    return bytes(bye[-1]).decode("utf-8", "replace") if bye else ""


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
        self.reselect_seconds = RESELECT_SECONDS
        self._selected: int | None = None  # UIDVALIDITY of the folder kept selected
        self._selected_at = 0.0
        self._changed = False

    # -- connection -------------------------------------------------------
    def _connect(self) -> IMAPClient:
        if self._client is not None:
            return self._client
        try:
            client = IMAPClient(self.host, port=self.port, ssl=self.use_ssl, timeout=self.timeout)
            self._login(client)
        except LoginError as exc:
            raise PermanentError(f"{self.name}: IMAP login refused for {self.username}") from exc
        except (*_DROPPED, IMAPClientError) as exc:
            raise TransientError(
                f"{self.name}: cannot reach {self.host}:{self.port}: {exc}"
            ) from exc
        self._client = client
        return client

    def _login(self, client: IMAPClient) -> None:
        """LOGIN, which imaplib sends as ASCII only: a password with a Vietnamese letter
        goes as AUTHENTICATE PLAIN in UTF-8 (RFC 4616), which the server must offer."""
        if f"{self.username}{self._password}".isascii():
            client.login(self.username, self._password)
        elif client.has_capability("AUTH=PLAIN"):
            client.plain_login(self.username, self._password)
        else:
            client.shutdown()
            raise PermanentError(
                f"{self.name}: {self.host} offers no AUTHENTICATE PLAIN, which a password "
                "with non-ASCII letters needs"
            )

    def _drop(self) -> None:
        client, self._client = self._client, None
        self._selected = None
        if client is not None:
            with contextlib.suppress(Exception):  # the connection is already broken
                client.shutdown()

    def _call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        """Run an IMAP command; a dropped connection becomes TransientError."""
        client = self._connect()
        try:
            result = getattr(client, fn)(*args, **kwargs)
        except _DROPPED as exc:
            farewell = _farewell(client)
            self._drop()
            if farewell.upper().startswith(f"{fn.upper()} FAILED"):
                # Dovecot refuses a message it cannot read with BYE, not NO: a refusal
                raise PermanentError(f"{self.name}: {fn} refused: {farewell}") from exc
            raise TransientError(f"{self.name}: connection lost during {fn}: {exc}") from exc
        except IMAPClientError as exc:
            raise PermanentError(f"{self.name}: {fn} refused: {exc}") from exc
        self._changed = _announced(client) or self._changed
        return result

    # -- reading ----------------------------------------------------------
    def _select(self) -> dict[bytes, Any]:
        # the SELECT's own EXISTS announces nothing new: _changed is reset below
        self._connect()  # a login refused is told as such, not as the folder's fault
        try:
            info: dict[bytes, Any] = self._call("select_folder", self.folder)
        except PermanentError as exc:  # deleted, renamed: imapclient's text drops "à", "ử"…
            raise PermanentError(
                f"{self.name}: cannot open folder '{self.folder}': {exc.__cause__ or exc}"
            ) from exc
        self._selected = int(info[b"UIDVALIDITY"])
        self._selected_at = time.monotonic()
        self._changed = False
        return info

    def _quiet(self, cursor: Cursor) -> bool:
        """Nothing new since the last look? On the folder kept selected, NOOP answers that
        at the same cost for 50 or 50,000 messages; SELECT and STATUS make Dovecot sync the
        whole folder. A periodic re-SELECT catches anything NOOP could miss."""
        if (
            self._selected is None
            or self._changed
            or cursor.uidvalidity != self._selected
            or time.monotonic() - self._selected_at > self.reselect_seconds
        ):
            return False
        try:
            self._call("noop")
        except TransientError as exc:  # a server restarted, an idle session timed out:
            log.info("%s: %s; connecting again", self.name, exc)  # no failure for that
            return False  # the pass selects the folder on a new connection
        return not self._changed

    def poll(self, cursor: Cursor) -> Iterator[list[Fetched]]:
        if self._quiet(cursor):
            return
        yield from self._fetch_new(cursor, self._select())

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
            for part in self._by_size(uids[start : start + BATCH], uidvalidity):
                batch = self._fetch(part, uidvalidity)
                if batch:
                    yield batch

    def _by_size(self, uids: list[int], uidvalidity: int) -> Iterator[list[int]]:
        """``uids`` in runs of about BATCH_BYTES of mail, as the server gives their sizes.
        A server that cannot give them (a message it cannot read) has them asked for one
        by one, as a refused FETCH is."""
        try:
            sizes = self._call("fetch", uids, ["RFC822.SIZE"])
        except PermanentError:
            if self._selected is None:  # the refusal came with the connection's end
                self._back_in(uidvalidity)
            yield from ([uid] for uid in uids)
            return

        def size(uid: int) -> int:
            return int(sizes.get(uid, {}).get(b"RFC822.SIZE") or 0)

        yield from weighed(uids, len(uids), size, BATCH_BYTES)

    def _fetch(self, uids: list[int], uidvalidity: int) -> list[Fetched]:
        """The messages ``uids``. One message the server cannot read makes it refuse the
        whole FETCH: it is then asked UID by UID, and a message it still refuses comes back
        empty with the server's answer, so that the mail behind it goes on. A dropped
        connection is raised as ever."""
        try:
            return self._bodies(uids, uidvalidity)
        except PermanentError:
            pass
        batch: list[Fetched] = []
        for uid in uids:
            if self._selected is None:  # the refusal came with the connection's end
                self._back_in(uidvalidity)
            try:
                batch += self._bodies([uid], uidvalidity)
            except PermanentError as exc:
                log.error("%s: the server cannot serve UID %d: %s", self.name, uid, exc)
                error = str(exc.__cause__ or exc)
                batch.append(Fetched(str(uid), uid, uidvalidity, raw=b"", error=error))
        return batch

    def _back_in(self, uidvalidity: int) -> None:
        """Select the folder again on a new connection, the server having closed the last
        as it refused a FETCH; its UIDs must still name the mail they named."""
        if int(self._select()[b"UIDVALIDITY"]) != uidvalidity:
            raise TransientError(f"{self.name}: UIDVALIDITY changed during a fetch")
        self._changed = True  # what was announced before is not known: look again

    def fetch_again(self, uidvalidity: int | None, keys: Sequence[str]) -> list[Fetched]:
        """The UIDs ``keys`` once more, as ``_fetch`` asks for them; none when the folder
        has been renumbered since (its UIDs name other messages now). A UID no longer in
        the folder is simply not in the server's answer."""
        if self._selected is None:
            self._select()
            self._changed = True  # what was announced before this SELECT is not known
        if uidvalidity is None or self._selected != uidvalidity:
            return []
        return self._fetch([int(key) for key in keys], uidvalidity)

    def _bodies(self, uids: list[int], uidvalidity: int) -> list[Fetched]:
        data = self._call("fetch", uids, ["BODY.PEEK[]"])
        return [
            Fetched(key=str(uid), uid=uid, uidvalidity=uidvalidity, raw=data[uid][b"BODY[]"])
            for uid in uids
            # a message expunged by another client since the SEARCH comes as NIL: gone
            if data.get(uid, {}).get(b"BODY[]") is not None
        ]

    # -- filing -----------------------------------------------------------
    def _to_folder(self, command: str, uids: list[int], folder: str) -> None:
        """MOVE or COPY ``uids`` into ``folder``. A missing folder is created when the server
        says so ([TRYCREATE]) and the command tried once more: a folder deleted while the
        daemon runs comes back, and no LIST pattern (``%`` and ``*`` are wildcards in it)
        has to tell whether a folder exists."""
        try:
            self._call(command, uids, folder)
            return
        except PermanentError as exc:
            if "[TRYCREATE]" not in str(exc):
                raise PermanentError(
                    f"{self.name}: cannot file into '{folder}': {exc.__cause__ or exc}"
                ) from exc
        log.info("%s: folder '%s' is missing, creating it", self.name, folder)
        try:
            self._call("create_folder", folder)
        except PermanentError as exc:  # made by another daemon meanwhile: fine
            if "[ALREADYEXISTS]" not in str(exc):
                raise PermanentError(
                    f"{self.name}: cannot create '{folder}': {exc.__cause__ or exc}"
                ) from exc
        self._call(command, uids, folder)

    def file(self, uidvalidity: int | None, moves: Iterable[tuple[str, str]]) -> None:
        by_folder: dict[str, list[int]] = {}
        for key, folder in moves:
            by_folder.setdefault(folder, []).append(int(key))
        if not by_folder:
            return
        if self._selected != uidvalidity:  # not selected, or a view kept from before
            self._select()
        if self._selected != uidvalidity:  # its UIDs are other mail's now, never recorded
            log.warning(
                "%s: UIDVALIDITY changed %s -> %s since the mail was read: nothing filed",
                self.name,
                uidvalidity,
                self._selected,
            )
            return
        can_move = self._call("has_capability", "MOVE")
        for folder, uids in by_folder.items():
            if can_move:
                self._to_folder("move", uids, folder)
            else:
                self._to_folder("copy", uids, folder)
                self._remove_copied(uids, folder)

    def _remove_copied(self, uids: list[int], folder: str) -> None:
        """Take mail copied into ``folder`` out of the inbox: flag it \\Deleted and expunge
        exactly it (UIDPLUS), or, without UIDPLUS, EXPUNGE only when every \\Deleted message
        of the folder is one of these: mail someone else flagged is never expunged by us
        (a flag set between our SEARCH and EXPUNGE is the one gap). The mail is filed once
        copied: a refusal here is logged, not raised, or each pass would copy it again. A
        dropped connection is raised; the next pass copies it once more: after a crash or a
        drop between COPY and the record of it, one extra copy at most."""
        try:
            self._call("add_flags", uids, [b"\\Deleted"])
            if self._call("has_capability", "UIDPLUS"):
                self._call("uid_expunge", uids)
                return
            others = set(self._call("search", ["DELETED"])) - set(uids)
            if others:
                log.warning(
                    "%s: %d message(s) filed into '%s' stay flagged \\Deleted in %s: "
                    "%d other message(s) there are flagged too and the server cannot "
                    "expunge ours alone (no UIDPLUS)",
                    self.name,
                    len(uids),
                    folder,
                    self.folder,
                    len(others),
                )
                return
            self._call("expunge")
        except PermanentError as exc:
            log.warning(
                "%s: %d message(s) filed into '%s' are left in %s: %s",
                self.name,
                len(uids),
                folder,
                self.folder,
                exc,
            )

    # -- waiting ----------------------------------------------------------
    def wait(self, timeout: float) -> bool:
        """IDLE until the server reports a change or ``timeout`` passes."""
        if not (self.use_idle and self._call("has_capability", "IDLE")):
            time.sleep(timeout)
            return False
        if self._selected is None:
            self._select()
        # Dovecot's IDLE reports only what changes after it began (the rest comes with
        # DONE): ask about mail that came during the pass first (announced with the answer
        # to one of its commands, or now to a NOOP).
        self._call("noop")
        if self._changed:
            return True
        self._call("idle")
        responses: list[Any] = []
        try:
            responses = self._call("idle_check", timeout=timeout)
        finally:
            if self._client is not None:
                # What arrives as IDLE ends comes with DONE's answer. Keep it: the server
                # has told this connection, so no later NOOP will tell it again.
                responses += self._call("idle_done")[1]
        self._changed = self._changed or bool(responses)
        return bool(responses)

    def close(self) -> None:
        if self._client is not None:
            with contextlib.suppress(Exception):  # closing a broken connection
                self._client.logout()
            self._client = None
        self._selected = None  # a new connection selects the folder again
