"""Full-text search over the articles' title and text (migration 0015): SQLite FTS5 or
PostgreSQL full-text search, best match first.

The user's words are matched as plain words on both databases: each becomes a quoted FTS5
phrase (so ``AND``, ``NEAR``, ``*`` or an unbalanced quote are words, not syntax) or goes
through ``plainto_tsquery``. Every word must occur (in the title or the text).
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import Connection, text

# Words beyond these are dropped: a query of a thousand words is no search.
MAX_WORDS = 32
# Matches ranked: the newest this many (see matching_ids).
RANK_WINDOW = 1000
WORD = re.compile(r"\w+", re.UNICODE)


# What migration 0015 adds for the search in SQL of its own (an FTS5 table and its shadow
# tables; a tsvector column and its GIN index): no model declares them, so a comparison of the
# models with the database leaves them out (store/migrations/env.py, tests/test_store.py).
FULL_TEXT_OBJECTS = ("articles_fts", "search_vector", "ix_articles_search_vector")


def is_model_object(obj: object, name: str | None, type_: str, reflected: bool, compare_to: object) -> bool:
    """Alembic's ``include_object``: False for the full-text search's own objects."""
    return not (name is not None and name.startswith(FULL_TEXT_OBJECTS))


def words_of(query: str) -> list[str]:
    return WORD.findall(query)[:MAX_WORDS]


def matching_ids(connection: Connection, query: str, limit: int, offset: int = 0) -> list[str]:
    """Ids of the articles that hold every word of ``query``, best first (bm25 / ts_rank).

    Ranked among the newest RANK_WINDOW matches (by last change): ranking every match of a word
    found in most of the store cost ~1 s at 100,000 articles on PostgreSQL (bench/console.py),
    and in a news store the newest matches are the ones looked for.
    """
    words = words_of(query)
    if not words:
        return []
    if connection.dialect.name == "postgresql":
        rows = connection.execute(
            text(
                # The query inline (not in a CTE): the planner then estimates how many articles
                # match, and reads the seq index backwards for a frequent word. The window reads
                # no tsvector; only the window's rows are ranked.
                "WITH newest AS (SELECT id FROM articles "
                "WHERE search_vector @@ plainto_tsquery('pg_catalog.simple', :q) "
                "ORDER BY seq DESC LIMIT :window) "
                "SELECT a.id FROM newest JOIN articles AS a ON a.id = newest.id "
                "ORDER BY ts_rank(a.search_vector, plainto_tsquery('pg_catalog.simple', :q)) DESC, "
                "a.seq DESC LIMIT :limit OFFSET :offset"
            ),
            {"q": " ".join(words), "window": RANK_WINDOW, "limit": limit, "offset": offset},
        )
        return [row[0] for row in rows]
    phrase = " ".join('"' + word.replace('"', '""') + '"' for word in words)
    # FTS5 keeps each word's documents in rowid (seq) order: the window's lower bound is cheap,
    # and a rowid range is a constraint FTS5 applies while it reads, before ranking.
    bound = connection.execute(
        text(
            "SELECT rowid FROM articles_fts WHERE articles_fts MATCH :q "
            "ORDER BY rowid DESC LIMIT 1 OFFSET :last"
        ),
        {"q": phrase, "last": RANK_WINDOW - 1},
    ).scalar()
    rows = connection.execute(
        text(
            "SELECT a.id FROM articles_fts JOIN articles AS a ON a.seq = articles_fts.rowid "
            "WHERE articles_fts MATCH :q AND articles_fts.rowid >= :bound "
            "ORDER BY articles_fts.rank, a.seq DESC LIMIT :limit OFFSET :offset"
        ),
        {"q": phrase, "bound": bound if bound is not None else -(2**63), "limit": limit, "offset": offset},
    )
    return [row[0] for row in rows]


def in_order(records: list[dict[str, Any]], ids: list[str]) -> list[dict[str, Any]]:
    """``records`` in the order of ``ids`` (SQL ``IN`` gives no order)."""
    by_id = {record["id"]: record for record in records}
    return [by_id[i] for i in ids if i in by_id]
