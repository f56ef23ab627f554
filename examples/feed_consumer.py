"""Follow the newsdedup feed with a cursor kept in a file; resume where the last run stopped.

    python examples/feed_consumer.py http://127.0.0.1:8000 cursor.txt

Each article comes once at its latest state; an article that changes again comes back with
a higher seq, so handle records as upserts keyed by ``id``. The cursor is saved only after a
page was handled: a crash repeats at most one page, never skips one.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx

PAGE_SIZE = 500
IDLE_SLEEP = 5.0


def load_cursor(path: Path) -> int:
    try:
        return int(path.read_text().strip() or 0)
    except FileNotFoundError:
        return 0


def save_cursor(path: Path, cursor: int) -> None:
    # Write then rename: a crash mid-write never leaves a half-written cursor.
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(str(cursor))
    os.replace(tmp, path)


def follow(
    base_url: str,
    cursor_file: Path,
    handle: Callable[[dict], None],
    stop_when_idle: bool = False,
    client: httpx.Client | None = None,
) -> int:
    """Read pages from the saved cursor on; returns the cursor when stopping (idle, if asked)."""
    own = client is None
    client = client or httpx.Client(base_url=base_url, timeout=30)
    cursor = load_cursor(cursor_file)
    try:
        while True:
            try:
                response = client.get("/v1/feed", params={"after": cursor, "limit": PAGE_SIZE})
                response.raise_for_status()
            except httpx.HTTPError as exc:  # server restarting, 503: wait and ask again
                print(f"feed unavailable ({exc}); retrying", file=sys.stderr)
                time.sleep(IDLE_SLEEP)
                continue
            page = response.json()
            for record in page["items"]:
                handle(record)
            cursor = page["next_after"]
            save_cursor(cursor_file, cursor)
            if not page["items"]:
                if stop_when_idle:
                    return cursor
                time.sleep(IDLE_SLEEP)
    finally:
        if own:
            client.close()


def main() -> None:
    base_url, cursor_file = sys.argv[1], Path(sys.argv[2])
    follow(base_url, cursor_file, lambda record: print(json.dumps(record, ensure_ascii=False), flush=True))


if __name__ == "__main__":
    main()
