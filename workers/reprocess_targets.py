"""Where a reprocess writes, as the workers learn it: from their own settings only.

A ``newsdedup.reprocess_page`` task names its target store by a name, never by a URL, and a
worker turns the name into a URL with its own settings (README, "Security": whoever can write
to Redis can send tasks, and must not be able to point a worker at a database):

* ``beside:<time>``: the new store ``newsdedup reprocess`` makes beside the live one (its
  default), ``reprocess-<time>.db`` in the SQLite store's folder or the database
  ``<name>_reprocess_<time>`` on the live PostgreSQL server, built from the worker's own
  ``NEWSDEDUP_DATABASE_URL``;
* ``listed:<id>``: one of the URLs of the worker's ``NEWSDEDUP_REPROCESS_DATABASE_URLS`` (a
  reprocess into a store named with ``--database-url``).

The target has an LSH index of its own, so the live store and its index are not touched.
The reprocess command (newsdedup/reprocess.py) names its target; the workers' task
``newsdedup.reprocess_page`` opens its services with the URL found here
(``ProcessServices.target``, workers/process_services.py).
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from sqlalchemy.engine import make_url

from newsdedup.config import Settings

STAMP_FORMAT = "%Y%m%dT%H%M%S"
_STAMP = re.compile(r"\d{8}T\d{6}", re.IGNORECASE)
_BESIDE_NAME = re.compile(r"reprocess[-_](\d{8}T\d{6})(?:\.db)?$", re.IGNORECASE)


def target_id(database_url: str) -> str:
    return hashlib.sha256(database_url.encode("utf-8")).hexdigest()[:16]


def beside_url(live_url: str, stamp: str) -> str:
    """The store a reprocess started at ``stamp`` makes beside the live one at ``live_url``."""
    url = make_url(live_url)
    if url.get_backend_name() == "sqlite":
        database = url.database or ""
        folder = Path(database).parent if database and database != ":memory:" else Path("data")
        return url.set(database=str(folder / f"reprocess-{stamp.upper()}.db")).render_as_string(
            hide_password=False
        )
    name = f"{url.database or 'newsdedup'}_reprocess_{stamp.lower()}"
    return url.set(database=name).render_as_string(hide_password=False)


def target_name(settings: Settings, database_url: str) -> str:
    """The name a task gives the store at ``database_url``; raises ValueError when the
    workers (with these settings) could not find it from their own settings."""
    found = _BESIDE_NAME.search(make_url(database_url).database or "")
    if found and beside_url(settings.database_url, found.group(1)) == database_url:
        return f"beside:{found.group(1).upper()}"
    if database_url in settings.reprocess_targets:
        return f"listed:{target_id(database_url)}"
    raise ValueError(
        "the workers take a reprocess target's URL only from their own settings: list it in "
        "NEWSDEDUP_REPROCESS_DATABASE_URLS (of the workers and of this command), or leave out "
        "--database-url for a new store beside the live one"
    )


def target_url(settings: Settings, name: str) -> str:
    """The URL of the target store ``name``, from ``settings`` alone; LookupError when
    ``name`` is none of theirs."""
    kind, _, value = name.partition(":")
    if kind == "beside" and _STAMP.fullmatch(value):
        return beside_url(settings.database_url, value)
    if kind == "listed":
        for url in settings.reprocess_targets:
            if target_id(url) == value:
                return url
    raise LookupError(
        f"reprocess target {name[:80]!r} is not one of this worker's stores "
        "(a store beside NEWSDEDUP_DATABASE_URL, or one of NEWSDEDUP_REPROCESS_DATABASE_URLS)"
    )


def target_settings(settings: Settings, database_url: str) -> Settings:
    """The settings a worker uses for a reprocess target: its store, and an LSH index of its
    own (the live index stays the live store's)."""
    if database_url == settings.database_url:
        return settings
    return settings.model_copy(
        update={
            "database_url": database_url,
            "lsh_basename": f"{settings.lsh_basename}-reprocess-{target_id(database_url)}",
        }
    )
