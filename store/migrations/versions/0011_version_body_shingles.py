"""Exact shingles of each version's body lines (dedup.Fingerprint.body_shingles).

Whether a text tells something of its own beyond headings, labels and credits (two briefs that
share only a wire lead) needs the body lines of both texts; versions stored before have NULL,
and dedup then counts all their shingles.

Revision ID: 0011
Revises: 0010

After 0010 rather than beside the released 0009: a database already at 0009 must still get
the column. A database that has it already (its code once ran this migration under an earlier
number) is left as it is.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Safe to run twice (a database whose recorded revision was set back).
    if "body_shingles" in {c["name"] for c in sa.inspect(op.get_bind()).get_columns("versions")}:
        return
    with op.batch_alter_table("versions") as batch:
        batch.add_column(sa.Column("body_shingles", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("versions") as batch:
        batch.drop_column("body_shingles")
