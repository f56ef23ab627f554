"""Per-source health: each source's last crawl and last successes, its counts per crawl and
hour, and the timings of fetch, extraction and decision (store/source_health.py).

Idempotent, like 0009: a database whose recorded revision is older than its tables is
brought up without failing.

Revision ID: 0010
Revises: 0009
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from newsdedup.store.models import UTCDateTime

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    present = set(sa.inspect(op.get_bind()).get_table_names())
    if "source_health" not in present:
        _create_source_health()
    if "source_counts" not in present:
        _create_source_counts()
    if "stage_timings" not in present:
        _create_stage_timings()


def _create_source_health() -> None:
    op.create_table(
        "source_health",
        sa.Column("source", sa.String(200), primary_key=True),
        sa.Column("first_crawl_at", UTCDateTime()),
        sa.Column("last_crawl_id", sa.String(64)),
        sa.Column("last_crawl_started_at", UTCDateTime()),
        sa.Column("last_crawl_finished_at", UTCDateTime()),
        sa.Column("last_crawl_outcome", sa.String(200)),
        sa.Column("last_page_at", UTCDateTime()),
        sa.Column("last_article_at", UTCDateTime()),
        sa.Column("last_success_at", UTCDateTime()),
    )


def _create_source_counts() -> None:
    op.create_table(
        "source_counts",
        sa.Column("source", sa.String(200), primary_key=True),
        sa.Column("crawl_id", sa.String(64), primary_key=True),
        sa.Column("hour", UTCDateTime(), primary_key=True),
        sa.Column("event", sa.String(24), primary_key=True),
        sa.Column("reason", sa.String(24), primary_key=True),
        sa.Column("count", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_source_counts_crawl_id", "source_counts", ["crawl_id"])
    op.create_index("ix_source_counts_hour", "source_counts", ["hour"])


def _create_stage_timings() -> None:
    op.create_table(
        "stage_timings",
        sa.Column("stage", sa.String(24), primary_key=True),
        sa.Column("bucket", sa.Integer(), primary_key=True),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("stage_timings")
    op.drop_table("source_counts")
    op.drop_table("source_health")
