"""Where each version's raw page lies in the WARC archive (and where a staged page's does).

Revision ID: 0009
Revises: 0005
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ("versions", "staged_pages"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("warc_file", sa.Text(), nullable=True))
            batch.add_column(sa.Column("warc_offset", sa.BigInteger(), nullable=True))
    # Pruning forgets every version of a file at once.
    op.create_index("ix_versions_warc_file", "versions", ["warc_file"])


def downgrade() -> None:
    op.drop_index("ix_versions_warc_file", table_name="versions")
    for table in ("staged_pages", "versions"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("warc_offset")
            batch.drop_column("warc_file")
