"""Durations as operators read them, for the commands' tables (a module of its own: the CLI
imports it for every command, and it imports nothing heavy)."""

from __future__ import annotations

from datetime import datetime, timedelta


def age(delta: timedelta) -> str:
    """A duration as operators read it: the largest whole unit (3d, 5h, 12m, 40s)."""
    seconds = int(delta.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def ago(moment: str | None, now: datetime) -> str:
    """How long before ``now`` an ISO 8601 time was ("5m ago"); "never" for None."""
    if not moment:
        return "never"
    since = now - datetime.fromisoformat(moment.replace("Z", "+00:00"))
    return f"{age(max(since, timedelta(0)))} ago"
