"""Alembic environment: the engine comes from pipeline.db (config.attributes), or a
connection whose transaction the caller holds (a restore: wipe, schema and rows at once)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, Engine

from pipeline.models import Base


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    context.run_migrations()


given: Connection | None = context.config.attributes.get("connection")
if given is not None:
    _run(given)
else:
    engine: Engine = context.config.attributes["engine"]
    with engine.begin() as connection:
        _run(connection)
