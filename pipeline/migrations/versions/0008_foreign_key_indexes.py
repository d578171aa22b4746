"""Indexes on the two foreign keys that had none

SQLite looks a parent row's children up by their foreign key when it checks deferred
constraints (pipeline/ids.py defers them within a transaction); without an index that is
a scan of the whole child table for every parent row written.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 01:05:00
"""

from __future__ import annotations

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_event_raw_message_id", "event", ["raw_message_id"])
    op.create_index("ix_outgoing_mail_submission_id", "outgoing_mail", ["submission_id"])


def downgrade() -> None:
    op.drop_index("ix_outgoing_mail_submission_id", table_name="outgoing_mail")
    op.drop_index("ix_event_raw_message_id", table_name="event")
