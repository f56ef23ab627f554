"""Initial schema: articles, versions, urls, counters, failures, fetch_state.

Revision ID: 0001
Revises:
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from newsdedup.store.models import AutoId, JsonList, UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "articles",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("canonical_url", sa.Text(), nullable=False),
        sa.Column("source", sa.String(200), nullable=False),
        sa.Column("current_version", sa.Integer(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("authors", JsonList, nullable=False),
        sa.Column("published_at", UTCDateTime()),
        sa.Column("modified_at", UTCDateTime()),
        sa.Column("language", sa.String(16)),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("seq", name="uq_articles_seq"),
    )
    op.create_index("ix_articles_canonical_url", "articles", ["canonical_url"])

    op.create_table(
        "versions",
        sa.Column("article_id", sa.String(32), sa.ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("version", sa.Integer(), primary_key=True),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("authors", JsonList, nullable=False),
        sa.Column("published_at", UTCDateTime()),
        sa.Column("modified_at", UTCDateTime()),
        sa.Column("language", sa.String(16)),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("source", sa.String(200), nullable=False),
        sa.Column("fetched_at", UTCDateTime(), nullable=False),
        sa.Column("similarity", sa.Float()),
        sa.Column("text_hash", sa.String(64), nullable=False),
        sa.Column("signature", sa.LargeBinary(), nullable=False),
        sa.Column("shingle_count", sa.Integer(), nullable=False),
        sa.Column("paragraph_hashes", JsonList, nullable=False),
        sa.Column("shingles", sa.LargeBinary(), nullable=False),
    )

    op.create_table(
        "urls",
        sa.Column("id", AutoId, primary_key=True, autoincrement=True),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("article_id", sa.String(32), sa.ForeignKey("articles.id", ondelete="CASCADE"), nullable=False),
        sa.Column("relation", sa.String(16), nullable=False),
        sa.Column("source", sa.String(200), nullable=False),
        sa.Column("first_seen", UTCDateTime(), nullable=False),
        sa.Column("last_seen", UTCDateTime(), nullable=False),
        sa.Column("last_text_hash", sa.String(64)),
        sa.UniqueConstraint("url", name="uq_urls_url"),
    )
    op.create_index("ix_urls_article_id", "urls", ["article_id"])

    counters = op.create_table(
        "counters",
        sa.Column("name", sa.String(32), primary_key=True),
        sa.Column("value", sa.BigInteger(), nullable=False),
    )
    op.bulk_insert(counters, [{"name": "seq", "value": 0}])

    op.create_table(
        "failures",
        sa.Column("id", AutoId, primary_key=True, autoincrement=True),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("source", sa.String(200), nullable=False),
        sa.Column("crawl_id", sa.String(64), nullable=False),
        sa.Column("stage", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_failures_url", "failures", ["url"])

    op.create_table(
        "fetch_state",
        sa.Column("url", sa.Text(), primary_key=True),
        sa.Column("etag", sa.Text()),
        sa.Column("last_modified", sa.Text()),
        sa.Column("links", JsonList),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
    )


def downgrade() -> None:
    for table in ("fetch_state", "failures", "counters", "urls", "versions", "articles"):
        op.drop_table(table)
