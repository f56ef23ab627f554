"""Staged pages' HTML stored without PostgreSQL's compression.

A staged page is written once by the crawl and read once by a worker, then emptied: pglz
compressing and decompressing about 300 KB of HTML per page was a large part of
PostgreSQL's CPU time in a distributed crawl, to save disk for rows that live minutes.
EXTERNAL still stores long values out of line (TOAST), only uncompressed. SQLite: nothing to do.

Revision ID: 0005
Revises: 0004
"""
from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE staged_pages ALTER COLUMN html SET STORAGE EXTERNAL")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE staged_pages ALTER COLUMN html SET STORAGE EXTENDED")
