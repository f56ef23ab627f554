"""What the delivery tests share: a store filled through the real write path, sources files
with sinks, and receivers of our own that count what arrived (imported as ``delivery_helpers``)."""

from __future__ import annotations

import base64
import json
import os
import socket
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml
from store_factories import doc_at, fingerprint_of, new, page_at, story, version_of

from newsdedup.store import Store

SECRET = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()


def add_articles(
    store: Store, count: int, first: int = 0, source: str = "wire", language: str = "en"
) -> None:
    for n in range(first, first + count):
        url = f"https://{source}.example/{n}.html"
        text = story(n)
        store.apply(new(), page_at(url, source), doc_at(url, text, language=language), fingerprint_of(text))


def revise(store: Store, n: int, source: str = "wire") -> None:
    """A second version of article ``n`` (same URL, new text)."""
    url = f"https://{source}.example/{n}.html"
    text = story(n) + "\nA correction was added to this story."
    article_id = next(r["id"] for r in store.feed_reader.feed() if r["canonical_url"] == url)
    store.apply(
        version_of(article_id), page_at(url, source, minutes=5), doc_at(url, text), fingerprint_of(text)
    )


def feed_keys(store: Store) -> set[tuple[str, int]]:
    """Every (id, version) the feed holds now."""
    return {(r["id"], r["version"]) for r in store.feed_reader.feed()}


def write_config(path: Path, sinks: list[dict[str, Any]]) -> Path:
    """A sources file with one (never crawled) source and these sinks."""
    path.write_text(
        yaml.safe_dump(
            {"sources": [{"name": "wire", "feeds": ["https://wire.example/feed.xml"]}], "sinks": sinks}
        ),
        encoding="utf-8",
    )
    return path


def cli_env(database_url: str, config: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSDEDUP_")}
    env.update(
        NEWSDEDUP_DATABASE_URL=database_url,
        NEWSDEDUP_CONFIG=str(config),
        NEWSDEDUP_DELIVERY_POLL="0.2",
        NEWSDEDUP_DELIVERY_BACKOFF="0.1",
        NEWSDEDUP_DELIVERY_BACKOFF_MAX="1",
        **extra,
    )
    return env


class Receiver:
    """A webhook receiver on loopback that keeps every request it took (body, headers), and
    answers as ``behaviour(n)`` says for the n-th request: "ok", "500", "429", "404", "hang"
    (never answers), "slow" (ok after 20 ms), "close" (closes the connection mid-request)."""

    def __init__(self, behaviour: Any = None) -> None:
        self.behaviour = behaviour or (lambda n: "ok")
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.attempts = 0
        self.lock = threading.Lock()
        self.release = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                with receiver.lock:
                    receiver.attempts += 1
                    n = receiver.attempts
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                action = receiver.behaviour(n)
                if action == "hang":
                    receiver.release.wait(30)
                    self.close_connection = True
                    return
                if action == "close":
                    self.connection.shutdown(socket.SHUT_RDWR)
                    self.close_connection = True
                    return
                if action == "slow":
                    threading.Event().wait(0.02)
                    action = "ok"
                if action == "ok":
                    with receiver.lock:
                        receiver.requests.append(({k.lower(): v for k, v in self.headers.items()}, body))
                status = {"ok": 204, "500": 500, "429": 429, "404": 404}[action]
                self.send_response(status)
                if status == 429:
                    self.send_header("Retry-After", "0")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def records(self) -> list[dict[str, Any]]:
        with self.lock:
            return [json.loads(body) for _, body in self.requests]

    def keys(self) -> Counter[tuple[str, int]]:
        return Counter((r["id"], r["version"]) for r in self.records())

    def stop(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@contextmanager
def receiver(behaviour: Any = None) -> Iterator[Receiver]:
    r = Receiver(behaviour)
    try:
        yield r
    finally:
        r.stop()


def wait_until(predicate: Any, timeout: float = 60.0, what: str = "condition") -> None:
    """Wait for a state (no timing is asserted: the timeout only bounds a broken run)."""
    import time

    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def newsdedup_cli(env: dict[str, str], *args: str, timeout: float = 120) -> Any:
    import subprocess
    import sys

    return subprocess.run(
        [sys.executable, "-m", "newsdedup", *args], env=env, capture_output=True, text=True, timeout=timeout
    )
