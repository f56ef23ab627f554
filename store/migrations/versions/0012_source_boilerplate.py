"""Each source's learned boilerplate: the lines of its articles and on how many different
articles each was seen (dedup.boilerplate, store.boilerplate).

Revision ID: 0012
Revises: 0011

Starts empty: every source learns its boilerplate again from the pages that arrive after the
upgrade (the first three articles of a source teach it a line that recurs on all of them).
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from newsdedup.store.models import UTCDateTime

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Safe to run twice (a database whose recorded revision was set back).
    if sa.inspect(op.get_bind()).has_table("source_lines"):
        return
    op.create_table(
        "source_lines",
        sa.Column("source", sa.String(200), primary_key=True),
        sa.Column("line_hash", sa.String(16), primary_key=True),
        sa.Column("pages", sa.Integer(), nullable=False),
        sa.Column("sample", sa.Text(), nullable=False),
        sa.Column("first_seen", UTCDateTime(), nullable=False),
        sa.Column("last_seen", UTCDateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("source_lines")
