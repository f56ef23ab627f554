"""A new source's short pages, held until the source's boilerplate is known (dedup.boilerplate).

A page that would become a new article is held, instead of stored, while its source has fewer
than ``LEARNED_AFTER`` articles (stored or held) and the page has fewer than
``HOLD_BELOW_WORDS`` words of its own: its lines are counted with the source's lines at once,
and it is judged again, with what was learned, once the source has that many pages, or when the
crawl ends (``PagePipeline.release_held``). So a page of chrome and a newsletter pitch crawled
before the articles that carry the same pitch is refused like one crawled after them, and never
reaches the feed.

The row keeps the page as fetched (the staging table's columns), so it is judged again from its
HTML by the code of the time; a held page is released exactly once (``remove_in`` in the
transaction that stores it, or records its rejection).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, delete, func, select

from newsdedup.dedup.boilerplate import LEARNED_AFTER
from newsdedup.fetched.page import Page
from newsdedup.store.boilerplate import Boilerplate
from newsdedup.store.database import Database, dialect_insert, page_columns, page_of
from newsdedup.store.models import Article, HeldPage


@dataclass(frozen=True)
class Held:
    id: int
    page: Page


class HeldPages:
    """Thread-safe; one per Store."""

    def __init__(self, db: Database, boilerplate: Boilerplate) -> None:
        self._db = db
        self._boilerplate = boilerplate
        # A source that has had LEARNED_AFTER articles stays past its first pages: asked once.
        self._warm: set[str] = set()
        self._lock = threading.Lock()

    def is_cold(self, source: str) -> bool:
        """True while the source's lines were counted on fewer than LEARNED_AFTER pages (new
        articles and held pages), and it has fewer articles than that (a store that stored
        them before it counted pages)."""
        with self._lock:
            if source in self._warm:
                return False
        warm = self._boilerplate.pages_learned(source) >= LEARNED_AFTER
        if not warm:
            with self._db.read_once() as connection:
                articles = connection.execute(
                    select(func.count()).select_from(
                        select(Article.id).where(Article.source == source).limit(LEARNED_AFTER).subquery()
                    )
                ).scalar_one()
            warm = articles >= LEARNED_AFTER
        if warm:
            with self._lock:
                self._warm.add(source)
        return not warm

    def newly_warm(self, source: str) -> bool:
        """True the first time this process finds the source past its first pages: its held
        pages are to be judged then (later new articles of the source ask nothing)."""
        with self._lock:
            if source in self._warm:
                return False
        return not self.is_cold(source)

    def hold_in(self, connection: Connection, page: Page, words: int, now: datetime) -> None:
        """Hold the page (inside the page's write); a page held already is replaced by its new fetch."""
        values = {**page_columns(page), "words": words, "held_at": now}
        statement = dialect_insert(connection)(HeldPage).values(values)
        connection.execute(
            statement.on_conflict_do_update(
                index_elements=[HeldPage.source, HeldPage.url],
                set_={k: v for k, v in values.items() if k not in ("source", "url")},
            )
        )

    def waiting(self, crawl_id: str | None = None, sources: Sequence[str] | None = None) -> list[Held]:
        """The held pages (of a crawl, of sources; all when neither is given), oldest first."""
        query = select(HeldPage.__table__).order_by(HeldPage.id)
        if crawl_id is not None:
            query = query.where(HeldPage.crawl_id == crawl_id)
        if sources is not None:
            query = query.where(HeldPage.source.in_(list(sources)))
        with self._db.read_once() as connection:
            return [Held(row["id"], page_of(row)) for row in connection.execute(query).mappings()]

    @staticmethod
    def remove_in(connection: Connection, held_id: int) -> bool:
        """Take the held page out, inside the write that stores or refuses it; False when
        another process released it first (that write is then undone)."""
        return bool(connection.execute(delete(HeldPage).where(HeldPage.id == held_id)).rowcount)

    def crawls(self) -> dict[str, datetime]:
        """The crawls with held pages, and when the first of them was held."""
        query = select(HeldPage.crawl_id, func.min(HeldPage.held_at)).group_by(HeldPage.crawl_id)
        with self._db.read_once() as connection:
            return dict(connection.execute(query).tuples().all())

    def count(self, source: str | None = None) -> int:
        """Pages held (of one source)."""
        query = select(func.count()).select_from(HeldPage)
        if source is not None:
            query = query.where(HeldPage.source == source)
        with self._db.read_once() as connection:
            return connection.execute(query).scalar_one()
