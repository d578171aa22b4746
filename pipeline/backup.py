"""Backups: the database, the data folder and the configuration in one archive.

A backup is one ``.tar.gz``: every table of the schema as JSON lines (written through
SQLAlchemy Core, so an archive made on SQLite restores into PostgreSQL and back; bytes as
base64, instants as ISO 8601 in UTC), the data folder's files (attachments, Maildirs, the
static site…; not the backups themselves nor a SQLite database file, which the JSON lines
replace), the board files and ``deployment.toml``, and ``manifest.json`` naming the
Alembic revision, the rows per table and the SHA-256 of every other member.

``pipeline.restore`` puts an archive back into an empty deployment. Bình Phước Đ11.3
wants a backup at least weekly: ``run_scheduled`` makes one when the newest is older
than ``backup_interval_days`` and keeps the last ``backup_keep``.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import logging
import os
import re
import sqlite3
import stat
import tarfile
import tempfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Protocol

from alembic.runtime.migration import MigrationContext
from sqlalchemy import (
    Column,
    Connection,
    Engine,
    Table,
    create_engine,
    func,
    select,
)
from sqlalchemy.types import TypeDecorator

from pipeline.config import DEPLOYMENT_FILE
from pipeline.models import Base

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
BATCH_OF_MAIL = 1  # rows of a table holding bytes at a time: a raw mail may be 25 MB
CHUNK = 1 << 20
PRIVATE_DIR, PRIVATE_FILE = 0o700, 0o600  # an archive holds every sender's mail

log = logging.getLogger(__name__)


class BackupError(Exception):
    """A backup or restore that cannot go on; the message is for the operator."""


class Progress(Protocol):
    """Where long work reports how far it got (a progress bar in the CLI)."""

    def begin(self, label: str, total: int) -> None: ...

    def advance(self, amount: int = 1) -> None: ...


class Quiet:
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


def decode_row(table: Table, row: dict[str, Any], columns: set[str]) -> dict[str, Any]:
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


def schema_revision(conn: Connection) -> str | None:
    return MigrationContext.configure(conn).get_current_revision()


@dataclass
class _Member:
    arcname: str
    path: Path
    sha256: str


def _holds_bytes(table: Table) -> bool:
    return any(_python_type(column) is bytes for column in table.columns)


def _export(
    engine: Engine, scratch: Path, progress: Progress
) -> tuple[str | None, dict[str, int], list[_Member]]:
    counts: dict[str, int] = {}
    members: list[_Member] = []
    with _snapshot(engine, scratch) as conn:
        revision = schema_revision(conn)
        tables = Base.metadata.sorted_tables
        totals = {t.name: conn.scalar(select(func.count()).select_from(t)) or 0 for t in tables}
        progress.begin("Cơ sở dữ liệu (database)", sum(totals.values()))
        for table in tables:
            path = scratch / f"{table.name}.jsonl"
            digest, n = hashlib.sha256(), 0
            query = select(table).order_by(*table.primary_key.columns)
            rows = BATCH_OF_MAIL if _holds_bytes(table) else BATCH
            result = conn.execution_options(stream_results=True, yield_per=rows).execute(query)
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
    progress = progress or Quiet()
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
