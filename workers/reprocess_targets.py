"""Where a reprocess writes, as the workers learn it: the target store's URL is kept in Redis
(``newsdedup-workers:reprocess:<id>``), never in a task message, and the target has an LSH
index of its own, so the live store and its index are not touched.

The reprocess command (newsdedup/reprocess.py) registers a target; the workers' task
``newsdedup.reprocess_page`` opens its services with what it finds here
(``ProcessServices.target``, workers/process_services.py).
"""

from __future__ import annotations

import hashlib

from newsdedup.config import Settings
from newsdedup.workers.locks import redis_client

REPROCESS_TARGET_KEY = "newsdedup-workers:reprocess:"
# A target's URL stays known to the workers this long after its reprocess started.
TARGET_TTL_SECONDS = 7 * 86_400


def target_id(database_url: str) -> str:
    return hashlib.sha256(database_url.encode("utf-8")).hexdigest()[:16]


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


def target_database_url(settings: Settings, target: str) -> str:
    """The store URL the reprocess command registered for ``target``; LookupError once its key expired."""
    client = redis_client(settings.redis_url or "")
    try:
        url = client.get(REPROCESS_TARGET_KEY + target)
    finally:
        client.close()
    if url is None:
        raise LookupError(f"reprocess target {target} is unknown (its key expired?)")
    return url.decode("utf-8") if isinstance(url, bytes) else url
