"""Each sink's place in the feed and its dead letters (tables ``sink_cursors`` and
``dead_letters``, migration 0014), for delivery/ and the commands and routes that show it.

The cursor moves by compare-and-set (``UPDATE ... WHERE seq = <what the deliverer read>``):
a replay that set it back, or a second replica that committed first, makes the slower
writer's commit a no-op, so a cursor never jumps over records nobody confirmed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update

from newsdedup.store.database import Database, dialect_insert, utcnow
from newsdedup.store.models import Article, DeadLetter, SinkCursor


@dataclass(frozen=True)
class Refusal:
    """A record a sink refused for good, and why."""

    seq: int
    article_id: str
    version: int
    reason: str


class SinkStates:
    """Reads and writes of the sinks' cursors and dead letters. Thread-safe (no state of its own)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def ensure(self, names: Iterable[str]) -> None:
        """A cursor at 0 for each sink that has none yet (a new sink gets the whole feed)."""
        now = utcnow()
        with self._db.writer.begin() as connection:
            insert = dialect_insert(connection)
            for name in names:
                connection.execute(
                    insert(SinkCursor)
                    .values(sink=name, seq=0, updated_at=now, delivered=0, failures={})
                    .on_conflict_do_nothing(index_elements=["sink"])
                )

    def cursor(self, name: str) -> int:
        with self._db.read_once() as connection:
            return int(connection.scalar(select(SinkCursor.seq).where(SinkCursor.sink == name)) or 0)

    def commit(
        self,
        name: str,
        expected: int,
        through: int,
        delivered: int,
        refused: Sequence[Refusal] = (),
    ) -> bool:
        """Move ``name``'s cursor from ``expected`` to ``through`` and keep its dead letters, in
        one transaction; False (nothing written) when the cursor is no longer at ``expected``."""
        now = utcnow()
        with self._db.writing() as session:
            values: dict[str, Any] = {
                "seq": through,
                "updated_at": now,
                "delivered": SinkCursor.delivered + delivered,
            }
            if delivered or not refused:
                values["last_success_at"] = now
            moved = session.execute(
                update(SinkCursor)
                .where(SinkCursor.sink == name, SinkCursor.seq == expected)
                .values(**values)
                .execution_options(synchronize_session=False)
            )
            if getattr(moved, "rowcount", 0) != 1:  # an UPDATE's result is a CursorResult
                session.rollback()
                return False
            session.add_all(
                DeadLetter(
                    sink=name,
                    seq=r.seq,
                    article_id=r.article_id,
                    version=r.version,
                    reason=r.reason[:2000],
                    at=now,
                )
                for r in refused
            )
            return True

    def record_failure(self, name: str, failure_class: str, reason: str) -> None:
        """A failed attempt (the cursor stays): counted by class, the last one kept with its reason."""
        with self._db.writing() as session:
            row = session.get(SinkCursor, name, with_for_update=True)
            if row is None:
                return
            failures = dict(row.failures or {})
            failures[failure_class] = failures.get(failure_class, 0) + 1
            row.failures = failures
            row.last_failure = reason[:2000]
            row.last_failure_at = utcnow()

    def set_cursor(self, name: str, seq: int) -> None:
        """Put ``name``'s cursor at ``seq`` (replay: the records after it are sent again)."""
        now = utcnow()
        with self._db.writer.begin() as connection:
            insert = dialect_insert(connection)
            connection.execute(
                insert(SinkCursor)
                .values(sink=name, seq=seq, updated_at=now, delivered=0, failures={})
                .on_conflict_do_update(index_elements=["sink"], set_={"seq": seq, "updated_at": now})
            )

    def dead_letters(self, name: str, from_seq: int = 0) -> list[DeadLetter]:
        with self._db.reading() as session:
            return list(
                session.scalars(
                    select(DeadLetter)
                    .where(DeadLetter.sink == name, DeadLetter.seq >= from_seq)
                    .order_by(DeadLetter.seq, DeadLetter.id)
                )
            )

    def drop_dead_letters(self, ids: Iterable[int]) -> None:
        ids = list(ids)
        if not ids:
            return
        with self._db.writing() as session:
            session.execute(delete(DeadLetter).where(DeadLetter.id.in_(ids)))

    def rows(self) -> dict[str, dict[str, Any]]:
        """Every sink with a cursor: its row's columns, its dead letters' count and how old
        the oldest change it has not passed is (``oldest_pending_at``, None when caught up)."""
        with self._db.reading() as session:
            grouped = select(DeadLetter.sink, func.count()).group_by(DeadLetter.sink)
            counts: dict[str, int] = {sink: int(count) for sink, count in session.execute(grouped).all()}
            found: dict[str, dict[str, Any]] = {}
            for row in session.scalars(select(SinkCursor)):
                oldest: datetime | None = session.scalar(
                    select(Article.updated_at).where(Article.seq > row.seq).order_by(Article.seq).limit(1)
                )
                found[row.sink] = {
                    "seq": row.seq,
                    "updated_at": row.updated_at,
                    "last_success_at": row.last_success_at,
                    "delivered": row.delivered,
                    "failures": dict(row.failures or {}),
                    "last_failure": row.last_failure,
                    "last_failure_at": row.last_failure_at,
                    "dead_letters": int(counts.get(row.sink, 0)),
                    "oldest_pending_at": oldest,
                }
            return found
