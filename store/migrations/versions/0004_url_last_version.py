"""Which version of its article each URL's text last matched (judging a re-fetched URL).

Revision ID: 0004
Revises: 0003
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("urls") as batch:
        batch.add_column(sa.Column("last_version", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("urls") as batch:
        batch.drop_column("last_version")
