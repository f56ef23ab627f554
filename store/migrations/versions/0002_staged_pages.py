"""Distributed mode's staging table: fetched pages waiting for a worker (store/staging.py).

Revision ID: 0002
Revises: 0001
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from newsdedup.store.models import AutoId, UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "staged_pages",
        sa.Column("id", AutoId, primary_key=True, autoincrement=True),
        sa.Column("crawl_id", sa.String(64), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("final_url", sa.Text(), nullable=False),
        sa.Column("source", sa.String(200), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("headers", sa.Text(), nullable=False),
        sa.Column("html", sa.Text()),
        sa.Column("hints", sa.Text(), nullable=False),
        sa.Column("fetched_at", UTCDateTime(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("outcome", sa.String(16)),
        sa.Column("article_id", sa.String(32)),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("sent_at", UTCDateTime()),
        sa.Column("claimed_until", UTCDateTime()),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("crawl_id", "url", name="uq_staged_pages_crawl_url"),
    )
    op.create_index("ix_staged_pages_crawl_state", "staged_pages", ["crawl_id", "state"])
    op.create_index("ix_staged_pages_state_updated", "staged_pages", ["state", "updated_at"])


def downgrade() -> None:
    op.drop_table("staged_pages")
