"""One mailbox's work: record new mail, process it, send what is owed, file what is done.

A message is recorded (raw bytes, in the same transaction that advances the
mailbox's cursor) before anything else happens; processing then commits in small
batches (a failing batch is redone message by message). A crash anywhere is
followed by a restart that neither loses nor duplicates a submission: unrecorded
mail is fetched again, recorded mail not yet processed is processed, and the
fingerprint refuses a second copy (one fetched again, or the same mail delivered to
another mailbox of the board: that copy is only recorded to be filed). A message the
mailbox cannot serve is recorded by where it is, without its bytes, and asked for
again on later passes (``fetch_again``); the mail behind it goes on.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.parser import BytesHeaderParser
from email.policy import compat32

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload, sessionmaker

from connectors.base import (
    Cursor,
    Fetched,
    MailSender,
    MailSource,
    PermanentError,
    TransientError,
)
from pipeline import audit, ids, ingest, logs
from pipeline.batches import batched, weighed
from pipeline.claims import Crew
from pipeline.config import Board
from pipeline.files import FileStore
from pipeline.models import (
    MailboxState,
    RawCopy,
    RawMessage,
    RawStatus,
    utcnow,
)
from pipeline.parsing import HEADER_BYTES, header_end
from pipeline.postman import Postman, retry_delay
from pipeline.reading import Reading
from pipeline.review import Desk, Links
from pipeline.workers import Outcome, Readers, Unavailable

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 3  # a message that crashes the pipeline this often is kept as failed
ABANDONED = (
    "đọc thư không xong: daemon dừng khi đang đọc thư này "
    "(reading did not finish: the daemon stopped while it was in hand)"
)
UNSERVED = (
    "hộp thư không trả được thư này (máy chủ thư từ chối, hoặc tệp thư không đọc được), "
    "thư để lại trong hộp thư (the mailbox could not serve this message: its server refused "
    "it, or its file cannot be read; it is left in the mailbox)"
)
GONE = (
    "thư không còn ở chỗ cũ trong hộp thư: đã bị chuyển đi hoặc xoá; đưa lại vào hộp thư "
    "thì thư được đọc như thư mới (the message is no longer where it was in the mailbox: "
    "moved or deleted; put back, it is read as new mail)"
)
RENUMBERED = (
    "hộp thư đã được đánh số lại (UIDVALIDITY đổi): thư nào còn trong hộp thư được đọc lại "
    "ở chỗ mới (the mailbox was renumbered, UIDVALIDITY changed: a message still in it is "
    "read again where it now is)"
)
SAME_AS = "cùng một thư với thư đã nhận số {raw_id} (the same message as recorded message {raw_id})"
UNSERVED_LOOK = timedelta(minutes=1)  # how often passes ask for unserved messages due
# Messages processed in one transaction: all of a batch is stored, or none of it and the
# batch is redone message by message, so a crash still neither loses nor duplicates.
PROCESS_BATCH = 25
LOAD_WINDOW = 200  # raw messages loaded from the database at a time
LOAD_BYTES = 32 * 1024 * 1024  # and about this much of them: large mail, fewer
CLAIM = 50  # raw messages one daemon claims at a time


def message_id_of(raw: bytes) -> str | None:
    try:
        value = BytesHeaderParser(policy=compat32).parsebytes(raw[:65536]).get("Message-ID")
    except Exception:  # noqa: BLE001 - any header garbage: no Message-ID
        return None
    if not value:
        return None
    return str(value).strip().strip("<>")[:990] or None


# Fields each delivery of a mail adds or rewrites: one mail delivered to two mailboxes of
# a board differs in them, and in nothing else.
TRACE_FIELDS = frozenset(
    {
        b"received",
        b"x-received",
        b"received-spf",
        b"delivered-to",
        b"x-delivered-to",
        b"return-path",
        b"x-original-to",
        b"envelope-to",
        b"x-envelope-to",
        b"authentication-results",
        b"arc-seal",
        b"arc-message-signature",
        b"arc-authentication-results",
    }
)
TRACE_PREFIXES = (b"x-spam-", b"x-virus-")  # filters' stamps, per delivery


def _is_trace(line: bytes) -> bool:
    name = line.split(b":", 1)[0].strip().lower()
    return name in TRACE_FIELDS or name.startswith(TRACE_PREFIXES)


def content_hash(raw: bytes) -> str:
    """SHA-256 of the message without its trace fields (Received, Delivered-To…)."""
    digest = hashlib.sha256()
    end = header_end(raw, HEADER_BYTES)
    if end < 0:  # no header block to read: the message as it is
        digest.update(raw)
        return digest.hexdigest()
    dropping = False
    for line in raw[:end].splitlines(keepends=True):
        if line[:1] not in (b" ", b"\t"):  # a field starts; folded lines go with it
            dropping = _is_trace(line)
        if not dropping:
            digest.update(line)
    digest.update(memoryview(raw)[end:])
    return digest.hexdigest()


def fingerprint(raw: bytes, message_id: str | None) -> str:
    """Message-ID plus a content hash: the same mail fetched twice is one record, and so
    is one mail delivered to two mailboxes of the board (their trace fields differ)."""
    return hashlib.sha256(f"{message_id or ''}\n{content_hash(raw)}".encode()).hexdigest()


def place_fingerprint(mailbox: str, uidvalidity: int | None, key: str) -> str:
    """The fingerprint of a message recorded without its bytes (its mailbox could not
    serve it): it is known by where it is."""
    return fingerprint(b"", f"{mailbox} {uidvalidity} {key}")


def never_served(raw: RawMessage) -> bool:
    """Was ``raw`` recorded without its bytes, and never served since?"""
    return raw.fingerprint == place_fingerprint(raw.mailbox, raw.uidvalidity, raw.source_key)


def whole_fingerprint(raw: bytes, message_id: str | None) -> str:
    """The fingerprint of a message recorded before trace fields were left out (the whole
    message hashed): such a message, met again, is still known."""
    body = hashlib.sha256(raw).hexdigest()
    return hashlib.sha256(f"{message_id or ''}\n{body}".encode()).hexdigest()


@dataclass
class PassResult:
    recorded: int = 0
    processed: int = 0
    sent: int = 0
    filed: int = 0


class MailboxRunner:
    def __init__(
        self,
        board: Board,
        mailbox: str,
        sessions: sessionmaker[Session],
        files: FileStore,
        source: MailSource,
        sender: MailSender,
        links: Links,
        readers: Readers | None = None,
        clock: Callable[[], datetime] = utcnow,
        crew: Crew | None = None,
    ) -> None:
        self.board, self.mailbox = board, mailbox
        self.sessions, self.files = sessions, files
        self.source, self.sender = source, sender
        self.links, self.clock = links, clock
        self.readers = readers or Readers(board, files)
        self.crew = crew or Crew()
        self._unserved_look: datetime | None = None  # when a pass next asks (UNSERVED_LOOK)

    def desk(self, session: Session) -> Desk:
        return Desk(self.board, session, self.links, self.files, self.clock())

    # -- record ---------------------------------------------------------------
    def mailbox_state(self, session: Session) -> MailboxState:
        state = session.scalar(
            select(MailboxState).where(
                MailboxState.board_id == self.board.id, MailboxState.mailbox == self.mailbox
            )
        )
        if state is None:
            state = MailboxState(board_id=self.board.id, mailbox=self.mailbox, last_uid=0)
            session.add(state)
        return state

    def record(self, mine: Callable[[], bool] = lambda: True) -> int:
        """Fetch and record new mail, and ask again for what the mailbox could not serve,
        while ``mine()`` (this daemon holds the mailbox)."""
        with self.sessions() as session:
            state = self.mailbox_state(session)
            cursor = Cursor(state.uidvalidity, state.last_uid or 0)
            session.commit()
        recorded = 0
        for batch in self.source.poll(cursor):
            # the lease lapsed (a long fetch): the new holder goes on; or the daemon stops
            if not mine() or self.crew.leaving.is_set():
                break
            try:
                recorded += self._record_batch(batch)
            except IntegrityError:  # another daemon recorded the same mail just now
                log.warning("board=%s mailbox=%s: already recorded", self.board.id, self.mailbox)
                break
        # after the poll: a folder read again has recorded what it still holds
        if mine() and not self.crew.leaving.is_set() and self._look_for_unserved():
            self.fetch_again()
        with self.sessions.begin() as session:
            self.mailbox_state(session).last_poll_at = utcnow()
        return recorded

    def _record_batch(self, batch: list[Fetched]) -> int:
        rows: list[tuple[Fetched, str | None, str, str, str]] = []
        for fetched in batch:
            here = place_fingerprint(self.mailbox, fetched.uidvalidity, fetched.key)
            if fetched.error is not None:  # no bytes: known by where it is
                rows.append((fetched, None, here, here, here))
                continue
            mid = message_id_of(fetched.raw)
            fp, whole = fingerprint(fetched.raw, mid), whole_fingerprint(fetched.raw, mid)
            rows.append((fetched, mid, fp, whole, here))
        with self.sessions.begin() as session:
            known = self._known(session, [fp for _, _, *fps in rows for fp in fps])
            copies = self._copies(session, [row.id for row in known.values()])
            added = 0
            for fetched, mid, fp, whole, here in rows:
                waiting = known.get(here)
                if waiting is not None:  # recorded unserved: a Maildir is read whole each pass
                    now_served = fetched.error is None and waiting.status == RawStatus.UNSERVED
                    if now_served and self._served(session, waiting, fetched):
                        known[waiting.fingerprint] = waiting  # another copy here is met again
                    continue
                seen = known.get(fp) or known.get(whole)
                if seen is not None:
                    self._met_again(session, seen, fetched, copies)
                    continue
                known[fp] = RawMessage(
                    board_id=self.board.id,
                    mailbox=self.mailbox,
                    source_key=fetched.key,
                    uidvalidity=fetched.uidvalidity,
                    message_id=mid,
                    fingerprint=fp,
                    raw=fetched.raw,
                    size=len(fetched.raw),
                    received_at=self.clock(),
                    status=RawStatus.NEW if fetched.error is None else RawStatus.UNSERVED,
                )
                session.add(known[fp])
                if fetched.error is not None:
                    self._refused(session, known[fp], fetched.error)
                added += 1
            uids = [f.uid for f in batch if f.uid is not None]
            if uids:
                state = self.mailbox_state(session)
                state.uidvalidity = batch[-1].uidvalidity
                state.last_uid = max(uids)
        return added

    def _known(self, session: Session, fingerprints: list[str]) -> dict[str, RawMessage]:
        """The board's recorded messages with these fingerprints, by fingerprint."""
        return {
            row.fingerprint: row
            for row in session.scalars(
                select(RawMessage).where(
                    RawMessage.board_id == self.board.id,
                    RawMessage.fingerprint.in_(fingerprints),
                )
            )
        }

    # -- messages the mailbox could not serve ----------------------------------
    def _look_for_unserved(self) -> bool:
        """Is it time to ask which unserved messages are due? Once in UNSERVED_LOOK: they
        are asked for minutes apart, and an idle poll is not to pay a query for them."""
        now = self.clock()
        if self._unserved_look is not None and now < self._unserved_look:
            return False
        self._unserved_look = now + UNSERVED_LOOK
        return True

    def fetch_again(self, ids: Sequence[int] | None = None) -> int:
        """Ask the mailbox again for the messages it could not serve whose next try is due
        (or for ``ids``, now: ``bientap reprocess``); how many it served."""
        now = self.clock()
        due = (
            RawMessage.id.in_(ids)
            if ids is not None
            else or_(RawMessage.claimed_until.is_(None), RawMessage.claimed_until <= now)
        )
        with self.sessions() as session:
            rows = session.execute(
                select(RawMessage.id, RawMessage.uidvalidity, RawMessage.source_key)
                .where(
                    RawMessage.board_id == self.board.id,
                    RawMessage.mailbox == self.mailbox,
                    RawMessage.status == RawStatus.UNSERVED,
                    due,
                )
                .order_by(RawMessage.id)
            ).all()
        served = 0
        for uidvalidity in dict.fromkeys(row.uidvalidity for row in rows):
            asked = {row.source_key: row.id for row in rows if row.uidvalidity == uidvalidity}
            answers = self.source.fetch_again(uidvalidity, list(asked))
            try:
                served += self._answered(list(asked.values()), answers)
            except IntegrityError:  # another daemon recorded the same mail just now
                log.warning("board=%s mailbox=%s: already recorded", self.board.id, self.mailbox)
        return served

    def _answered(self, ids: list[int], answers: list[Fetched]) -> int:
        """Record the mailbox's answers about the unserved messages ``ids``."""
        by_key = {fetched.key: fetched for fetched in answers}
        served = 0
        with self.sessions.begin() as session:
            state = self.mailbox_state(session)
            for raw in session.scalars(
                select(RawMessage)
                .where(RawMessage.id.in_(ids), RawMessage.status == RawStatus.UNSERVED)
                .order_by(RawMessage.id)
                .with_for_update()
            ):
                fetched = by_key.get(raw.source_key)
                if fetched is None:
                    self._retire(
                        session, raw, GONE if raw.uidvalidity == state.uidvalidity else RENUMBERED
                    )
                elif fetched.error is not None:
                    self._refused(session, raw, fetched.error)
                else:
                    served += self._served(session, raw, fetched)
        return served

    def _refused(self, session: Session, raw: RawMessage, error: str) -> None:
        """The mailbox could not serve ``raw`` (a message file it cannot read): it is asked
        again later, backing off as a deferred mail does, while the mail behind it goes on.
        After MAX_ATTEMPTS tries it is kept as a failed item with the answer, left in the
        mailbox, for the operator (``bientap reprocess`` asks for it again)."""
        ids.need(session, raw)
        raw.attempts += 1
        raw.last_error = f"{UNSERVED}: {error}"[:2000]
        if raw.attempts < MAX_ATTEMPTS:
            Crew.defer(raw, self.clock() + retry_delay(raw.attempts))
            log.warning(
                "board=%s raw=%d: the mailbox cannot serve it (try %d), asked again later: %s",
                self.board.id,
                raw.id,
                raw.attempts,
                error,
            )
            return
        reason = f"{UNSERVED}, sau {raw.attempts} lần thử: {error[:500]}"
        log.error("board=%s raw=%d: %s", self.board.id, raw.id, reason)
        self._keep(session, raw, "unreadable", reason)

    def _served(self, session: Session, raw: RawMessage, fetched: Fetched) -> bool:
        """The mailbox serves ``raw`` at last: it is recorded with its bytes and read as any
        message is (into the failed item it may have: one message, one item). If the same
        message was recorded meanwhile by another way (another mailbox, its folder read
        again), this one is a copy of it: filed with it, never read. True when it is to be
        read."""
        mid = message_id_of(fetched.raw)
        fp = fingerprint(fetched.raw, mid)
        known = self._known(session, [fp, whole_fingerprint(fetched.raw, mid)])
        seen = next(iter(known.values()), None)
        if seen is not None:
            self._met_again(session, seen, fetched, self._copies(session, [seen.id]))
            self._retire(session, raw, SAME_AS.format(raw_id=seen.id), "set_aside")
            return False
        raw.raw, raw.size, raw.message_id, raw.fingerprint = fetched.raw, len(fetched.raw), mid, fp
        raw.status, raw.attempts, raw.last_error, raw.filed = RawStatus.NEW, 0, None, False
        Crew.release(session, raw)
        log.info("board=%s message=%s raw=%d: served by the mailbox", self.board.id, mid, raw.id)
        return True

    def _retire(
        self, session: Session, raw: RawMessage, reason: str, outcome: str = "unreadable"
    ) -> None:
        """``raw`` is not to be read from where it was recorded (its message is gone from
        there, or is a copy of one recorded otherwise). Without an item it is forgotten: it
        holds no bytes, and its message, if still in the mailbox, is read where it now is.
        The item it has (a failed one, put back by ``bientap reprocess``) says why."""
        log.warning("board=%s raw=%d: %s", self.board.id, raw.id, reason)
        if raw.submission is None:
            session.delete(raw)
        else:
            self._keep(session, raw, outcome, reason)

    def _keep(self, session: Session, raw: RawMessage, outcome: str, reason: str) -> None:
        """Keep an unserved message as an item with ``reason``: failed (``outcome``
        "unreadable"), for the operator to see, or set aside; it is not filed."""
        ingest.record(self.desk(session), raw, Reading(outcome=outcome, reason=reason))
        raw.target_folder = None  # it stays where it is (a copy is filed with its message)
        Crew.release(session, raw)

    def _copies(self, session: Session, raw_ids: list[int]) -> list[RawCopy]:
        """The copies in this mailbox of the recorded messages ``raw_ids``."""
        if not raw_ids:
            return []
        return list(
            session.scalars(
                select(RawCopy).where(
                    RawCopy.mailbox == self.mailbox, RawCopy.raw_message_id.in_(raw_ids)
                )
            )
        )

    def _met_again(
        self, session: Session, seen: RawMessage, fetched: Fetched, copies: list[RawCopy]
    ) -> None:
        """A recorded message fetched again: the same copy (nothing to do), the same copy
        after a UIDVALIDITY change (filed by its new UID), or another copy (in another
        mailbox: sent to both; or at another UID): recorded, to be filed in its mailbox
        where its message is filed. It is never processed again."""
        place = (self.mailbox, fetched.key, fetched.uidvalidity)
        if seen.mailbox == self.mailbox and not seen.filed:
            if (seen.source_key, seen.uidvalidity) == place[1:]:
                return
            if seen.uidvalidity != fetched.uidvalidity:  # its folder was read again
                seen.source_key, seen.uidvalidity = fetched.key, fetched.uidvalidity
                return
        mine = [c for c in copies if c.original is seen]
        if any((c.mailbox, c.source_key, c.uidvalidity) == place for c in mine):
            return
        for copy in mine:
            if not copy.filed and copy.uidvalidity != fetched.uidvalidity:
                copy.source_key, copy.uidvalidity = fetched.key, fetched.uidvalidity
                return
        copy = RawCopy(
            board_id=self.board.id,
            mailbox=self.mailbox,
            source_key=fetched.key,
            uidvalidity=fetched.uidvalidity,
            original=seen,
            received_at=self.clock(),
        )
        session.add(copy)
        copies.append(copy)

    # -- process --------------------------------------------------------------
    def process(self, renew: Callable[[], object] = lambda: None) -> int:
        """Process recorded mail, a claimed handful at a time (other daemons sharing the
        database take the rest), until none is left; ``renew`` keeps the mailbox's lease
        while this goes on."""
        self._count_abandoned()
        done = 0
        for retried in (False, True):  # a message tried before is read on its own, last
            after = 0
            while not self.crew.leaving.is_set() and (ids := self._claim(after, retried)):
                renew()
                after = ids[-1]
                with self._kept(ids):
                    read = self.readers.read_all(self._raw_bytes(ids))
                    for chunk in batched(read, PROCESS_BATCH):
                        done += self._store_readings(chunk)
                self.seal()  # chained as it goes, not all at the end of a long backlog
        return done

    def _kept(self, ids: list[int]) -> contextlib.AbstractContextManager[object]:
        """The claims on messages in hand, kept while reader processes read them (one may
        take up to their time limit): another daemon would count them abandoned, a try
        each. Read in this process (``workers = 0``), a claim that lapses is how other
        daemons learn that this one is stuck, so it is not kept."""
        if not self.readers.workers:
            return contextlib.nullcontext()
        return self.crew.kept(self.sessions, RawMessage, ids, self.clock)

    def _count_abandoned(self) -> None:
        """A NEW message whose claim ran out was in hand when its daemon stopped (killed, out
        of memory, stuck for ``claim_seconds``): that was a try. One that kills whoever
        reads it is kept as failed at its third, not read for ever."""
        with self.sessions.begin() as session:
            for raw in session.scalars(
                select(RawMessage)
                .where(
                    RawMessage.board_id == self.board.id,
                    RawMessage.mailbox == self.mailbox,
                    RawMessage.status == RawStatus.NEW,
                    RawMessage.claimed_until < self.clock(),
                )
                .order_by(RawMessage.id)
                .with_for_update(skip_locked=True)
            ):
                self._count_attempt(session, raw, ABANDONED)

    def seal(self) -> None:
        """Chain the events written so far into the board's record."""
        with self.sessions.begin() as session:
            audit.seal(session, self.board.id)

    def _claim(self, after: int, retried: bool) -> list[int]:
        """Messages never tried, a handful; or one tried before (it may be the one that
        stopped a reader: alone, it takes no other message with it)."""
        with self.sessions.begin() as session:
            return self.crew.claim(
                session,
                RawMessage,
                [
                    RawMessage.board_id == self.board.id,
                    RawMessage.mailbox == self.mailbox,
                    RawMessage.status == RawStatus.NEW,
                    RawMessage.attempts > 0 if retried else RawMessage.attempts == 0,
                    RawMessage.id > after,
                ],
                [RawMessage.id],
                1 if retried else CLAIM * max(1, self.readers.workers),
                self.clock(),
            )

    def _raw_bytes(self, ids: Sequence[int]) -> Iterator[tuple[int, bytes]]:
        """The raw messages, loaded a window at a time (LOAD_WINDOW messages, or about
        LOAD_BYTES) as the readers ask for them."""
        with self.sessions() as session:
            sizes = session.execute(
                select(RawMessage.id, RawMessage.size)
                .where(RawMessage.id.in_(ids))
                .order_by(RawMessage.id)
            ).all()
        for window in weighed(sizes, LOAD_WINDOW, lambda row: row.size, LOAD_BYTES):
            with self.sessions() as session:
                rows = session.execute(
                    select(RawMessage.id, RawMessage.raw)
                    .where(RawMessage.id.in_([row.id for row in window]))
                    .order_by(RawMessage.id)
                ).all()
            yield from ((row.id, row.raw) for row in rows)

    def _store_readings(self, chunk: list[tuple[int, Outcome]]) -> int:
        done = 0
        for raw_id, outcome in chunk:
            if isinstance(outcome, str):  # reading raised: count the attempt
                self._attempt_failed(raw_id, outcome)
        waiting = [(i, o.reason) for i, o in chunk if isinstance(o, Unavailable)]
        if waiting:
            self._wait_for_store(waiting)
        good = [(i, o) for i, o in chunk if isinstance(o, Reading)]
        try:
            with self.sessions.begin() as session:
                # one query loads and locks the batch's rows (and any item a reprocessed
                # message already has): a message is stored once, whoever else holds it
                raws = session.scalars(
                    select(RawMessage)
                    .where(RawMessage.id.in_([i for i, _ in good]))
                    .options(selectinload(RawMessage.submission))
                    .order_by(RawMessage.id)
                    .with_for_update()
                ).all()
                rows = {raw.id: raw for raw in raws}
                done += sum(self._store_in(session, rows.get(i), o) for i, o in good)
        except Exception:  # noqa: BLE001 - one bad message: redo the batch one by one
            log.info("board=%s: a batch failed, recording it message by message", self.board.id)
            done += sum(self._store_one(i, o) for i, o in good)
        return done

    def _store_in(self, session: Session, raw: RawMessage | None, reading: Reading) -> bool:
        if raw is None or raw.status != RawStatus.NEW:
            return False
        item = ingest.record(self.desk(session), raw, reading)
        log.info(
            "board=%s message=%s raw=%d item=%s state=%s",
            self.board.id,
            raw.message_id,
            raw.id,
            item.id if item else "-",
            item.state if item else "reply",
        )
        return True

    def _store_one(self, raw_id: int, reading: Reading) -> bool:
        try:
            with self.sessions.begin() as session:
                raw = session.get(RawMessage, raw_id, with_for_update=True)
                return self._store_in(session, raw, reading)
        except Exception as exc:  # noqa: BLE001 - the daemon never dies of one message
            log.exception("board=%s raw=%d: recording failed", self.board.id, raw_id)
            self._attempt_failed(raw_id, f"{type(exc).__name__}: {exc}")
            return False

    def _wait_for_store(self, waiting: list[tuple[int, str]]) -> None:
        """Messages whose files could not be stored are read again on a later pass, by any
        daemon, with no attempt counted: a full disk turns no good mail into failed mail."""
        with self.sessions.begin() as session:
            for raw in session.scalars(
                select(RawMessage).where(RawMessage.id.in_([i for i, _ in waiting]))
            ):
                raw.last_error = waiting[0][1]
                Crew.release(session, raw)
        log.error("board=%s: %d message(s) wait: %s", self.board.id, len(waiting), waiting[0][1])

    def _attempt_failed(self, raw_id: int, error: str) -> None:
        with self.sessions.begin() as session:
            raw = session.get(RawMessage, raw_id)
            if raw is not None:
                self._count_attempt(session, raw, error)

    def _count_attempt(self, session: Session, raw: RawMessage, error: str) -> None:
        error = logs.scrub(error)  # kept, shown by «bientap status», sealed on failure
        raw.attempts += 1
        raw.last_error = error[:2000]
        Crew.release(session, raw)  # tried again on a later pass, by any daemon
        if raw.attempts >= MAX_ATTEMPTS:
            ingest.fail(
                self.desk(session), raw, f"lỗi xử lý sau {raw.attempts} lần thử: {error[:500]}"
            )

    # -- send -----------------------------------------------------------------
    def deliver(self) -> int:
        """Send the mail the board owes (``Postman.deliver``)."""
        return Postman(self.board, self.sessions, self.sender, self.crew, self.clock).deliver()

    # -- file -----------------------------------------------------------------
    def file(self) -> int:
        with self.sessions() as session:
            state = self.mailbox_state(session)
            rows = session.scalars(
                select(RawMessage).where(
                    RawMessage.board_id == self.board.id,
                    RawMessage.mailbox == self.mailbox,
                    RawMessage.status == RawStatus.DONE,
                    RawMessage.filed.is_(False),
                )
            ).all()
            copies = session.execute(
                select(RawCopy, RawMessage.mailbox, RawMessage.target_folder)
                .join(RawMessage, RawCopy.raw_message_id == RawMessage.id)
                .where(
                    RawCopy.board_id == self.board.id,
                    RawCopy.mailbox == self.mailbox,
                    RawCopy.filed.is_(False),
                    RawMessage.status == RawStatus.DONE,
                )
            ).all()
            places: list[tuple[RawMessage | RawCopy, str | None]]
            places = [(r, r.target_folder) for r in rows]
            places += [(c, self._folder_here(box, folder)) for c, box, folder in copies]
            moves = [
                (r.source_key, folder)
                for r, folder in places
                if folder and r.uidvalidity == state.uidvalidity
            ]
            self.source.file(state.uidvalidity, moves)
            for row, _folder in places:
                row.filed = True
            session.commit()
        return len(moves)

    def _folder_here(self, mailbox: str, folder: str | None) -> str | None:
        """Where a copy is filed in this mailbox: its folder for what its message's folder
        is in that message's mailbox (handled, or set aside)."""
        boxes = {m.name: m for m in self.board.mailboxes}
        theirs, here = boxes.get(mailbox), boxes[self.mailbox]
        if theirs is not None and folder == theirs.processed_folder:
            return here.processed_folder
        if theirs is not None and folder == theirs.set_aside_folder:
            return here.set_aside_folder
        return folder

    def run_once(self, mine: Callable[[], bool] | None = None) -> PassResult:
        """A pass. ``mine()`` says whether this daemon holds the mailbox (a lease, with
        several daemons): only its holder fetches and files; any daemon processes.

        When the mailbox's server fails (down, our login refused), what is recorded is
        still processed and the mail owed still sent (receipts, review requests, notices
        of approvals made on the web): only then is the error raised, for the watcher to
        back off."""
        result = PassResult()
        down: TransientError | PermanentError | None = None
        if mine is None or mine():
            try:
                result.recorded = self.record(mine or (lambda: True))
            except (TransientError, PermanentError) as exc:
                down = exc
        result.processed = self.process(mine or (lambda: None))
        result.sent = self.deliver()
        if down is None and (mine is None or mine()):
            result.filed = self.file()
        self.seal()  # and what the pass wrote after that
        if down is not None:
            raise down
        return result
