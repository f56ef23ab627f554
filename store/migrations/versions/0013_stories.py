"""Stories: the news event of each article (store/stories.py, docs/how-it-works.md#stories).

``articles.story_id``; ``stories`` (one row per story, merged ones included); ``story_terms``
(document frequencies); ``story_keys`` (the index of recent stories). Articles stored before
keep a NULL story: stories begin with the first article stored after the upgrade
(``newsdedup reprocess`` gives the archive's articles theirs).

Idempotent, like 0010.

Revision ID: 0013
Revises: 0012
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from newsdedup.store.models import UTCDateTime

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    inspector = sa.inspect(bind)
    present = set(inspector.get_table_names())
    if "story_id" not in {c["name"] for c in inspector.get_columns("articles")}:
        with op.batch_alter_table("articles") as batch:
            batch.add_column(sa.Column("story_id", sa.String(32), nullable=True))
            batch.create_index("ix_articles_story_id", ["story_id"])
    if "stories" not in present:
        op.create_table(
            "stories",
            sa.Column("id", sa.String(32), primary_key=True),
            sa.Column("seq", sa.BigInteger(), nullable=False),
            sa.Column("created", sa.BigInteger(), nullable=False),
            sa.Column("language", sa.String(16)),
            sa.Column("title", sa.Text(), nullable=False),
            sa.Column("central_article_id", sa.String(32), nullable=False),
            sa.Column("first_at", UTCDateTime(), nullable=False),
            sa.Column("last_at", UTCDateTime(), nullable=False),
            sa.Column("article_count", sa.Integer(), nullable=False),
            sa.Column("merged_into", sa.String(32)),
            sa.Column("profile", sa.Text(), nullable=False),
            sa.Column("updated_at", UTCDateTime(), nullable=False),
            sa.UniqueConstraint("seq", name="uq_stories_seq"),
        )
        op.create_index("ix_stories_last_at", "stories", ["last_at"])
    if "story_terms" not in present:
        op.create_table(
            "story_terms",
            sa.Column("term", sa.BigInteger(), primary_key=True, autoincrement=False),
            sa.Column("df", sa.BigInteger(), nullable=False),
        )
    if "story_keys" not in present:
        op.create_table(
            "story_keys",
            sa.Column("term", sa.BigInteger(), primary_key=True, autoincrement=False),
            sa.Column("story_id", sa.String(32), primary_key=True),
        )
        op.create_index("ix_story_keys_story_id", "story_keys", ["story_id"])
    counters = sa.table("counters", sa.column("name", sa.String), sa.column("value", sa.BigInteger))
    have = {row[0] for row in bind.execute(sa.select(counters.c.name))}
    for name in ("story_seq", "story_docs"):
        if name not in have:
            op.execute(counters.insert().values(name=name, value=0))


def downgrade() -> None:
    op.drop_table("story_keys")
    op.drop_table("story_terms")
    op.drop_table("stories")
    with op.batch_alter_table("articles") as batch:
        batch.drop_index("ix_articles_story_id")
        batch.drop_column("story_id")
