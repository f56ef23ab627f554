"""Where each version's raw page lies in the WARC archive (and where a staged page's does).

Idempotent: a database whose recorded revision is older than its tables (restored from a
backup of the version table, or marked back by hand) is brought up without failing.

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

COLUMNS = (("warc_file", sa.Text()), ("warc_offset", sa.BigInteger()))
INDEX = "ix_versions_warc_file"   # pruning forgets every version of a file at once


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    for table in ("versions", "staged_pages"):
        present = {column["name"] for column in inspector.get_columns(table)}
        missing = [(name, kind) for name, kind in COLUMNS if name not in present]
        if missing:
            with op.batch_alter_table(table) as batch:
                for name, kind in missing:
                    batch.add_column(sa.Column(name, kind, nullable=True))
    if INDEX not in {index["name"] for index in inspector.get_indexes("versions")}:
        op.create_index(INDEX, "versions", ["warc_file"])


def downgrade() -> None:
    op.drop_index(INDEX, table_name="versions")
    for table in ("staged_pages", "versions"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("warc_offset")
            batch.drop_column("warc_file")
