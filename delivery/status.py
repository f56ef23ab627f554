"""Each sink's delivery state, as ``newsdedup sinks status``, ``GET /v1/sinks`` and /metrics
show it: lag in seqs and seconds, last success, failures by class, dead letters."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from newsdedup.config import Sink
from newsdedup.store import Store
from newsdedup.store.records import iso
from newsdedup.store.sink_state import SinkStates


def sink_statuses(store: Store, sinks: Sequence[Sink], now: datetime | None = None) -> list[dict[str, Any]]:
    """One item per sink of the sources file, then those with a cursor the file no longer
    names (``configured: false``)."""
    now = now or datetime.now(UTC)
    rows = SinkStates(store.db).rows()
    last_seq = store.feed_reader.last_seq()
    kinds = {sink.name: sink.kind for sink in sinks}
    names = [sink.name for sink in sinks] + sorted(set(rows) - set(kinds))
    items = []
    for name in names:
        row = rows.get(name)
        cursor = row["seq"] if row else 0
        oldest = row["oldest_pending_at"] if row else None
        if row is None and last_seq:
            oldest = None  # never started: no cursor yet, lag in seconds unknown
        items.append(
            {
                "sink": name,
                "kind": kinds.get(name),
                "configured": name in kinds,
                "cursor": cursor,
                "last_seq": last_seq,
                "lag_seqs": max(0, last_seq - cursor),
                "lag_seconds": max(0.0, (now - oldest).total_seconds()) if oldest is not None else 0.0,
                "last_success_at": iso(row["last_success_at"]) if row else None,
                "delivered": row["delivered"] if row else 0,
                "failures": row["failures"] if row else {},
                "last_failure": row["last_failure"] if row else None,
                "last_failure_at": iso(row["last_failure_at"]) if row else None,
                "dead_letters": row["dead_letters"] if row else 0,
            }
        )
    return items
