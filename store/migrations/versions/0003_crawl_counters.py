"""Counters of what crawls fetched (pages fetched, not modified, fetch errors), for metrics.

Revision ID: 0003
Revises: 0002
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

CRAWL_COUNTERS = ("pages_fetched", "not_modified", "fetch_errors")


def upgrade() -> None:
    counters = sa.table("counters", sa.column("name", sa.String), sa.column("value", sa.BigInteger))
    op.bulk_insert(counters, [{"name": name, "value": 0} for name in CRAWL_COUNTERS])


def downgrade() -> None:
    op.execute(sa.text("DELETE FROM counters WHERE name IN ('pages_fetched', 'not_modified', 'fetch_errors')"))
