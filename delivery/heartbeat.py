"""``newsdedup deliver`` touches a file every round of its main loop; ``newsdedup healthcheck
deliver`` reads its age (the container's health check: no port to ask, and the check must
work in both modes)."""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

STALE_SECONDS = 60.0


def heartbeat_path() -> Path:
    return Path(tempfile.gettempdir()) / f"newsdedup-deliver-{os.getuid()}.alive"


def beat(path: Path | None = None) -> None:
    (path or heartbeat_path()).touch()


def age(path: Path | None = None) -> float | None:
    """Seconds since the last beat; None when there was none."""
    try:
        return time.time() - (path or heartbeat_path()).stat().st_mtime
    except FileNotFoundError:
        return None
