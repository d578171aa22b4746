"""Restoring a backup (``pipeline.backup`` makes them) into an empty deployment.

The archive is checked whole first (every member's SHA-256 against its manifest). The
files are unpacked, each whole (a temporary file renamed into place) with the
permissions it was archived with; then, in one transaction, the schema goes to the
archive's revision and the rows in foreign-key order, PostgreSQL sequences past the
highest id; then the newest migrations. Refused while a daemon works on the target
(SQLite's lock; PostgreSQL: a live mailbox lease), and into a database that holds rows
unless forced.
"""

from __future__ import annotations

import json
import shutil
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, Any

from alembic import command
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import (
    Column,
    Connection,
    Engine,
    Integer,
    MetaData,
    Table,
    delete,
    func,
    inspect,
    select,
    text,
)
from sqlalchemy.engine import make_url

from pipeline.backup import (
    BATCH,
    CHUNK,
    CONFIG,
    DATA,
    DB,
    MANIFEST,
    BackupError,
    Progress,
    Quiet,
    decode_row,
    read_manifest,
    schema_revision,
    verify,
)
from pipeline.claims import MAILBOX_LEASE, DaemonLock, DaemonRunning
from pipeline.db import alembic_config, make_engine, migrate
from pipeline.files import atomic_file
from pipeline.models import Base, Lease, utcnow


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
    lock = DaemonLock(database_url, restore=True)
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
    current = schema_revision(conn)
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
                batch.append(decode_row(table, json.loads(line), columns))
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
    progress = progress or Quiet()
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
