"""Database access: engine set-up (SQLite in WAL mode, or PostgreSQL) and migrations."""

from __future__ import annotations

import fcntl
import sqlite3
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import Session, sessionmaker

from pipeline import ids
from pipeline.config import ConfigError

# The driver a URL that names none gets: SQLAlchemy's own default for PostgreSQL (psycopg
# 3) is not installed; bientap runs on psycopg2.
DRIVERS = {"postgresql": "postgresql+psycopg2"}

MIGRATIONS = Path(__file__).parent / "migrations"


def driver_url(url: str) -> URL:
    """``url`` with the driver bientap runs on, where it names none."""
    parsed = make_url(url)
    return parsed.set(drivername=DRIVERS.get(parsed.drivername, parsed.drivername))


def make_engine(url: str) -> Engine:
    """An engine for ``url``; a SQLite file is put in WAL mode with foreign keys on.

    A statement's values are left out of its errors (``hide_parameters``): those errors
    are logged, kept as a message's or a mail's last error and shown by ``bientap
    status``, and the values are a reply's token, a mail's text, a sender's address."""
    parsed = driver_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(parsed, pool_pre_ping=True, hide_parameters=True, future=True)
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(parsed, connect_args={"timeout": 30}, hide_parameters=True, future=True)

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn: Any, _record: Any) -> None:
        cur = dbapi_conn.cursor()
        _first_read(cur, parsed.database)
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    return engine


def _first_read(cur: sqlite3.Cursor, path: str | None) -> None:
    """WAL mode, the first statement read from the file: a file that is no SQLite
    database (a board file, an archive, a damaged copy named as ``database_url``) is
    refused with a message, not the driver's traceback."""
    try:
        cur.execute("PRAGMA journal_mode=WAL")
    except sqlite3.OperationalError:
        raise  # locked, read-only…: said as the database's own error
    except sqlite3.DatabaseError as exc:
        raise ConfigError(
            f"database_url: {Path(path or '').absolute()} không phải cơ sở dữ liệu SQLite "
            f"hoặc đã hỏng (not a SQLite database, or damaged): {exc}"
        ) from None


def alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


MIGRATION_LOCK = 0x6269656E  # "bien": daemons starting together migrate one at a time


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest migration, one process at a time (a daemon and a
    command started together on a new database would otherwise both create it)."""
    if engine.dialect.name != "postgresql":
        database = engine.url.database
        if not database or database == ":memory:":
            command.upgrade(alembic_config(engine), "head")
            return
        with open(f"{database}.migrate.lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            command.upgrade(alembic_config(engine), "head")
        return
    with engine.connect() as conn:
        conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK})
        try:
            command.upgrade(alembic_config(engine), "head")
        finally:
            conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK})


def session_factory(engine: Engine) -> sessionmaker[Session]:
    sessions = sessionmaker(engine, expire_on_commit=False, future=True)
    if engine.dialect.name == "sqlite":
        ids.install(sessions)
    return sessions


def open_database(url: str) -> tuple[Engine, sessionmaker[Session]]:
    engine = make_engine(url)
    migrate(engine)
    return engine, session_factory(engine)
