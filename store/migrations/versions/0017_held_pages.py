"""held_pages: a new source's short pages, waiting until its boilerplate is known
(dedup.boilerplate.HOLD_BELOW_WORDS, store/held.py).

Revision ID: 0017
Revises: 0016
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from newsdedup.store.models import AutoId, UTCDateTime

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Safe to run twice (a database whose recorded revision was set back).
    if "held_pages" in sa.inspect(op.get_bind()).get_table_names():
        return
    op.create_table(
        "held_pages",
        sa.Column("id", AutoId, primary_key=True, autoincrement=True),
        sa.Column("source", sa.String(200), nullable=False),
        sa.Column("crawl_id", sa.String(64), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("final_url", sa.Text(), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("headers", sa.Text(), nullable=False),
        sa.Column("html", sa.Text(), nullable=False),
        sa.Column("hints", sa.Text(), nullable=False),
        sa.Column("fetched_at", UTCDateTime(), nullable=False),
        sa.Column("warc_file", sa.Text()),
        sa.Column("warc_offset", sa.BigInteger()),
        sa.Column("words", sa.Integer(), nullable=False),
        sa.Column("held_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("source", "url", name="uq_held_pages_source_url"),
    )
    op.create_index("ix_held_pages_crawl", "held_pages", ["crawl_id"])
    op.create_index("ix_held_pages_held_at", "held_pages", ["held_at"])


def downgrade() -> None:
    op.drop_table("held_pages")
