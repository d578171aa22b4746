"""Alembic environment: the engine comes from pipeline.db (config.attributes)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Engine

from pipeline.models import Base

engine: Engine = context.config.attributes["engine"]
with engine.begin() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    context.run_migrations()
