"""Delivery to sinks: each sink's cursor in the feed, and the records a sink refused for good
(dead letters, with their reason). README, "Delivery to downstream systems".

Idempotent, like 0010: tables already present are left as they are.

Revision ID: 0014
Revises: 0013
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from newsdedup.store.models import AutoId, JsonList, UTCDateTime

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    present = set(sa.inspect(op.get_bind()).get_table_names())
    if "sink_cursors" not in present:
        op.create_table(
            "sink_cursors",
            sa.Column("sink", sa.String(200), primary_key=True),
            sa.Column("seq", sa.BigInteger(), nullable=False),
            sa.Column("updated_at", UTCDateTime(), nullable=False),
            sa.Column("last_success_at", UTCDateTime()),
            sa.Column("delivered", sa.BigInteger(), nullable=False),
            sa.Column("last_failure_at", UTCDateTime()),
            sa.Column("last_failure", sa.Text()),
            sa.Column("failures", JsonList, nullable=False),
        )
    if "dead_letters" not in present:
        op.create_table(
            "dead_letters",
            sa.Column("id", AutoId, primary_key=True, autoincrement=True),
            sa.Column("sink", sa.String(200), nullable=False),
            sa.Column("seq", sa.BigInteger(), nullable=False),
            sa.Column("article_id", sa.String(32), nullable=False),
            sa.Column("version", sa.Integer(), nullable=False),
            sa.Column("reason", sa.Text(), nullable=False),
            sa.Column("at", UTCDateTime(), nullable=False),
        )
        op.create_index("ix_dead_letters_sink_seq", "dead_letters", ["sink", "seq"])


def downgrade() -> None:
    op.drop_index("ix_dead_letters_sink_seq", table_name="dead_letters")
    op.drop_table("dead_letters")
    op.drop_table("sink_cursors")
