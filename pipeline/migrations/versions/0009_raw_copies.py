"""Copies of a recorded message in another mailbox of the board, or at another UID

One mail sent to two mailboxes of a board is one submission; its second copy is
recorded here so that it is filed in its own mailbox too.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 08:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "raw_copy",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("board_id", sa.String(length=64), nullable=False),
        sa.Column("mailbox", sa.String(length=64), nullable=False),
        sa.Column("source_key", sa.String(length=255), nullable=False),
        sa.Column("uidvalidity", sa.BigInteger(), nullable=True),
        sa.Column("raw_message_id", sa.Integer(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("filed", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["raw_message_id"], ["raw_message.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_raw_copy_mailbox", "raw_copy", ["board_id", "mailbox", "filed"])
    op.create_index("ix_raw_copy_raw_message_id", "raw_copy", ["raw_message_id"])


def downgrade() -> None:
    op.drop_index("ix_raw_copy_raw_message_id", table_name="raw_copy")
    op.drop_index("ix_raw_copy_mailbox", table_name="raw_copy")
    op.drop_table("raw_copy")
