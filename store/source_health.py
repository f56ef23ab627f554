"""Per-source health in the store: what each source's crawls fetched and what became of it.

Three tables (migration 0010):

* ``source_health``: one row per source: its first and last crawl (id, start, end, outcome)
  and when it last had a page stored, a new article, a success.
* ``source_counts``: counts per source, crawl, hour, event (fetched, not_modified,
  robots_denied, fetch_failed, and the outcome kinds created … failed) and failure class
  (``crawler.reasons.failure_class``): the last crawl's counts and the last 24 hours' are sums
  over a handful of rows; rows older than ``KEEP_HOURLY`` are folded into one carry row per
  source, event and class, so the totals /metrics reports only ever grow.
* ``stage_timings``: histogram buckets (not cumulative) of how long fetches, extractions and
  decisions took, for /metrics, which the API process serves from the store.

Nothing here is written per page: ``HealthRecorder`` adds up in memory and writes in one
transaction every ``FLUSH_SECONDS`` (and when closed), so the pages' hot path (hundreds a
second in distributed mode) pays no round trip. What a process killed mid-way had not
flushed yet is lost; the pages themselves are not.
"""

from __future__ import annotations

import bisect
import logging
import threading
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    Engine,
    and_,
    case,
    delete,
    func,
    select,
    update,
)

from newsdedup.store.database import KEYS_PER_QUERY, dialect_insert, utcnow
from newsdedup.store.engine import write_engine
from newsdedup.store.models import SourceCount, SourceHealthRow, StageTiming

log = logging.getLogger(__name__)

# Events of the crawl side (the crawling process) and of the outcome side (whoever decides).
FETCHED = "fetched"  # an article page answered 200 HTML and was handed on
NOT_MODIFIED = "not_modified"  # an article page answered 304
ROBOTS_DENIED = "robots_denied"  # an article URL robots.txt forbids, never requested
FETCH_FAILED = "fetch_failed"  # a page or discovery document could not be fetched or used
OUTCOMES = ("created", "updated", "duplicate", "unchanged", "rejected", "failed")
EVENTS = (FETCHED, NOT_MODIFIED, ROBOTS_DENIED, FETCH_FAILED, *OUTCOMES)
# Outcomes that mean "a page of this source is in the store" and those that mean success.
STORED = frozenset({"created", "updated", "duplicate", "unchanged"})
SUCCESS = STORED | {NOT_MODIFIED}

STAGES = ("fetch", "extraction", "decision")
# Upper bounds (seconds) of the histogram buckets, shared by the three stages; +Inf is implied.
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)

FLUSH_SECONDS = 2.0
KEEP_HOURLY = timedelta(days=2)
# The hour of the carry rows that hold what was folded: before any real hour.
CARRY_HOUR = datetime(1970, 1, 1, tzinfo=UTC)


CountKey = tuple[str, str, datetime, str, str]  # source, crawl_id, hour, event, reason


def hour_of(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


@dataclass(frozen=True)
class SourceTimes:
    """A ``source_health`` row."""

    source: str
    first_crawl_at: datetime | None = None
    last_crawl_id: str | None = None
    last_crawl_started_at: datetime | None = None
    last_crawl_finished_at: datetime | None = None
    last_crawl_outcome: str | None = None
    last_page_at: datetime | None = None
    last_article_at: datetime | None = None
    last_success_at: datetime | None = None


# (event, failure class) -> pages
Tally = Counter[tuple[str, str]]


class HealthRecorder:
    """Counts and timings added up in memory, written in batches. Thread-safe.

    ``start()`` flushes every ``FLUSH_SECONDS`` from a thread of its own (for processes whose
    pages may stop coming: a worker); without it, call ``flush()`` (``close()`` does)."""

    def __init__(self, engine: Engine, flush_seconds: float = FLUSH_SECONDS) -> None:
        self.engine = engine
        self.flush_seconds = flush_seconds
        self._lock = threading.Lock()
        self._counts: Counter[CountKey] = Counter()
        self._times: dict[str, dict[str, datetime]] = {}  # source -> column -> latest
        self._timings: dict[tuple[str, int], list[float]] = {}  # (stage, bucket) -> [count, seconds]
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # --- adding up ---

    def count(self, source: str, crawl_id: str, event: str, reason: str = "", pages: int = 1) -> None:
        now = utcnow()
        with self._lock:
            self._counts[(source, crawl_id, hour_of(now), event, reason)] += pages
            times = self._times.setdefault(source, {})
            if event in STORED:
                times["last_page_at"] = now
            if event == "created":
                times["last_article_at"] = now
            if event in SUCCESS:
                times["last_success_at"] = now

    def observe(self, stage: str, seconds: float) -> None:
        bucket = bisect.bisect_left(BUCKETS, seconds)
        with self._lock:
            cell = self._timings.setdefault((stage, bucket), [0, 0.0])
            cell[0] += 1
            cell[1] += seconds

    # --- writing ---

    def start(self) -> HealthRecorder:
        if self._thread is None:
            self._thread = threading.Thread(target=self._flush_often, name="health-flush", daemon=True)
            self._thread.start()
        return self

    def _flush_often(self) -> None:
        while not self._stop.wait(self.flush_seconds):
            self.flush()

    def flush(self) -> bool:
        """Write what was added up since the last flush; on failure keep it for the next."""
        with self._lock:
            counts, times, timings = self._counts, self._times, self._timings
            self._counts, self._times, self._timings = Counter(), {}, {}
        if not (counts or times or timings):
            return True
        try:
            with write_engine(self.engine).begin() as connection:
                _add_counts(connection, counts)
                _raise_times(connection, times)
                _add_timings(connection, timings)
            return True
        except Exception as exc:  # noqa: BLE001 - the store away: the next flush tries again
            log.warning("could not write source health (kept for the next try): %s", type(exc).__name__)
            with self._lock:
                self._counts.update(counts)
                for source, columns in times.items():
                    mine = self._times.setdefault(source, {})
                    for column, moment in columns.items():
                        mine[column] = max(moment, mine.get(column, moment))
                for key, (n, seconds) in timings.items():
                    cell = self._timings.setdefault(key, [0, 0.0])
                    cell[0] += n
                    cell[1] += seconds
            return False

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.flush_seconds + 5)
            self._thread = None
        self.flush()


def _add_counts(connection: Any, counts: Counter[CountKey]) -> None:
    if not counts:
        return
    table = SourceCount.__table__
    # Sorted: two writers upserting the same rows take their locks in the same order.
    rows = [
        {"source": s, "crawl_id": c, "hour": h, "event": e, "reason": r, "count": n}
        for (s, c, h, e, r), n in sorted(counts.items())
        if n
    ]
    statement = dialect_insert(connection)(table)
    statement = statement.on_conflict_do_update(
        index_elements=["source", "crawl_id", "hour", "event", "reason"],
        set_={"count": table.c.count + statement.excluded.count},
    )
    connection.execute(statement, rows)


def _later(column: Any, new: Any) -> Any:
    return case((column.is_(None), new), (new.is_(None), column), (new > column, new), else_=column)


def _raise_times(connection: Any, times: Mapping[str, Mapping[str, datetime]]) -> None:
    if not times:
        return
    table = SourceHealthRow.__table__
    columns = ("last_page_at", "last_article_at", "last_success_at")
    rows = [{"source": source, **{c: times[source].get(c) for c in columns}} for source in sorted(times)]
    statement = dialect_insert(connection)(table)
    statement = statement.on_conflict_do_update(
        index_elements=["source"],
        set_={column: _later(table.c[column], statement.excluded[column]) for column in columns},
    )
    connection.execute(statement, rows)  # one executemany for all the sources


def _add_timings(connection: Any, timings: Mapping[tuple[str, int], list[float]]) -> None:
    if not timings:
        return
    table = StageTiming.__table__
    rows = [
        {"stage": stage, "bucket": bucket, "count": int(n), "seconds": seconds}
        for (stage, bucket), (n, seconds) in sorted(timings.items())
    ]
    statement = dialect_insert(connection)(table)
    statement = statement.on_conflict_do_update(
        index_elements=["stage", "bucket"],
        set_={
            "count": table.c.count + statement.excluded.count,
            "seconds": table.c.seconds + statement.excluded.seconds,
        },
    )
    connection.execute(statement, rows)


class SourceHealth:
    """The crawl-level writes (a crawl's start and end per source) and every read."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def recorder(self) -> HealthRecorder:
        return HealthRecorder(self.engine)

    # --- crawls ---

    def crawl_started(self, sources: Iterable[str], crawl_id: str, at: datetime | None = None) -> None:
        at = at or utcnow()
        table = SourceHealthRow.__table__
        with write_engine(self.engine).begin() as connection:
            for source in sorted(set(sources)):
                statement = dialect_insert(connection)(table).values(
                    source=source,
                    first_crawl_at=at,
                    last_crawl_id=crawl_id,
                    last_crawl_started_at=at,
                    last_crawl_finished_at=None,
                    last_crawl_outcome="running",
                )
                statement = statement.on_conflict_do_update(
                    index_elements=["source"],
                    set_={
                        "first_crawl_at": func.coalesce(
                            table.c.first_crawl_at, statement.excluded.first_crawl_at
                        ),
                        "last_crawl_id": statement.excluded.last_crawl_id,
                        "last_crawl_started_at": statement.excluded.last_crawl_started_at,
                        "last_crawl_finished_at": None,
                        "last_crawl_outcome": statement.excluded.last_crawl_outcome,
                    },
                )
                connection.execute(statement)

    def crawl_finished(self, outcomes: Mapping[str, str], crawl_id: str, at: datetime | None = None) -> None:
        """``outcomes``: source -> how its crawl ended ("finished", "time limit", "failed: …")."""
        at = at or utcnow()
        with write_engine(self.engine).begin() as connection:
            for source, outcome in sorted(outcomes.items()):
                connection.execute(
                    update(SourceHealthRow)
                    .where(SourceHealthRow.source == source, SourceHealthRow.last_crawl_id == crawl_id)
                    .values(last_crawl_finished_at=at, last_crawl_outcome=outcome[:200])
                )

    def fold_old_counts(self, now: datetime | None = None, keep: timedelta = KEEP_HOURLY) -> int:
        """Fold the hourly rows older than ``keep`` (except each source's last crawl's) into
        one carry row per source, event and class; returns the rows folded."""
        cutoff = hour_of(now or utcnow()) - keep
        last = select(SourceHealthRow.last_crawl_id).where(
            SourceHealthRow.source == SourceCount.source, SourceHealthRow.last_crawl_id.is_not(None)
        )
        old = and_(
            SourceCount.hour < cutoff,
            SourceCount.hour > CARRY_HOUR,
            SourceCount.crawl_id.not_in(last.scalar_subquery()),
        )
        with write_engine(self.engine).begin() as connection:
            # The rows this transaction deleted are the ones it carries: two processes folding at
            # once (crawls ending together) cannot both carry the same rows.
            rows = connection.execute(
                delete(SourceCount)
                .where(old)
                .returning(SourceCount.source, SourceCount.event, SourceCount.reason, SourceCount.count)
            ).all()
            carried: Counter[CountKey] = Counter()
            for source, event, reason, n in rows:
                carried[(source, "", CARRY_HOUR, event, reason)] += int(n)
            _add_counts(connection, carried)
            return len(rows)

    # --- reads ---

    def times(self) -> dict[str, SourceTimes]:
        with self.engine.connect() as connection:
            rows = connection.execute(select(*SourceHealthRow.__table__.columns)).mappings().all()
        return {row["source"]: SourceTimes(**row) for row in rows}

    def crawl_tallies(self, crawls: Mapping[str, str]) -> dict[str, Tally]:
        """``crawls``: source -> crawl id; what each source's given crawl counted."""
        tallies: dict[str, Tally] = {source: Counter() for source in crawls}
        if not crawls:
            return tallies
        ids = sorted(set(crawls.values()))
        with self.engine.connect() as connection:
            for start in range(0, len(ids), KEYS_PER_QUERY):
                for source, crawl_id, event, reason, n in connection.execute(
                    select(
                        SourceCount.source,
                        SourceCount.crawl_id,
                        SourceCount.event,
                        SourceCount.reason,
                        func.sum(SourceCount.count),
                    )
                    .where(SourceCount.crawl_id.in_(ids[start : start + KEYS_PER_QUERY]))
                    .group_by(SourceCount.source, SourceCount.crawl_id, SourceCount.event, SourceCount.reason)
                ):
                    if crawls.get(source) == crawl_id:
                        tallies[source][(event, reason)] += int(n)
        return tallies

    def window_tallies(self, since: datetime) -> dict[str, Tally]:
        """What each source counted in the hours from ``since``'s hour on."""
        return self._tallies(SourceCount.hour >= hour_of(since))

    def total_tallies(self) -> dict[str, Tally]:
        return self._tallies(None)

    def _tallies(self, where: Any) -> dict[str, Tally]:
        query = select(SourceCount.source, SourceCount.event, SourceCount.reason, func.sum(SourceCount.count))
        if where is not None:
            query = query.where(where)
        query = query.group_by(SourceCount.source, SourceCount.event, SourceCount.reason)
        tallies: dict[str, Tally] = {}
        with self.engine.connect() as connection:
            for source, event, reason, n in connection.execute(query):
                tallies.setdefault(source, Counter())[(event, reason)] += int(n)
        return tallies

    def timings(self) -> dict[str, tuple[list[int], float]]:
        """stage -> (pages per bucket, not cumulative, len(BUCKETS) + 1 of them; seconds in all)."""
        found: dict[str, tuple[list[int], float]] = {}
        with self.engine.connect() as connection:
            for stage, bucket, n, seconds in connection.execute(
                select(StageTiming.stage, StageTiming.bucket, StageTiming.count, StageTiming.seconds)
            ):
                counts, total = found.get(stage, ([0] * (len(BUCKETS) + 1), 0.0))
                if 0 <= bucket <= len(BUCKETS):
                    counts[bucket] += int(n)
                found[stage] = (counts, total + float(seconds))
        return found


def failures_of(tally: Tally, events: Sequence[str] = (FETCH_FAILED, "failed")) -> dict[str, int]:
    """Failure class -> pages, over the failure events of a tally."""
    found: Counter[str] = Counter()
    for (event, reason), n in tally.items():
        if event in events:
            found[reason or "other"] += n
    return dict(found)
