"""Several daemons on one database: who works what.

Work that any daemon may do (reading a recorded message, sending a mail, publishing an
item) is *claimed* a few rows at a time: ``SELECT … FOR UPDATE SKIP LOCKED`` on
PostgreSQL, so two daemons never pick the same rows, and a claim that lapses (its
daemon died) is picked up again by another. A job only one daemon may run (a mailbox's
watcher, a board's reminder sweep) is behind a *lease*: a row naming its holder until
a time; the holder renews it, and when it dies the lease lapses and another daemon
takes over. A daemon publishing an item or sending mail keeps its claims while it works
(``Crew.kept``), however long one call takes (a large upload, a CMS that answers slowly):
a thread renews them, so they lapse only when the daemon is gone. The claim is an
optimisation; exactly-once still rests on each unit of work checking its row's state
under a row lock in the transaction that changes it.

With SQLite only one daemon runs (``single_daemon``), so the same code simply finds
every row free.
"""

from __future__ import annotations

import fcntl
import logging
import os
import secrets
import socket
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO, Any

from sqlalchemy import ColumnElement, Connection, case, create_engine, or_, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool

from pipeline.config import ConfigError
from pipeline.db import driver_url
from pipeline.models import Lease, OutgoingMail, Publication, RawMessage, RawStatus, utcnow

log = logging.getLogger(__name__)


def new_holder() -> str:
    """This daemon's name in claims and leases: host, process and a random tail."""
    return f"{socket.gethostname()[:60]}/{os.getpid()}/{secrets.token_hex(3)}"


@dataclass(frozen=True)
class Crew:
    """Who this process is, and how long its claims and leases last."""

    holder: str = field(default_factory=new_holder)
    claim_seconds: float = 120.0  # a claimed row is another daemon's again after this
    lease_seconds: float = 30.0  # a lapsed singleton job is taken over after this
    # Set when the daemon is asked to stop: work over a backlog (mail, publications) ends
    # with what is in hand, and the rest waits for the next start or another daemon.
    leaving: threading.Event = field(default_factory=threading.Event, compare=False)

    def claim(
        self,
        session: Session,
        model: Any,
        where: Sequence[ColumnElement[bool]],
        order_by: Sequence[Any],
        limit: int,
        now: datetime | None = None,
    ) -> list[int]:
        """Claim up to ``limit`` free rows of ``model`` matching ``where``; their ids.
        The caller commits (the claim is on record then)."""
        now = now or utcnow()
        free = or_(model.claimed_until.is_(None), model.claimed_until < now)
        ids = list(
            session.scalars(
                select(model.id)
                .where(*where, free)
                .order_by(*order_by)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
        )
        if not ids:
            return []
        # free again in the UPDATE: SQLite has no row locks, so two threads of one
        # daemon may have read the same rows; only one of them claims each
        claimed = session.scalars(
            update(model)
            .where(model.id.in_(ids), free)
            .values(claimed_by=self.holder, claimed_until=self._until(now))
            .returning(model.id)
            .execution_options(synchronize_session=False)
        )
        return sorted(claimed)

    @staticmethod
    def release(session: Session, row: Any) -> None:
        """The work on ``row`` is over for now: any daemon may claim it when it is due."""
        row.claimed_by, row.claimed_until = None, None

    def renew(self, row: Any, now: datetime | None = None) -> bool:
        """Extend this daemon's claim on ``row`` (read under its row lock) by
        claim_seconds; False, and nothing changed, when the claim is no longer ours
        (another daemon took the row after it lapsed, or it was ended): the work on the
        row stops there."""
        if row.claimed_by != self.holder:
            return False
        row.claimed_until = self._until(now or utcnow())
        return True

    def kept(
        self,
        sessions: sessionmaker[Session],
        model: Any,
        ids: Sequence[int],
        clock: Callable[[], datetime] = utcnow,
    ) -> AbstractContextManager[None]:
        """This daemon's claims on the rows ``ids`` of ``model`` do not lapse while the
        block runs, however long one call in it takes: they are renewed every
        claim_seconds / 3 until it returns or raises (``extend``). A daemon that dies
        renews nothing, and its claims lapse after claim_seconds."""
        rows = list(ids)
        return heartbeat(
            self.claim_seconds / 3,
            lambda: self.extend(sessions, model, rows, clock()),
            f"claims on {model.__tablename__} {rows[:3]}",
        )

    def extend(
        self, sessions: sessionmaker[Session], model: Any, ids: Sequence[int], now: datetime
    ) -> None:
        """Renew this daemon's claims on ``ids`` to claim_seconds from ``now``, in a short
        transaction of its own; a row whose claim is no longer ours (another daemon took
        it after it lapsed, or the work ended it) is left as it is."""
        with sessions.begin() as s:
            s.execute(
                update(model)
                .where(model.id.in_(ids), model.claimed_by == self.holder)
                .values(claimed_until=self._until(now))
                .execution_options(synchronize_session=False)
            )

    def _until(self, now: datetime) -> datetime:
        return now + timedelta(seconds=self.claim_seconds)

    @staticmethod
    def defer(row: Any, until: datetime) -> None:
        """No daemon claims ``row`` before ``until`` (a retry that must wait)."""
        row.claimed_by, row.claimed_until = None, until

    def hold(
        self,
        sessions: sessionmaker[Session],
        name: str,
        seconds: float | None = None,
        now: datetime | None = None,
    ) -> bool:
        """Take or renew the lease ``name`` for ``seconds`` (default: lease_seconds);
        False while another live daemon holds it."""
        now = now or utcnow()
        until = now + timedelta(seconds=seconds or self.lease_seconds)
        with sessions.begin() as s:
            pg = s.get_bind().dialect.name == "postgresql"
            insert = postgresql.insert if pg else sqlite.insert
            s.execute(
                insert(Lease)
                .values(name=name, holder=self.holder, expires_at=until, acquired_at=now)
                .on_conflict_do_nothing(index_elements=["name"])
            )
            taken = s.execute(
                update(Lease)
                .where(
                    Lease.name == name,
                    or_(Lease.holder == self.holder, Lease.expires_at < now),
                )
                .values(
                    holder=self.holder,
                    expires_at=until,
                    acquired_at=case((Lease.holder == self.holder, Lease.acquired_at), else_=now),
                )
                .execution_options(synchronize_session=False)
            )
            return bool(getattr(taken, "rowcount", 0))

    def let_go(self, sessions: sessionmaker[Session]) -> None:
        """Hand back every lease and claim of this daemon (a clean stop): another daemon
        takes them over at once instead of after they lapse."""
        free(sessions, self.holder)


def free(sessions: sessionmaker[Session], holder: str | None = None) -> None:
    """End ``holder``'s leases and claims (a clean stop), or everyone's: a daemon alone on
    its SQLite file starts so, since whoever held them before it is gone. A message that
    daemon had in hand, still unread, keeps its claim as lapsed: the runner counts it a
    try (it may be the one that killed the daemon)."""
    now = utcnow()
    with sessions.begin() as s:
        lapse = update(Lease).values(expires_at=now)
        s.execute(lapse.where(Lease.holder == holder) if holder else lapse)
        if holder is None:
            s.execute(
                update(RawMessage)
                .where(RawMessage.claimed_by.is_not(None), RawMessage.status == RawStatus.NEW)
                .values(claimed_by=None, claimed_until=now)
                .execution_options(synchronize_session=False)
            )
        for model in (RawMessage, OutgoingMail, Publication):
            held = model.claimed_by == holder if holder else model.claimed_by.is_not(None)
            s.execute(
                update(model)
                .where(held)
                .values(claimed_by=None, claimed_until=None)
                .execution_options(synchronize_session=False)
            )


@contextmanager
def heartbeat(every: float, beat: Callable[[], object], what: str) -> Iterator[None]:
    """Call ``beat`` every ``every`` seconds, in a thread of its own, while the block runs;
    it stops when the block returns or raises. A beat that fails (the database is away
    for a moment) is logged, and the next one tries again."""
    stop = threading.Event()

    def run() -> None:
        while not stop.wait(every):
            try:
                beat()
            except Exception as exc:  # noqa: BLE001 - the next beat tries again
                log.warning("%s: not renewed: %s", what, exc)

    thread = threading.Thread(target=run, name=f"heartbeat: {what}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


MAILBOX_LEASE = "mailbox:"  # the prefix of mailbox leases: renewed at every pass


def mailbox_lease(board_id: str, mailbox: str) -> str:
    """The lease of one mailbox: only its holder fetches and files its mail."""
    return f"{MAILBOX_LEASE}{board_id}:{mailbox}"


def leases(session: Session) -> list[Lease]:
    return list(session.scalars(select(Lease).order_by(Lease.name)))


class DaemonRunning(ConfigError):
    """Daemons work on the database; ``who`` names them (host and process)."""

    def __init__(self, message: str, who: str) -> None:
        super().__init__(message)
        self.who = who


class RestoreRunning(ConfigError):
    """``bientap restore`` is replacing the database: no daemon starts on it meanwhile."""


RESTORE_ROLE = "restore"  # how a restore names itself in the SQLite lock file
DAEMONS_LOCK = 0x6269656E74617044  # "bientapD": daemons share it; a restore takes it alone


class DaemonLock:
    """Who works on a database, kept in a lock its holder's death lets go of.

    On a SQLite file a daemon holds the file's lock alone: SQLite has no row locks to
    share the work, and two writers would only wait on each other. On PostgreSQL every
    daemon holds a shared advisory lock on a connection of its own, from its start (well
    before its first mailbox lease) to its end; ``bientap restore`` (``restore=True``)
    takes it alone, so a restore never runs under a daemon and no daemon starts during
    one. An in-memory database is nobody else's."""

    def __init__(self, database_url: str, *, restore: bool = False) -> None:
        url = make_url(database_url)
        self.url = database_url
        self.restore = restore
        self.path: Path | None = None
        self.postgresql = url.get_backend_name() == "postgresql"
        if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
            # the file itself, however it is named (a symbolic link to it or its folder)
            self.path = Path(f"{Path(url.database).resolve()}.daemon.lock")
        self._fh: IO[str] | None = None
        self._conn: Connection | None = None

    def acquire(self) -> None:
        if self.path is not None:
            self._lock_file(self.path)
        elif self.postgresql:
            self._lock_database()

    def _lock_file(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fh = path.open("a+")
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            other = fh.read().strip() or "?"
            fh.close()
            where = str(path).removesuffix(".daemon.lock")
            if other.endswith(f"({RESTORE_ROLE})") and not self.restore:
                raise RestoreRunning(_RESTORING.format(where=where)) from None
            raise DaemonRunning(
                f"Một daemon bientap khác ({other}) đang chạy trên cơ sở dữ liệu SQLite "
                f"{where}; SQLite chỉ cho một daemon, "
                "muốn chạy nhiều daemon thì dùng chung PostgreSQL (database_url). "
                "(another bientap daemon is already running on this SQLite database)",
                other,
            ) from None
        fh.seek(0)
        fh.truncate()
        role = f" ({RESTORE_ROLE})" if self.restore else ""
        fh.write(f"{socket.gethostname()} pid {os.getpid()}{role}\n")
        fh.flush()
        self._fh = fh

    def _lock_database(self) -> None:
        role = RESTORE_ROLE if self.restore else "daemon"
        name = f"bientap {role} {socket.gethostname()[:30]} pid {os.getpid()}"
        engine = create_engine(
            driver_url(self.url), poolclass=NullPool, connect_args={"application_name": name[:63]}
        )
        conn = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        take = "pg_try_advisory_lock" if self.restore else "pg_try_advisory_lock_shared"
        if conn.scalar(text(f"SELECT {take}(:key)"), {"key": DAEMONS_LOCK}):
            self._conn = conn
            return
        holders = _lock_holders(conn)
        conn.close()
        where = make_url(self.url).render_as_string(hide_password=True)
        if not self.restore:
            raise RestoreRunning(_RESTORING.format(where=where))
        who = ", ".join(holders) or "?"
        raise DaemonRunning(f"daemon bientap đang chạy trên {where}: {who}", who)

    def release(self) -> None:
        if self._fh is not None:
            fcntl.flock(self._fh, fcntl.LOCK_UN)
            self._fh.close()
            self._fh = None
        if self._conn is not None:
            self._conn.close()  # the lock ends with its session
            self._conn = None


_RESTORING = (
    "Cơ sở dữ liệu {where} đang được phục hồi từ bản sao lưu (bientap restore); "
    "khởi động daemon khi việc phục hồi xong (a restore is in progress on this database)"
)


def _lock_holders(conn: Connection) -> list[str]:
    """The sessions holding the daemons' lock, by the names they gave PostgreSQL."""
    rows = conn.execute(
        text(
            "SELECT DISTINCT a.application_name, a.pid FROM pg_locks l "
            "JOIN pg_stat_activity a ON a.pid = l.pid "
            "WHERE l.locktype = 'advisory' AND l.granted AND l.database = "
            "(SELECT oid FROM pg_database WHERE datname = current_database()) "
            "AND l.classid = :high AND l.objid = :low AND l.objsubid = 1 ORDER BY a.pid"
        ),
        {"high": DAEMONS_LOCK >> 32, "low": DAEMONS_LOCK & 0xFFFFFFFF},
    )
    return [name or f"pid {pid}" for name, pid in rows]
