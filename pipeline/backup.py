"""Backups: the database, the data folder and the configuration in one archive.

A backup is one ``.tar.gz``: every table of the schema as JSON lines (written through
SQLAlchemy Core, so an archive made on SQLite restores into PostgreSQL and back; bytes as
base64, instants as ISO 8601 in UTC), the data folder's files (attachments, Maildirs, the
static site…; not the backups themselves nor a SQLite database file, which the JSON lines
replace), the board files and ``deployment.toml``, and ``manifest.json`` naming the
Alembic revision, the rows per table and the SHA-256 of every other member.

``restore`` puts an archive into an empty deployment: schema to the archive's revision,
rows in foreign-key order, PostgreSQL sequences past the highest id, then the newest
migrations and the files. Bình Phước Đ11.3 wants a backup at least weekly:
``run_scheduled`` makes one when the newest is older than ``backup_interval_days`` and
keeps the last ``backup_keep``.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import logging
import os
import re
import shutil
import sqlite3
import stat
import tarfile
import tempfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path, PurePosixPath
from typing import IO, TYPE_CHECKING, Any, Protocol

from alembic import command
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import (
    Column,
    Connection,
    Engine,
    Integer,
    MetaData,
    Table,
    create_engine,
    delete,
    func,
    inspect,
    select,
    text,
)
from sqlalchemy.engine import make_url
from sqlalchemy.types import TypeDecorator

from pipeline.claims import MAILBOX_LEASE, DaemonRunning, SingleDaemonLock
from pipeline.config import DEPLOYMENT_FILE
from pipeline.db import alembic_config, make_engine, migrate
from pipeline.files import atomic_file
from pipeline.models import Base, Lease, utcnow

if TYPE_CHECKING:  # the daemon (pipeline/app.py) may import this module
    from pipeline.app import Deployed

FORMAT = "bientap-backup"
VERSION = 1
MANIFEST = "manifest.json"
PREFIX, SUFFIX = "bientap-backup-", ".tar.gz"
STAMP = "%Y%m%dT%H%M%SZ"
NAME = re.compile(rf"^{re.escape(PREFIX)}(\d{{8}}T\d{{6}}Z)(?:-(\d+))?{re.escape(SUFFIX)}$")
DB, DATA, CONFIG = "database", "data", "config"  # top folders inside an archive
SQLITE_MAGIC = b"SQLite format 3\x00"
SQLITE_COMPANIONS = ("-wal", "-shm", "-journal", ".migrate.lock", ".daemon.lock")  # not data
BATCH = 500
CHUNK = 1 << 20
PRIVATE_DIR, PRIVATE_FILE = 0o700, 0o600  # an archive holds every sender's mail

log = logging.getLogger(__name__)


class BackupError(Exception):
    """A backup or restore that cannot go on; the message is for the operator."""


class Progress(Protocol):
    """Where long work reports how far it got (a progress bar in the CLI)."""

    def begin(self, label: str, total: int) -> None: ...

    def advance(self, amount: int = 1) -> None: ...


class _Quiet:
    def begin(self, label: str, total: int) -> None:
        pass

    def advance(self, amount: int = 1) -> None:
        pass


# -- where backups live -----------------------------------------------------------------
def backup_dir(deployed: Deployed) -> Path:
    """The configured backup folder: ``<data_dir>/backups`` unless set; relative paths
    are inside the data folder."""
    configured = Path(deployed.deployment.backup_dir or "backups")
    return configured if configured.is_absolute() else deployed.data_dir / configured


def _stamp(path: Path) -> tuple[datetime, int] | None:
    found = NAME.match(path.name)
    if found is None:
        return None
    when = datetime.strptime(found.group(1), STAMP).replace(tzinfo=UTC)
    return when, int(found.group(2) or 0)


def archives(dest_dir: Path) -> list[Path]:
    """The backups in ``dest_dir``, oldest first (by the time in their names)."""
    if not dest_dir.is_dir():
        return []
    found = [(s, p) for p in dest_dir.iterdir() if p.is_file() and (s := _stamp(p)) is not None]
    return [p for _s, p in sorted(found)]


def _private_dir(dest_dir: Path) -> None:
    """Make ``dest_dir`` readable by its owner only; one that exists already is left as
    it is (it may be a share the operator chose) with a warning if others can enter it."""
    if not dest_dir.is_dir():
        dest_dir.parent.mkdir(parents=True, exist_ok=True)
        dest_dir.mkdir(mode=PRIVATE_DIR, exist_ok=True)
        dest_dir.chmod(PRIVATE_DIR)  # whatever the umask
        return
    mode = stat.S_IMODE(dest_dir.stat().st_mode)
    if mode & 0o077:
        log.warning(
            "backup folder %s is open to other users (mode %o); the archives themselves "
            "are %o, consider chmod 700",
            dest_dir,
            mode,
            PRIVATE_FILE,
        )


def _new_name(dest_dir: Path, now: datetime) -> Path:
    base = PREFIX + now.astimezone(UTC).strftime(STAMP)
    path, n = dest_dir / f"{base}{SUFFIX}", 1
    while path.exists():
        n += 1
        path = dest_dir / f"{base}-{n}{SUFFIX}"
    return path


# -- rows as JSON -----------------------------------------------------------------------
def _python_type(column: Column[Any]) -> type | None:
    kind = column.type
    if isinstance(kind, TypeDecorator):  # e.g. UTCDateTime: what it stores decides
        kind = kind.impl_instance
    try:
        found: type = kind.python_type
    except NotImplementedError:
        return None
    return found


def _encode(value: Any) -> Any:
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat() if value.tzinfo else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return value


def _decoder(column: Column[Any]) -> Any:
    kind = _python_type(column)
    if kind is bytes:
        return base64.b64decode
    if kind is datetime:
        return datetime.fromisoformat
    if kind is date:
        return date.fromisoformat
    return None


def _decode_row(table: Table, row: dict[str, Any], columns: set[str]) -> dict[str, Any]:
    out = {}
    for column in table.columns:
        if column.name not in columns or column.name not in row:
            continue
        value, decode = row[column.name], _decoder(column)
        out[column.name] = decode(value) if decode is not None and value is not None else value
    return out


def _line(row: dict[str, Any]) -> bytes:
    data = {k: _encode(v) for k, v in row.items()}
    return (json.dumps(data, ensure_ascii=False, separators=(",", ":")) + "\n").encode()


# -- the database, exported --------------------------------------------------------------
@contextmanager
def _snapshot(engine: Engine, scratch: Path) -> Iterator[Connection]:
    """One consistent view of the database: a REPEATABLE READ transaction on PostgreSQL,
    a copy made with SQLite's online backup on SQLite (WAL readers see no snapshot
    across statements through the driver)."""
    if engine.dialect.name == "sqlite":
        source_path = engine.url.database or ""
        if source_path in ("", ":memory:"):
            raise BackupError("an in-memory SQLite database cannot be backed up")
        copy = scratch / "snapshot.db"
        with sqlite3.connect(source_path) as src, sqlite3.connect(copy) as dst:
            src.backup(dst)
        src.close()
        dst.close()
        snapshot = create_engine(f"sqlite:///{copy}")
        try:
            with snapshot.connect() as conn:
                yield conn
        finally:
            snapshot.dispose()
        return
    with engine.connect() as conn:
        conn = conn.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin():
            yield conn


def _revision(conn: Connection) -> str | None:
    return MigrationContext.configure(conn).get_current_revision()


@dataclass
class _Member:
    arcname: str
    path: Path
    sha256: str


def _export(
    engine: Engine, scratch: Path, progress: Progress
) -> tuple[str | None, dict[str, int], list[_Member]]:
    counts: dict[str, int] = {}
    members: list[_Member] = []
    with _snapshot(engine, scratch) as conn:
        revision = _revision(conn)
        tables = Base.metadata.sorted_tables
        totals = {t.name: conn.scalar(select(func.count()).select_from(t)) or 0 for t in tables}
        progress.begin("Cơ sở dữ liệu (database)", sum(totals.values()))
        for table in tables:
            path = scratch / f"{table.name}.jsonl"
            digest, n = hashlib.sha256(), 0
            query = select(table).order_by(*table.primary_key.columns)
            result = conn.execution_options(stream_results=True, yield_per=BATCH).execute(query)
            with path.open("wb") as fh:
                for row in result.mappings():
                    line = _line(dict(row))
                    fh.write(line)
                    digest.update(line)
                    n += 1
                    progress.advance()
            counts[table.name] = n
            members.append(_Member(f"{DB}/{table.name}.jsonl", path, digest.hexdigest()))
    return revision, counts, members


# -- the files ----------------------------------------------------------------------------
Inode = tuple[int, int]  # (st_dev, st_ino): a file, whatever its name


def _inode(path: Path) -> Inode | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_dev, st.st_ino


def _live(engine: Engine) -> frozenset[Inode]:
    """The database in use, when it is a SQLite file: this process must never open it
    itself. Closing any descriptor of a file drops every POSIX lock the process holds on
    it, SQLite's own included; a ``bientap`` command would then take the daemon for gone
    and delete the WAL under it, and all the daemon wrote after that would be lost."""
    if engine.dialect.name != "sqlite" or not engine.url.database:
        return frozenset()
    inode = _inode(Path(engine.url.database))
    return frozenset() if inode is None else frozenset({inode})


def _is_sqlite(path: Path, live: frozenset[Inode]) -> bool:
    if _inode(path) in live:
        return True  # known without opening it (see _live)
    try:
        with path.open("rb") as fh:
            return fh.read(len(SQLITE_MAGIC)) == SQLITE_MAGIC
    except OSError:
        return False


def _skipped(path: Path, live: frozenset[Inode]) -> bool:
    """A SQLite database (the JSON lines replace it) or its journal, or a half-written
    file (the file store's ``.tmp-*``, a Maildir's ``tmp/``)."""
    name = path.name
    for suffix in SQLITE_COMPANIONS:
        base = path.with_name(name.removesuffix(suffix))
        if name.endswith(suffix) and _is_sqlite(base, live):
            return True
    if name.startswith(".tmp-"):
        return True
    parent = path.parent
    if parent.name == "tmp" and (parent.parent / "new").is_dir():
        return True
    return _is_sqlite(path, live)


def _data_files(
    data_dir: Path, top: Path, leave_out: list[Path], live: frozenset[Inode]
) -> tuple[list[Path], list[str]]:
    """The files to keep under ``top`` (inside ``data_dir``), and every folder from
    ``top`` down (a Maildir needs its empty ``tmp/``), named inside ``data_dir``."""
    if not top.is_dir():
        return [], []
    files: list[Path] = []
    folders: list[str] = [] if top == data_dir else [top.relative_to(data_dir).as_posix()]
    excluded = {p.resolve() for p in leave_out}
    for root, dirs, names in os.walk(top):
        here = Path(root)
        dirs[:] = sorted(d for d in dirs if (here / d).resolve() not in excluded)
        folders.extend((here / d).relative_to(data_dir).as_posix() for d in dirs)
        for name in sorted(names):
            path = here / name
            if path.is_file() and not path.is_symlink() and not _skipped(path, live):
                files.append(path)
    return files, folders


def _inboxes(deployed: Deployed) -> list[Path]:
    """The boards' Maildir mailboxes inside the data folder: where the daemon reads mail
    and, once it is recorded, files it away."""
    root = deployed.data_dir.resolve()
    found = {
        deployed.data_dir / box.path
        for board in deployed.boards
        for box in board.mailboxes
        if box.source == "maildir" and box.path is not None
    }
    return sorted(p for p in found if p.resolve().is_relative_to(root) and p.resolve() != root)


def _config_files(deployed: Deployed) -> list[Path]:
    files = [Path(b.source_file) for b in deployed.boards if b.source_file]
    for folder in sorted({p.parent for p in files}):
        if (folder / DEPLOYMENT_FILE).is_file():
            files.append(folder / DEPLOYMENT_FILE)
    names = [p.name for p in files]
    if len(set(names)) != len(names):
        raise BackupError("two configuration files share a name: " + ", ".join(sorted(names)))
    return files


class _Hashing(io.RawIOBase):
    """Reads a file for tarfile while hashing what it hands over."""

    def __init__(self, fh: IO[bytes]) -> None:
        self.fh, self.digest = fh, hashlib.sha256()

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        data = self.fh.read(size)
        self.digest.update(data)
        return data


def _add_file(tar: tarfile.TarFile, path: Path, arcname: str) -> str:
    info = tar.gettarinfo(str(path), arcname)
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    with path.open("rb") as fh:
        reader = _Hashing(fh)
        tar.addfile(info, reader)
    return reader.digest.hexdigest()


def _add_data(
    tar: tarfile.TarFile, data_dir: Path, files: list[Path], progress: Progress
) -> dict[str, str]:
    """``files`` of the data folder into ``tar``; the SHA-256 of each by its name there.
    One gone since it was listed is left out: a daemon filed that mail away meanwhile."""
    sums: dict[str, str] = {}
    progress.begin("Tệp dữ liệu (files)", len(files))
    for path in files:
        name = f"{DATA}/{path.relative_to(data_dir).as_posix()}"
        try:
            sums[name] = _add_file(tar, path, name)
        except FileNotFoundError:
            log.info("backup: %s was moved away while the backup ran", path)
        progress.advance()
    return sums


def _add_bytes(tar: tarfile.TarFile, arcname: str, data: bytes, when: datetime) -> None:
    info = tarfile.TarInfo(arcname)
    info.size, info.mtime, info.mode = len(data), int(when.timestamp()), 0o644
    tar.addfile(info, io.BytesIO(data))


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("bientap")
    except PackageNotFoundError:
        return "unknown"


# -- making one ---------------------------------------------------------------------------
def create(
    deployed: Deployed, dest_dir: Path, now: datetime, progress: Progress | None = None
) -> Path:
    """Write one archive of the deployment into ``dest_dir``; returns its path. It appears
    under its final name only once complete, readable by its owner only (mode 0600; a
    new ``dest_dir`` is made 0700)."""
    progress = progress or _Quiet()
    dest_dir = Path(dest_dir)
    _private_dir(dest_dir)
    target = _new_name(dest_dir, now)
    with tempfile.TemporaryDirectory(dir=dest_dir, prefix=".tmp-backup-") as tmp:
        scratch = Path(tmp)
        partial = scratch / "archive.tar.gz"
        root, live = deployed.data_dir, _live(deployed.engine)
        leave_out = [dest_dir, backup_dir(deployed)]
        inboxes = _inboxes(deployed)
        with tarfile.open(partial, "w:gz") as tar:
            # The mail in the inboxes goes in before the rows: a daemon at work records a
            # mail before it files it away, so whatever left the inbox by the time of the
            # rows is in them. The rest of the folder goes in after the rows, so that every
            # attachment and page they name is there.
            folders: list[str] = []
            sums: dict[str, str] = {}
            for inbox in inboxes:
                mail, inside = _data_files(root, inbox, leave_out, live)
                folders += inside
                sums |= _add_data(tar, root, mail, progress)
            revision, counts, members = _export(deployed.engine, scratch, progress)
            for member in members:
                _add_file(tar, member.path, member.arcname)
                sums[member.arcname] = member.sha256
            data, inside = _data_files(root, root, leave_out + inboxes, live)
            folders += inside
            sums |= _add_data(tar, root, data, progress)
            for path in _config_files(deployed):
                sums[f"{CONFIG}/{path.name}"] = _add_file(tar, path, f"{CONFIG}/{path.name}")
            manifest = {
                "format": FORMAT,
                "version": VERSION,
                "bientap": _version(),
                "created_at": now.astimezone(UTC).isoformat(),
                "database": deployed.engine.dialect.name,
                "alembic_revision": revision,
                "boards": [b.id for b in deployed.boards],
                "tables": counts,
                "files": sums,
                "folders": folders,  # inside data/, made on restore even when empty
            }
            body = json.dumps(manifest, ensure_ascii=False, indent=2, sort_keys=True).encode()
            _add_bytes(tar, MANIFEST, body, now)
        partial.chmod(PRIVATE_FILE)
        with partial.open("rb") as fh:
            os.fsync(fh.fileno())
        os.replace(partial, target)
    return target


# -- checking one -------------------------------------------------------------------------
def _hash_stream(fh: IO[bytes]) -> str:
    digest = hashlib.sha256()
    while chunk := fh.read(CHUNK):
        digest.update(chunk)
    return digest.hexdigest()


def read_manifest(archive: Path) -> dict[str, Any]:
    try:
        with tarfile.open(archive, "r:gz") as tar:
            fh = tar.extractfile(MANIFEST)
            if fh is None:
                raise KeyError(MANIFEST)
            data: dict[str, Any] = json.loads(fh.read())
    except (tarfile.TarError, OSError, EOFError, zlib.error, KeyError, ValueError) as exc:
        raise BackupError(f"{archive}: không đọc được bản sao lưu (unreadable): {exc}") from None
    if data.get("format") != FORMAT:
        raise BackupError(f"{archive}: không phải bản sao lưu bientap (not a bientap backup)")
    return data


def verify(archive: Path) -> list[str]:
    """What is wrong with ``archive`` (an empty list: every member matches the manifest)."""
    sums: dict[str, str] = {}
    manifest: dict[str, Any] | None = None
    problems: list[str] = []
    try:
        with tarfile.open(archive, "r:gz") as tar:
            for member in tar:
                fh = tar.extractfile(member) if member.isfile() else None
                if fh is None:
                    problems.append(f"{member.name}: không phải tệp thường (not a regular file)")
                    continue
                if member.name == MANIFEST:
                    manifest = json.loads(fh.read())
                else:
                    sums[member.name] = _hash_stream(fh)
            # tarfile stops at the end-of-archive blocks; read on to the gzip trailer so
            # its CRC and length are checked (a copy cut short by a few bytes)
            rest = tar.fileobj
            while rest is not None and rest.read(CHUNK):
                pass
    except (tarfile.TarError, OSError, EOFError, zlib.error, ValueError) as exc:
        return [f"{archive}: không đọc được bản sao lưu (unreadable archive): {exc}"]
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        return [*problems, f"{archive}: thiếu {MANIFEST} (no bientap manifest)"]
    expected: dict[str, str] = manifest.get("files", {})
    for name, digest in sorted(expected.items()):
        if name not in sums:
            problems.append(f"{name}: thiếu trong bản sao lưu (missing)")
        elif sums[name] != digest:
            problems.append(f"{name}: sai mã kiểm tra SHA-256 (checksum mismatch)")
    problems.extend(
        f"{name}: không có trong manifest (not in the manifest)"
        for name in sorted(set(sums) - set(expected))
    )
    return problems


# -- rotation and the schedule --------------------------------------------------------------
def rotate(dest_dir: Path, keep: int = 8) -> list[Path]:
    """Remove all but the newest ``keep`` archives; returns those removed."""
    found = archives(Path(dest_dir))
    gone = found[: max(0, len(found) - max(1, keep))]
    for path in gone:
        path.unlink()
    return gone


def run_scheduled(deployed: Deployed, now: datetime) -> Path | None:
    """The daemon's job: a backup when the newest is ``backup_interval_days`` old (or there
    is none), then rotation. Returns the new archive, or None when none was due."""
    dest = backup_dir(deployed)
    found = archives(dest)
    last = _stamp(found[-1]) if found else None
    interval = timedelta(days=deployed.deployment.backup_interval_days)
    if last is not None and now - last[0] < interval:
        return None
    path = create(deployed, dest, now)
    rotate(dest, deployed.deployment.backup_keep)
    return path


# -- restoring one --------------------------------------------------------------------------
@dataclass(frozen=True)
class Restored:
    revision: str | None
    tables: dict[str, int]
    files: int
    config_dir: Path


def _has_rows(engine: Engine) -> list[str]:
    present = set(inspect(engine).get_table_names())
    with engine.connect() as conn:
        return [
            t.name
            for t in Base.metadata.sorted_tables
            if t.name in present and conn.scalar(select(func.count()).select_from(t))
        ]


NO_DAEMON = (
    "một daemon bientap đang chạy trên cơ sở dữ liệu đích ({who}); dừng nó trước khi phục hồi "
    "(a daemon is working on the target database: stop it before restoring)"
)


def _daemons_at_work(engine: Engine) -> list[str]:
    """The daemons holding a mailbox's lease on the database. That lease is renewed at
    every pass and lapses within seconds of its daemon's death; a job's lease is held
    for the job's interval (a day for retention), also after its daemon was killed."""
    if Lease.__tablename__ not in inspect(engine).get_table_names():
        return []
    with engine.connect() as conn:
        live = (
            select(Lease.holder)
            .where(Lease.name.startswith(MAILBOX_LEASE), Lease.expires_at > utcnow())
            .distinct()
        )
        return sorted(conn.scalars(live))


@contextmanager
def _no_daemon(database_url: str, engine: Engine) -> Iterator[None]:
    """Keep daemons off the target while it is restored: one working there would go on
    over a database and folders replaced under it. On a SQLite file the daemon's own lock
    says it and keeps one from starting meanwhile; on PostgreSQL a live lease says it."""
    lock = SingleDaemonLock(database_url)
    try:
        lock.acquire()
    except DaemonRunning as running:
        raise BackupError(NO_DAEMON.format(who=running.who)) from None
    try:
        if lock.path is None and (holders := _daemons_at_work(engine)):
            raise BackupError(NO_DAEMON.format(who=", ".join(holders)))
        yield
    finally:
        lock.release()


def _schema_to(conn: Connection, revision: str) -> None:
    """Bring the target schema to the archive's revision (it holds no rows by now), in
    ``conn``'s transaction."""
    cfg = alembic_config(conn.engine)
    cfg.attributes["connection"] = conn
    script = ScriptDirectory.from_config(cfg)
    try:
        script.get_revision(revision)
    except CommandError:
        raise BackupError(
            f"bản sao lưu ở phiên bản lược đồ {revision}, mới hơn phần mềm này "
            f"(the backup's schema revision {revision} is newer than this bientap)"
        ) from None
    current = _revision(conn)
    if current == revision:
        return
    ahead = current is not None and revision in {
        r.revision for r in script.iterate_revisions(current, "base")
    }
    if ahead:
        command.downgrade(cfg, revision)
    else:
        command.upgrade(cfg, revision)


def _safe(name: str, top: str) -> PurePosixPath | None:
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts or len(path.parts) < 2 or path.parts[0] != top:
        return None
    return PurePosixPath(*path.parts[1:])


def _config_names(manifest: dict[str, Any]) -> list[str]:
    names = (_safe(n, CONFIG) for n in manifest.get("files", {}))
    return sorted(str(n) for n in names if n is not None)


def _wipe(conn: Connection) -> None:
    present = set(inspect(conn).get_table_names())
    for table in reversed(Base.metadata.sorted_tables):
        if table.name in present:
            conn.execute(delete(table))


def _reset_sequences(conn: Connection, present: set[str]) -> None:
    """PostgreSQL hands out ids from a sequence the inserts did not advance."""
    for table in Base.metadata.sorted_tables:
        keys = list(table.primary_key.columns)
        if table.name not in present or len(keys) != 1 or not isinstance(keys[0].type, Integer):
            continue
        name = keys[0].name
        seq = conn.scalar(
            text("SELECT pg_get_serial_sequence(:t, :c)"), {"t": table.name, "c": name}
        )
        if seq:
            conn.execute(
                text(
                    f'SELECT setval(:s, COALESCE(MAX("{name}"), 1), MAX("{name}") IS NOT NULL) '
                    f'FROM "{table.name}"'
                ),
                {"s": seq},
            )


def _as_stored(table: Table, columns: set[str]) -> Table:
    """``table`` as the target has it (an archive of an older schema lacks newer columns),
    with the column types but none of the model's defaults: a row goes in as it was."""
    return Table(
        table.name,
        MetaData(),
        *(
            Column(c.name, c.type, primary_key=c.primary_key)
            for c in table.columns
            if c.name in columns
        ),
    )


def _load_rows(
    conn: Connection, dumps: Path, manifest: dict[str, Any], progress: Progress
) -> dict[str, int]:
    inspector = inspect(conn)
    present = set(inspector.get_table_names())
    progress.begin("Cơ sở dữ liệu (database)", sum(manifest.get("tables", {}).values()))
    counts: dict[str, int] = {}
    for table in Base.metadata.sorted_tables:
        source = dumps / f"{table.name}.jsonl"
        if table.name not in present or not source.exists():
            continue
        columns = {c["name"] for c in inspector.get_columns(table.name)}
        into = _as_stored(table, columns)
        n, batch = 0, []
        with source.open("rb") as fh:
            for line in fh:
                batch.append(_decode_row(table, json.loads(line), columns))
                if len(batch) >= BATCH:
                    conn.execute(into.insert(), batch)
                    n, batch = n + len(batch), []
                    progress.advance(BATCH)
        if batch:
            conn.execute(into.insert(), batch)
            n += len(batch)
            progress.advance(len(batch))
        counts[table.name] = n
    if conn.dialect.name == "postgresql":
        _reset_sequences(conn, present)
    return counts


def _write(fh: IO[bytes], target: Path, mode: int) -> None:
    """``target`` replaced whole or not at all: a restore cut short (a full disk, Ctrl-C)
    leaves the file there as it was, never half of the archive's. ``mode`` is the
    permissions it had (a page the web server reads, an attachment only bientap)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with atomic_file(target, mode) as out:
        shutil.copyfileobj(fh, out, CHUNK)


def _unpack(
    archive: Path,
    manifest: dict[str, Any],
    data_dir: Path,
    config_dir: Path,
    dumps: Path,
    progress: Progress,
) -> int:
    """Tables to ``dumps``, files to ``data_dir``, board files to ``config_dir``."""
    progress.begin("Tệp dữ liệu (files)", len(manifest.get("files", {})))
    for folder in manifest.get("folders", []):
        rel = _safe(f"{DATA}/{folder}", DATA)
        if rel is not None:
            data_dir.joinpath(*rel.parts).mkdir(parents=True, exist_ok=True)
    files = 0
    places = ((DB, dumps), (DATA, data_dir), (CONFIG, config_dir))
    with tarfile.open(archive, "r:gz") as tar:
        for member in tar:
            fh = tar.extractfile(member) if member.isfile() else None
            if fh is None or member.name == MANIFEST:
                continue
            for top, folder in places:
                rel = _safe(member.name, top)
                if rel is not None:
                    _write(fh, folder.joinpath(*rel.parts), member.mode & 0o777)
                    files += top == DATA
                    progress.advance()
                    break
    return files


def restore(
    archive: Path,
    database_url: str,
    data_dir: Path,
    *,
    config_dir: Path | None = None,
    force: bool = False,
    progress: Progress | None = None,
) -> Restored:
    """Put ``archive`` into an empty deployment (``force``: replace what is there).

    The files are unpacked first; the database is then emptied, brought to the archive's
    schema and filled in one transaction, rolled back if anything fails.
    The board files go to ``config_dir`` (default ``<data_dir>/config-restored``), to be
    looked at before use: an old configuration should not silently replace a newer one.
    Files of the archive replace files of the same name in ``data_dir``, each whole or not
    at all.
    """
    progress = progress or _Quiet()
    archive, data_dir = Path(archive), Path(data_dir)
    config_dir = Path(config_dir) if config_dir else data_dir / "config-restored"
    problems = verify(archive)
    if problems:
        raise BackupError(
            "bản sao lưu hỏng, không phục hồi (the archive is damaged, nothing restored):\n"
            + "\n".join(problems)
        )
    manifest = read_manifest(archive)
    revision = manifest.get("alembic_revision")
    if not isinstance(revision, str):
        raise BackupError("bản sao lưu không ghi phiên bản lược đồ (no schema revision)")
    engine = make_engine(database_url)
    try:
        with _no_daemon(database_url, engine):
            filled = _has_rows(engine)
            if filled and not force:
                where = make_url(database_url).render_as_string(hide_password=True)
                raise BackupError(
                    f"cơ sở dữ liệu đích {where} đã có dữ liệu ({', '.join(filled)}); chỉ phục hồi "
                    "vào một triển khai trống, hoặc dùng --force để thay thế "
                    "(the target database is not empty; use --force to replace its content)"
                )
            clash = [n for n in _config_names(manifest) if (config_dir / n).exists()]
            if clash and not force:
                raise BackupError(
                    f"{config_dir} đã có {', '.join(clash)}; chọn thư mục cấu hình khác hoặc dùng "
                    "--force (configuration files would be overwritten)"
                )
            data_dir.mkdir(parents=True, exist_ok=True)  # the tables wait beside the files
            with tempfile.TemporaryDirectory(dir=data_dir, prefix=".tmp-restore-") as tmp:
                dumps = Path(tmp)
                files = _unpack(archive, manifest, data_dir, config_dir, dumps, progress)
                # one transaction: a failure (a row refused, the disk full) leaves the
                # target database as it was, --force or not
                with engine.begin() as conn:
                    _wipe(conn)
                    _schema_to(conn, revision)
                    counts = _load_rows(conn, dumps, manifest, progress)
            migrate(engine)
    finally:
        engine.dispose()
    return Restored(revision, counts, files, config_dir)
