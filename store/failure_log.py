"""The failure log: pages and documents that could not be used, with the stage and reason.

What a user reads to learn why a page is missing from the feed (``newsdedup failures``,
``GET /failures``). Extraction's refusals are written with the page's validators by
``Store.record_rejection``; everything else (fetch errors, robots.txt, task failures) here.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Insert, insert, select

from newsdedup.store.database import Database, utcnow
from newsdedup.store.models import Failure


class FailureLog:
    def __init__(self, db: Database) -> None:
        self._db = db

    def record(self, url: str, source: str, crawl_id: str, stage: str, reason: str, detail: str = "") -> None:
        with self._db.writer.begin() as connection:
            connection.execute(add_failure(url, source, crawl_id, stage, reason, detail, utcnow()))

    def latest(self, limit: int = 100, crawl_id: str | None = None) -> list[dict[str, Any]]:
        """The latest failures, newest first."""
        query = select(Failure).order_by(Failure.id.desc()).limit(limit)
        if crawl_id is not None:
            query = query.where(Failure.crawl_id == crawl_id)
        with self._db.reading() as session:
            return [
                {
                    "url": f.url,
                    "source": f.source,
                    "crawl_id": f.crawl_id,
                    "stage": f.stage,
                    "reason": f.reason,
                    "detail": f.detail,
                    "at": f.at.isoformat(),
                }
                for f in session.scalars(query)
            ]


def add_failure(
    url: str, source: str, crawl_id: str, stage: str, reason: str, detail: str, at: datetime
) -> Insert:
    """The INSERT of one failure row (run inside the caller's transaction)."""
    return insert(Failure).values(
        url=url,
        source=source,
        crawl_id=crawl_id or "",
        stage=stage,
        reason=reason,
        detail=detail or "",
        at=at,
    )
