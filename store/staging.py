"""The staging table of distributed mode: fetched pages waiting for (or done by) a worker.

The crawling process writes each page here (HTML and all) and commits *before* it sends the
Celery task, so a message only ever carries ``(page_id, url)`` and a lost message loses
nothing: the row is still ``pending`` and whoever watches the crawl sends it again.

A row's life: ``pending`` → ``done`` (with the outcome kind) or ``failed`` (with the reason).
``claimed_until`` is a lease, not a state: a worker that starts a page takes a short lease
and renews it while it works (workers/pages.py); a second delivery of the same page (broker
redelivery, a re-send of a stale page) finds the lease taken or the row finished and does
nothing. A SIGKILLed worker's lease simply runs out, within seconds.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import (
    Connection,
    Engine,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from newsdedup.fetched.page import Page
from newsdedup.store.database import dialect_insert, page_columns, page_of, utcnow
from newsdedup.store.engine import make_engine, upgrade_schema, write_engine
from newsdedup.store.models import StagedPage

__all__ = ["Claim", "StagedPage", "StagedPageCounts", "Staging"]


@dataclass(frozen=True)
class Claim:
    """What a worker gets when it starts a page: the page, or why there is nothing to do."""

    page: Page | None
    # "claimed": go ahead; "finished": done/failed already (a redelivery); "busy": another
    # worker holds the lease; "missing": no such row (purged); "exhausted": too many attempts.
    status: Literal["claimed", "finished", "busy", "missing", "exhausted"]
    state: str = ""
    outcome: str | None = None
    attempts: int = 0


@dataclass(frozen=True)
class StagedPageCounts:
    """A crawl's staged pages by state: what the distributed crawl command waits on."""

    pending: int
    done: int
    failed: int
    outcomes: dict[str, int]  # kind -> pages, for the done ones
    leased: int  # pending pages a worker is on right now

    @property
    def total(self) -> int:
        return self.pending + self.done + self.failed


class Staging:
    """Reads and writes of ``staged_pages``. One object per process; thread-safe (one Engine)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._writer = write_engine(engine)

    @classmethod
    def open(cls, database_url: str, migrate: bool = True, ping_on_checkout: bool = True) -> Staging:
        """``ping_on_checkout``: see ``store.engine.make_engine``."""
        engine = make_engine(database_url, ping_on_checkout)
        if migrate:
            upgrade_schema(engine)
        return cls(engine)

    def close(self) -> None:
        self.engine.dispose()

    # --- the crawling process ---

    def stage(self, page: Page) -> tuple[int, bool]:
        """Store ``page`` as pending; returns ``(page_id, created)``. The same URL twice in one
        crawl (listed by a feed and a sitemap) is staged once: ``created`` is False then."""
        try:
            with self._writer.begin() as conn:
                page_id = conn.execute(
                    insert(StagedPage).values(**_row(page, utcnow())).returning(StagedPage.id)
                ).scalar_one()
            return int(page_id), True
        except IntegrityError:
            with self.engine.connect() as conn:
                page_id = conn.execute(
                    select(StagedPage.id).where(
                        StagedPage.crawl_id == page.crawl_id, StagedPage.url == page.url
                    )
                ).scalar_one()
            return int(page_id), False

    def stage_many(self, pages: Sequence[Page]) -> list[tuple[int, bool]]:
        """``stage`` for several pages in one transaction (one INSERT); ``(page_id, created)``
        in the order of ``pages``. Raises if any page cannot be stored, and then stores none:
        the caller stages them one by one to find the culprit."""
        if not pages:
            return []
        now = utcnow()
        with self._writer.begin() as conn:
            statement = dialect_insert(conn)(StagedPage).values([_row(page, now) for page in pages])
            statement = statement.on_conflict_do_nothing(index_elements=["crawl_id", "url"])
            created = {
                (crawl_id, url): int(page_id)
                for page_id, crawl_id, url in conn.execute(
                    statement.returning(StagedPage.id, StagedPage.crawl_id, StagedPage.url)
                )
            }
            known: dict[tuple[str, str], int] = {}
            for crawl_id in {page.crawl_id for page in pages if (page.crawl_id, page.url) not in created}:
                urls = [
                    page.url
                    for page in pages
                    if page.crawl_id == crawl_id and (crawl_id, page.url) not in created
                ]
                known.update(
                    ((crawl_id, url), int(page_id))
                    for page_id, url in conn.execute(
                        select(StagedPage.id, StagedPage.url).where(
                            StagedPage.crawl_id == crawl_id, StagedPage.url.in_(urls)
                        )
                    )
                )
        staged: list[tuple[int, bool]] = []
        for page in pages:
            key = (page.crawl_id, page.url)
            if key in created:
                staged.append((created.pop(key), True))  # popped: a repeat in the batch is not new
                known[key] = staged[-1][0]
            else:
                staged.append((known[key], False))
        return staged

    def mark_sent(self, page_ids: Iterable[int]) -> None:
        ids = list(page_ids)
        if not ids:
            return
        with self._writer.begin() as conn:
            conn.execute(update(StagedPage).where(StagedPage.id.in_(ids)).values(sent_at=utcnow()))

    # --- the worker ---

    def claim(self, page_id: int, lease_seconds: float, max_attempts: int) -> Claim:
        """Take the lease of a pending page whose lease is free or ran out, count the attempt,
        and return the page. One UPDATE ... WHERE, so two workers cannot both win."""
        now = utcnow()
        with self._writer.begin() as conn:
            # The winner gets the row from the UPDATE itself; only the others read it.
            row = (
                conn.execute(
                    update(StagedPage)
                    .where(
                        StagedPage.id == page_id,
                        StagedPage.state == "pending",
                        or_(StagedPage.claimed_until.is_(None), StagedPage.claimed_until < now),
                        StagedPage.attempts < max_attempts,
                    )
                    .values(
                        claimed_until=now + timedelta(seconds=lease_seconds),
                        attempts=StagedPage.attempts + 1,
                        updated_at=now,
                    )
                    .returning(*StagedPage.__table__.columns)
                )
                .mappings()
                .first()
            )
            won = row is not None
            if not won:
                row = conn.execute(select(StagedPage).where(StagedPage.id == page_id)).mappings().first()
        if row is None:
            return Claim(None, "missing")
        if won:
            return Claim(page_of(row), "claimed", row["state"], None, row["attempts"])
        if row["state"] != "pending":
            return Claim(None, "finished", row["state"], row["outcome"], row["attempts"])
        if row["attempts"] >= max_attempts and (row["claimed_until"] is None or row["claimed_until"] < now):
            return Claim(page_of(row), "exhausted", row["state"], None, row["attempts"])
        return Claim(None, "busy", row["state"], None, row["attempts"])

    def renew(self, page_ids: Sequence[int], lease_seconds: float) -> None:
        """Extend the leases of pages a living worker is still working on. A lease given back
        (``release``: a transient error, the retry on its way) stays given back, even when the
        renewing thread read its page's id just before."""
        now = utcnow()
        with self._writer.begin() as conn:
            conn.execute(
                update(StagedPage)
                .where(
                    StagedPage.id.in_(list(page_ids)),
                    StagedPage.state == "pending",
                    StagedPage.claimed_until.is_not(None),
                )
                .values(claimed_until=now + timedelta(seconds=lease_seconds))
            )

    def page(self, page_id: int) -> Page | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(StagedPage).where(StagedPage.id == page_id)).mappings().first()
        return page_of(row) if row is not None else None

    def finish(self, page_id: int, outcome: str, article_id: str | None, reason: str) -> bool:
        """Mark a pending page done with its outcome; drops the HTML (nothing reads it again).
        False when it was finished already (a concurrent redelivery got there first)."""
        with self._writer.begin() as conn:
            return self.finish_in(conn, page_id, outcome, article_id, reason)

    @staticmethod
    def finish_in(conn: Connection, page_id: int, outcome: str, article_id: str | None, reason: str) -> bool:
        """``finish`` inside the caller's transaction (a worker's: the one that stores the page)."""
        return bool(
            conn.execute(
                update(StagedPage)
                .where(StagedPage.id == page_id, StagedPage.state == "pending")
                .values(
                    state="done",
                    outcome=outcome,
                    article_id=article_id,
                    reason=reason[:2000],
                    html=None,
                    claimed_until=None,
                    updated_at=utcnow(),
                )
            ).rowcount
        )

    @staticmethod
    def released_in(
        conn: Connection, crawl_id: str, url: str, outcome: str, article_id: str | None, reason: str
    ) -> None:
        """A held page (outcome "held") was judged again: its row tells what became of it."""
        conn.execute(
            update(StagedPage)
            .where(
                StagedPage.crawl_id == crawl_id,
                StagedPage.url == url,
                StagedPage.state == "done",
                StagedPage.outcome == "held",
            )
            .values(outcome=outcome, article_id=article_id, reason=reason[:2000], updated_at=utcnow())
        )

    def fail(self, page_id: int, reason: str) -> bool:
        """Mark a pending page failed for good. The HTML stays, for whoever looks into it."""
        with self._writer.begin() as conn:
            return bool(
                conn.execute(
                    update(StagedPage)
                    .where(StagedPage.id == page_id, StagedPage.state == "pending")
                    .values(
                        state="failed",
                        outcome="failed",
                        reason=reason[:2000],
                        claimed_until=None,
                        updated_at=utcnow(),
                    )
                ).rowcount
            )

    def release(self, page_id: int, reason: str) -> None:
        """Give the lease back after a transient error, so the retry can claim the page."""
        with self._writer.begin() as conn:
            conn.execute(
                update(StagedPage)
                .where(StagedPage.id == page_id, StagedPage.state == "pending")
                .values(claimed_until=None, reason=reason[:2000], updated_at=utcnow())
            )

    # --- whoever watches a crawl ---

    def counts(self, crawl_id: str) -> StagedPageCounts:
        """One statement: the crawl command asks this several times a second while it waits."""
        now = utcnow()
        leased_now = (StagedPage.state == "pending") & (StagedPage.claimed_until >= now)
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(StagedPage.state, StagedPage.outcome, func.count(), func.count().filter(leased_now))
                .where(StagedPage.crawl_id == crawl_id)
                .group_by(StagedPage.state, StagedPage.outcome)
            ).all()
        by_state: Counter[str] = Counter()
        outcomes: dict[str, int] = {}
        leased = 0
        for state, outcome, n, leased_n in rows:
            by_state[state] += n
            leased += leased_n
            if state == "done" and outcome:
                outcomes[outcome] = outcomes.get(outcome, 0) + n
        return StagedPageCounts(by_state["pending"], by_state["done"], by_state["failed"], outcomes, leased)

    def quiet_since(self, crawl_id: str) -> datetime | None:
        """When a page of the crawl was last staged or finished, if none is pending (None
        while pages are pending, or when the crawl staged nothing)."""
        with self.engine.connect() as conn:
            pending, last = conn.execute(
                select(
                    func.count().filter(StagedPage.state == "pending"),
                    func.max(StagedPage.updated_at),
                ).where(StagedPage.crawl_id == crawl_id)
            ).one()
        return None if pending or last is None else last

    def stale(self, crawl_id: str | None, unclaimed_grace: float | None) -> list[tuple[int, str]]:
        """Pending pages whose message may be lost: the lease ran out (the worker died or hit
        its hard limit), or never sent. With ``unclaimed_grace`` set (seconds), also pages sent
        that long ago and never claimed: the caller passes it only when the queue is empty,
        i.e. when no message for them can still be waiting there."""
        now = utcnow()
        lost = [
            StagedPage.claimed_until < now,
            StagedPage.sent_at.is_(None) & StagedPage.claimed_until.is_(None),
        ]
        if unclaimed_grace is not None:
            lost.append(
                StagedPage.claimed_until.is_(None)
                & (StagedPage.sent_at < now - timedelta(seconds=unclaimed_grace))
            )
        query = select(StagedPage.id, StagedPage.url).where(StagedPage.state == "pending", or_(*lost))
        if crawl_id is not None:
            query = query.where(StagedPage.crawl_id == crawl_id)
        with self.engine.connect() as conn:
            return [(int(i), u) for i, u in conn.execute(query.order_by(StagedPage.id)).all()]

    def failed_pages(self, crawl_id: str) -> list[tuple[str, str]]:
        with self.engine.connect() as conn:
            return [
                (url, reason)
                for url, reason in conn.execute(
                    select(StagedPage.url, StagedPage.reason)
                    .where(StagedPage.crawl_id == crawl_id, StagedPage.state == "failed")
                    .order_by(StagedPage.id)
                ).all()
            ]

    def purge(self, done_older_than: timedelta, failed_older_than: timedelta) -> int:
        """Forget finished rows: done ones soon (their counts only serve the crawl's summary),
        failed ones later (operators look at them)."""
        now = utcnow()
        with self._writer.begin() as conn:
            return int(
                conn.execute(
                    delete(StagedPage).where(
                        or_(
                            (StagedPage.state == "done") & (StagedPage.updated_at < now - done_older_than),
                            (StagedPage.state == "failed")
                            & (StagedPage.updated_at < now - failed_older_than),
                        )
                    )
                ).rowcount
            )


def _row(page: Page, now: datetime) -> dict[str, object]:
    return {
        **page_columns(page),
        "state": "pending",
        "reason": "",
        "attempts": 0,
        "created_at": now,
        "updated_at": now,
    }
