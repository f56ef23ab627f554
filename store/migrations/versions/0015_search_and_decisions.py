"""Full-text search over articles, and the last dedup decision of every fetched URL.

* SQLite: an FTS5 index (``articles_fts``) over the articles' title and text, an external
  content table keyed by ``seq`` (unique, and never renumbered by VACUUM as a plain rowid
  may be), kept in step by triggers.
* PostgreSQL: a ``search_vector`` tsvector column (title weighted above text) with a GIN index,
  kept in step by the built-in ``tsvector_update_trigger``.

Triggers, not code: every writer (embedded crawls, workers, reprocess, import-warc) keeps the
index current without knowing of it. The ``simple`` configuration (no stemming, no stop words)
treats every language alike; the store holds many.

* ``console_sessions``: the web console's logins.
* ``decisions``: one row per fetched URL (the ``urls`` table has one too, so the space is
  bounded by it): the page's latest decision, its Jaccard and containment against the version it
  matched, and the reason ``crawl --explain`` prints.

Revision ID: 0015
Revises: 0014
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from newsdedup.store.models import UTCDateTime

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

SQLITE_UP = (
    "CREATE VIRTUAL TABLE IF NOT EXISTS articles_fts USING fts5("
    "title, text, content='articles', content_rowid='seq', tokenize='unicode61 remove_diacritics 2')",
    "CREATE TRIGGER IF NOT EXISTS articles_fts_insert AFTER INSERT ON articles BEGIN "
    "INSERT INTO articles_fts(rowid, title, text) VALUES (new.seq, new.title, new.text); END",
    "CREATE TRIGGER IF NOT EXISTS articles_fts_delete AFTER DELETE ON articles BEGIN "
    "INSERT INTO articles_fts(articles_fts, rowid, title, text) VALUES ('delete', old.seq, old.title, old.text); END",
    "CREATE TRIGGER IF NOT EXISTS articles_fts_update AFTER UPDATE OF seq, title, text ON articles BEGIN "
    "INSERT INTO articles_fts(articles_fts, rowid, title, text) VALUES ('delete', old.seq, old.title, old.text); "
    "INSERT INTO articles_fts(rowid, title, text) VALUES (new.seq, new.title, new.text); END",
    "INSERT INTO articles_fts(articles_fts) VALUES ('rebuild')",
)
SQLITE_DOWN = (
    "DROP TRIGGER IF EXISTS articles_fts_insert",
    "DROP TRIGGER IF EXISTS articles_fts_delete",
    "DROP TRIGGER IF EXISTS articles_fts_update",
    "DROP TABLE IF EXISTS articles_fts",
)
POSTGRES_UP = (
    "ALTER TABLE articles ADD COLUMN IF NOT EXISTS search_vector tsvector",
    "UPDATE articles SET search_vector = setweight(to_tsvector('pg_catalog.simple', title), 'A') "
    "|| setweight(to_tsvector('pg_catalog.simple', text), 'B')",
    "CREATE INDEX IF NOT EXISTS ix_articles_search_vector ON articles USING GIN (search_vector)",
    """CREATE OR REPLACE FUNCTION articles_search_vector() RETURNS trigger AS $$
BEGIN
  NEW.search_vector := setweight(to_tsvector('pg_catalog.simple', NEW.title), 'A')
    || setweight(to_tsvector('pg_catalog.simple', NEW.text), 'B');
  RETURN NEW;
END $$ LANGUAGE plpgsql""",
    "DROP TRIGGER IF EXISTS articles_search_vector ON articles",
    # OF title, text: the seq and timestamp updates of every write do not re-parse the text.
    "CREATE TRIGGER articles_search_vector BEFORE INSERT OR UPDATE OF title, text ON articles "
    "FOR EACH ROW EXECUTE FUNCTION articles_search_vector()",
)
POSTGRES_DOWN = (
    "DROP TRIGGER IF EXISTS articles_search_vector ON articles",
    "DROP FUNCTION IF EXISTS articles_search_vector()",
    "DROP INDEX IF EXISTS ix_articles_search_vector",
    "ALTER TABLE articles DROP COLUMN IF EXISTS search_vector",
)


def upgrade() -> None:
    bind = op.get_bind()
    for statement in SQLITE_UP if bind.dialect.name == "sqlite" else POSTGRES_UP:
        op.execute(statement)
    if "decisions" not in set(sa.inspect(bind).get_table_names()):
        op.create_table(
            "decisions",
            sa.Column("url", sa.Text(), primary_key=True),
            sa.Column(
                "article_id", sa.String(32), sa.ForeignKey("articles.id", ondelete="CASCADE"), nullable=False
            ),
            sa.Column("kind", sa.String(16), nullable=False),
            sa.Column("relation", sa.String(16), nullable=False),
            sa.Column("source", sa.String(200), nullable=False),
            sa.Column("similarity", sa.Float()),
            sa.Column("containment", sa.Float()),
            sa.Column("matched_version", sa.Integer()),
            sa.Column("version", sa.Integer(), nullable=False),
            sa.Column("reason", sa.Text(), nullable=False),
            sa.Column("decided_at", UTCDateTime(), nullable=False),
        )
        op.create_index("ix_decisions_article_id", "decisions", ["article_id"])
    if "console_sessions" not in set(sa.inspect(bind).get_table_names()):
        op.create_table(
            "console_sessions",
            sa.Column("id", sa.String(64), primary_key=True),
            sa.Column("csrf", sa.String(64), nullable=False),
            sa.Column("expires_at", UTCDateTime(), nullable=False),
        )
        op.create_index("ix_console_sessions_expires_at", "console_sessions", ["expires_at"])
    indexes = {i["name"] for i in sa.inspect(bind).get_indexes("articles")}
    if "ix_articles_source_seq" not in indexes:
        op.create_index("ix_articles_source_seq", "articles", ["source", "seq"])
    if "ix_failures_source_id" not in {i["name"] for i in sa.inspect(bind).get_indexes("failures")}:
        op.create_index("ix_failures_source_id", "failures", ["source", "id"])


def downgrade() -> None:
    op.drop_table("console_sessions")
    op.drop_index("ix_failures_source_id", table_name="failures")
    op.drop_index("ix_articles_source_seq", table_name="articles")
    op.drop_index("ix_decisions_article_id", table_name="decisions")
    op.drop_table("decisions")
    for statement in SQLITE_DOWN if op.get_bind().dialect.name == "sqlite" else POSTGRES_DOWN:
        op.execute(statement)
