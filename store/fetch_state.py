"""What a conditional GET needs: the validators (ETag, Last-Modified) of each URL's last
fully processed fetch, and the article links a feed, sitemap or listing listed last time.

An article page's validators are written with the page itself (``Store.apply``,
``Store.record_rejection``: ``upsert_validators``), never before it, so that a page that
failed is fetched in full next time; a discovery document's are written here with its links.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from newsdedup.fetched.page import Validators
from newsdedup.store.database import (
    KEYS_PER_QUERY,
    WRITE_ATTEMPTS,
    Database,
    is_retryable,
    prebuilt,
    utcnow,
)
from newsdedup.store.models import FetchState


class FetchStates:
    """The conditional-GET state of every URL fetched. Thread-safe."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def validators(self, url: str) -> Validators | None:
        with self._db.reading() as session:
            state = session.get(FetchState, url)
            if state is None:
                return None
            found = Validators(state.etag, state.last_modified)
            return found if found else None

    def validators_many(self, urls: Sequence[str]) -> dict[str, Validators]:
        """``validators`` of several URLs in a few queries (a sitemap lists hundreds);
        URLs without any are left out."""
        found: dict[str, Validators] = {}
        unique = list(dict.fromkeys(urls))
        with self._db.reading() as session:
            for start in range(0, len(unique), KEYS_PER_QUERY):
                rows = session.execute(
                    select(FetchState.url, FetchState.etag, FetchState.last_modified).where(
                        FetchState.url.in_(unique[start : start + KEYS_PER_QUERY])
                    )
                ).all()
                for url, etag, last_modified in rows:
                    validators = Validators(etag, last_modified)
                    if validators:
                        found[url] = validators
        return found

    def discovery_links(self, url: str) -> list[str] | None:
        with self._db.reading() as session:
            state = session.get(FetchState, url)
            return list(state.links) if state is not None and state.links is not None else None

    def save_discovery(self, url: str, validators: Validators, links: list[str]) -> None:
        """A feed's, sitemap's or listing's validators and the article links it listed."""
        for attempt in range(1, WRITE_ATTEMPTS + 1):
            try:
                with self._db.writing() as session:
                    _write_discovery(session, url, validators, list(links))
                return
            except DBAPIError as exc:  # two writers inserting the same URL at once
                if attempt == WRITE_ATTEMPTS or not is_retryable(exc):
                    raise


def _write_discovery(session: Session, url: str, validators: Validators, links: list[str]) -> None:
    state = session.get(FetchState, url, with_for_update=True)
    if state is None:
        state = FetchState(url=url)
        session.add(state)
    state.etag = validators.etag
    state.last_modified = validators.last_modified
    state.links = links
    state.updated_at = utcnow()


def upsert_validators(connection: Connection, url: str, validators: Validators, now: datetime) -> None:
    """A page's validators, in one statement, inside the page's own write (its discovery
    links, if any, are kept)."""
    connection.execute(
        prebuilt(connection, "upsert_validators", _validators_upsert),
        {"url": url, "etag": validators.etag, "last_modified": validators.last_modified, "updated_at": now},
    )


def _validators_upsert(insert: Callable[[Any], Any]) -> Any:
    statement = insert(FetchState.__table__)
    return statement.on_conflict_do_update(
        index_elements=[FetchState.url],
        set_={name: statement.excluded[name] for name in ("etag", "last_modified", "updated_at")},
    )
