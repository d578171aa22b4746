"""Serialising writers on SQLite, where SELECT … FOR UPDATE locks nothing.

PostgreSQL locks the rows a transaction reads FOR UPDATE. SQLite has one writer at a
time and takes its lock only at a transaction's first write, so two transactions may
both read a row as it was and both act on it. ``hold`` takes SQLite's write lock at
once (BEGIN IMMEDIATE): what the transaction reads after it is what it writes over.
"""

from __future__ import annotations

from sqlalchemy.orm import Session


def hold(session: Session) -> None:
    """On SQLite, hold the write lock from here to the end of the transaction (waiting
    for another writer to finish); elsewhere nothing, row locks do this."""
    if session.get_bind().dialect.name != "sqlite":
        return
    connection = session.connection()
    if not connection.connection.dbapi_connection.in_transaction:  # type: ignore[union-attr]
        connection.exec_driver_sql("BEGIN IMMEDIATE")
