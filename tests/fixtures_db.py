"""Database fixtures: one real PostgreSQL per session; ``db_url`` runs a test on both
SQLite and PostgreSQL, each time with a brand-new empty database."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.services import Postgres


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    """A PostgreSQL cluster on 127.0.0.1 (trust auth), removed after the session."""
    with Postgres() as server:
        yield server


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """SQLAlchemy URL of an empty database: a SQLite file, or a new PostgreSQL database
    created on the session server and dropped after the test."""
    yield from empty_database(request, request.param, tmp_path / "bientap.db", "test")


def empty_database(
    request: pytest.FixtureRequest, engine: str, sqlite_file: Path, prefix: str
) -> Iterator[str]:
    """An empty SQLite file, or a new database on the session's PostgreSQL that is
    dropped afterwards: the body of a fixture that yields its URL."""
    if engine == "sqlite":
        yield f"sqlite:///{sqlite_file}"
        return
    server: Postgres = request.getfixturevalue("postgres")
    name = f"{prefix}_{secrets.token_hex(8)}"
    url = server.create_database(name)
    try:
        yield url
    finally:
        server.drop_database(name)
