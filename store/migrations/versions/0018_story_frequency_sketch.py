"""Stories' document frequencies in a fixed-size sketch (``dedup.stories.FrequencySketch``):
``story_frequency_log`` (each assigned article's buckets) and ``story_frequency_snapshots``
(the whole sketch now and then) replace ``story_terms`` (one row per distinct term, a few
hundred rows written per article, without bound).

A store that has stories already (a development build of 0.2.0: no release had them) starts
counting again: an empty snapshot at its number of articles counted, so common words weigh
as much as rare ones until new articles have been counted (``newsdedup reprocess`` into a
new store counts them all again). Downgrading drops the sketch and leaves ``story_terms`` empty: the older code then
counts from zero too.

Revision ID: 0018
Revises: 0017
"""
from __future__ import annotations

import zlib

import numpy as np
import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

BUCKETS = 1 << 21  # dedup.stories.DF_BUCKETS when this revision was written


def upgrade() -> None:
    bind = op.get_bind()
    present = set(sa.inspect(bind).get_table_names())
    if "story_frequency_log" not in present:
        op.create_table(
            "story_frequency_log",
            sa.Column("doc", sa.BigInteger(), primary_key=True, autoincrement=False),
            sa.Column("buckets", sa.LargeBinary(), nullable=False),
        )
    if "story_frequency_snapshots" not in present:
        op.create_table(
            "story_frequency_snapshots",
            sa.Column("doc", sa.BigInteger(), primary_key=True, autoincrement=False),
            sa.Column("buckets", sa.BigInteger(), nullable=False),
            sa.Column("counts", sa.LargeBinary(), nullable=False),
        )
    if "story_terms" in present:
        counters = sa.table("counters", sa.column("name", sa.String), sa.column("value", sa.BigInteger))
        documents = bind.execute(sa.select(counters.c.value).where(counters.c.name == "story_docs")).scalar()
        if documents:
            snapshots = sa.table(
                "story_frequency_snapshots",
                sa.column("doc", sa.BigInteger),
                sa.column("buckets", sa.BigInteger),
                sa.column("counts", sa.LargeBinary),
            )
            empty = zlib.compress(np.zeros(BUCKETS, dtype="<u4").tobytes(), 1)
            bind.execute(snapshots.insert().values(doc=int(documents), buckets=BUCKETS, counts=empty))
        op.drop_table("story_terms")


def downgrade() -> None:
    op.drop_table("story_frequency_snapshots")
    op.drop_table("story_frequency_log")
    op.create_table(
        "story_terms",
        sa.Column("term", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("df", sa.BigInteger(), nullable=False),
    )
