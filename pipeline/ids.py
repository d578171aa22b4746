"""New rows' ids, given in Python on SQLite, so that a flush writes a table's new rows in
one statement and a new row's id needs no flush at all.

The ORM needs a new row's id back to keep track of it. PostgreSQL returns the ids of
many rows from one INSERT … RETURNING in order; SQLite cannot say which id went to which
row, so there SQLAlchemy writes one row per statement ("Correlating RETURNING rows to
parameter sets" in its documentation). A SQLite database has one writer at a time: once
a transaction holds the write lock (BEGIN IMMEDIATE), max(id) + 1, + 2, … are free until
it ends, and are exactly the ids SQLite itself would have given.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Integer, Table, event, func, inspect, select
from sqlalchemy.orm import Session, sessionmaker

from pipeline import writelock

_NEXT = "bientap.next_ids"  # session.info: table name -> last id given in this transaction


def _id_table(obj: object) -> Table | None:
    """The table of ``obj`` when its key is a single integer ``id`` column."""
    table = inspect(obj).mapper.local_table
    if not isinstance(table, Table):
        return None
    key = list(table.primary_key.columns)
    if len(key) != 1 or key[0].name != "id" or not isinstance(key[0].type, Integer):
        return None
    return table


def _write_lock(session: Session) -> None:
    """Hold SQLite's write lock from here to the end of the transaction, and check foreign
    keys at its commit: a flush orders tables by relationships, not by foreign keys, and a
    row may now name another row of the same flush."""
    writelock.hold(session)
    session.connection().exec_driver_sql("PRAGMA defer_foreign_keys = ON")


def _give(session: Session, obj: Any) -> None:
    table = _id_table(obj)
    if table is None or obj.id is not None:
        return
    given: dict[str, int] = session.info.setdefault(_NEXT, {})
    if not given:  # the transaction's first id
        _write_lock(session)
    if table.name not in given:
        with session.no_autoflush:  # a flush now would give ids under our feet
            given[table.name] = session.scalar(select(func.max(table.c.id))) or 0
    given[table.name] += 1
    obj.id = given[table.name]


def need(session: Session, obj: object) -> None:
    """Make sure the new ``obj`` (added to ``session``) has its id: on SQLite it is given
    at once, elsewhere the session is flushed."""
    if getattr(obj, "id", None) is not None:
        return
    if session.get_bind().dialect.name != "sqlite":
        session.flush()
        return
    _give(session, obj)
    state = inspect(obj)
    for column in state.mapper.local_table.columns:  # as the INSERT would set them
        default = column.default
        if default is None or column.key in state.dict or not hasattr(default, "arg"):
            continue
        value = default.arg(None) if default.is_callable else default.arg
        setattr(obj, column.key, value)


def _before_flush(session: Session, _context: Any, _instances: Any) -> None:
    for obj in sorted(session.new, key=lambda o: inspect(o).insert_order):
        _give(session, obj)


def _after_transaction_end(session: Session, transaction: Any) -> None:
    if transaction.parent is None:  # the outermost one: the next takes max(id) again
        session.info.pop(_NEXT, None)


def install(sessions: sessionmaker[Session]) -> None:
    """Give ids in Python in the sessions of a SQLite database."""
    event.listen(sessions, "before_flush", _before_flush)
    event.listen(sessions, "after_transaction_end", _after_transaction_end)
