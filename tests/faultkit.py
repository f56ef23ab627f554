"""Fault injection for the outage tests and ``python -m bench.faults``.

``FaultRelay`` is a TCP relay the tests own, put between newsdedup and the real PostgreSQL or
Redis: ``cut()`` resets every open connection and refuses new ones (the listening socket is
closed, so a connect gets ECONNREFUSED), ``restore()`` listens again on the same port. From
the client's side that is what a server crash, a restart or a network partition with resets
looks like.

``build_sites`` writes a small web of news sites (feeds, distinct stories, syndicated copies)
for ``newsdedup.siteserver.serve_sites``; ``Cluster`` starts and SIGKILLs ``newsdedup worker``
processes; ``count_store`` counts what the store holds, per story.
"""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import struct
import subprocess
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from helpers import NEWSDEDUP
from sqlalchemy import create_engine, text
from sqlalchemy.exc import ProgrammingError

REPO = Path(__file__).resolve().parents[1]
_LINGER_RESET = struct.pack("ii", 1, 0)  # SO_LINGER on, 0 s: close() sends RST


class FaultRelay:
    """Relay ``127.0.0.1:<port>`` to ``target``; ``cut`` and ``restore`` at will."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self._lock = threading.Lock()
        self._connections: set[socket.socket] = set()
        self._listener: socket.socket | None = None
        self.port = 0
        self.cuts = 0
        self._listen()

    def url_for(self, url: str, port: int) -> str:
        """``url`` with ``:port`` (the real server's) replaced by this relay's port."""
        assert f":{port}" in url, url
        return url.replace(f":{port}", f":{self.port}", 1)

    def _listen(self) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(256)
        self.port = listener.getsockname()[1]
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # closed by cut()
            try:
                upstream = socket.create_connection(self.target, timeout=5)
                upstream.settimeout(None)
            except OSError:
                _reset(client)
                continue
            with self._lock:
                if self._listener is not listener:  # cut meanwhile
                    _reset(client)
                    _reset(upstream)
                    continue
                self._connections.update((client, upstream))
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            # One side ended: end both (a cut has reset them already).
            for sock in (source, sink):
                with self._lock:
                    known = sock in self._connections
                    self._connections.discard(sock)
                if known:
                    try:
                        sock.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass
                    sock.close()

    def cut(self) -> None:
        """Reset every connection and refuse new ones until ``restore``."""
        with self._lock:
            listener, self._listener = self._listener, None
            connections, self._connections = self._connections, set()
        if listener is None:
            return
        self.cuts += 1
        listener.close()
        for sock in connections:
            _reset(sock)

    def restore(self) -> None:
        with self._lock:
            if self._listener is not None:
                return
        # The port may linger in TIME_WAIT for a moment; SO_REUSEADDR covers it.
        deadline = time.monotonic() + 10
        while True:
            try:
                self._listen()
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def outage(self, seconds: float) -> threading.Thread:
        """Cut now and restore after ``seconds``, in a thread of its own."""
        self.cut()

        def later() -> None:
            time.sleep(seconds)
            self.restore()

        thread = threading.Thread(target=later, daemon=True)
        thread.start()
        return thread

    def close(self) -> None:
        self.cut()


def _reset(sock: socket.socket) -> None:
    """Close ``sock`` so that its peer gets a RST at once.

    A pump thread may be blocked in ``recv`` on it, which keeps the socket alive past a plain
    ``close()`` (no RST would be sent until that ``recv`` returns): ``shutdown(SHUT_RD)`` wakes
    it first, without sending anything to the peer."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RESET)
        sock.shutdown(socket.SHUT_RD)
    except OSError:
        pass
    sock.close()


# --- a web of news sites -------------------------------------------------------------------

_WORDS = [
    "harbor",
    "council",
    "budget",
    "ferry",
    "strike",
    "minister",
    "court",
    "ruling",
    "election",
    "storm",
    "flood",
    "bridge",
    "rail",
    "airport",
    "hospital",
    "school",
    "teachers",
    "union",
    "farmers",
    "drought",
    "river",
    "energy",
    "prices",
    "inflation",
    "bank",
    "market",
    "export",
    "factory",
    "workers",
    "police",
    "investigation",
    "museum",
    "festival",
    "season",
    "league",
    "coach",
    "stadium",
    "transit",
    "housing",
    "rent",
    "mayor",
    "governor",
    "senate",
    "bill",
    "vote",
    "protest",
    "climate",
    "coast",
    "fishing",
    "port",
    "shipping",
    "freight",
    "tariff",
    "trade",
    "talks",
    "summit",
    "treaty",
    "border",
    "customs",
    "tourism",
    "hotel",
    "record",
    "survey",
    "report",
    "study",
    "scientists",
    "vaccine",
    "clinic",
    "patients",
    "doctors",
    "nurses",
    "budget",
    "deficit",
    "audit",
    "contract",
    "tender",
    "construction",
    "tunnel",
    "highway",
    "district",
    "residents",
    "neighbours",
    "landlord",
    "tenants",
    "library",
    "archive",
    "university",
    "students",
    "campus",
    "research",
    "grant",
    "ministry",
    "agency",
    "regulator",
    "fine",
    "company",
    "shares",
    "profit",
    "quarter",
    "forecast",
    "analysts",
    "outlook",
    "demand",
    "supply",
    "shortage",
    "harvest",
    "wheat",
]


@dataclass(frozen=True)
class Story:
    key: str  # which story (stable across copies)
    title: str
    paragraphs: tuple[str, ...]


def make_story(rng: random.Random, n: int) -> Story:
    paragraphs = []
    for p in range(5):
        words = [rng.choice(_WORDS) for _ in range(34)]
        paragraphs.append(f"Story {n} paragraph {p}: " + " ".join(words).capitalize() + ".")
    return Story(
        f"story-{n}", f"Story {n}: " + " ".join(rng.choice(_WORDS) for _ in range(5)), tuple(paragraphs)
    )


def story_html(story: Story, site: str, copy_note: str = "") -> str:
    body = "\n".join(f"<p>{p}</p>" for p in story.paragraphs)
    note = f"<p class='credit'>{copy_note}</p>" if copy_note else ""
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>{story.title}</title><meta name="story" content="{story.key}"></head>
<body><header><nav><a href="/">{site} home</a></nav></header>
<main><article><h1>{story.title}</h1><p class="byline">By the {site} desk</p>
{body}
{note}</article></main><footer>Copyright {site}</footer></body></html>"""


Layout = dict[str, list[tuple[str, str]]]  # story -> [(site, path)]


def build_sites(root: Path, sites: int = 5, stories: int = 60, copies: int = 40, seed: int = 7) -> Layout:
    """Write ``sites`` sites under ``root`` (one RSS feed each, for ``serve_sites(root)``):
    ``stories`` distinct stories, each first published by one site, and ``copies`` syndicated
    copies of them on other sites. Returns where each story was published."""
    rng = random.Random(seed)
    names = [f"site{i}" for i in range(sites)]
    pages: dict[str, list[tuple[str, str]]] = {name: [] for name in names}  # site -> (path, html)
    layout: Layout = {}
    all_stories = [make_story(rng, n) for n in range(stories)]
    for n, story in enumerate(all_stories):
        site = names[n % sites]
        pages[site].append((f"/news/{story.key}.html", story_html(story, site)))
        layout.setdefault(story.key, []).append((site, f"/news/{story.key}.html"))
    for c in range(copies):
        story = all_stories[c % stories]
        origin = (c % stories) % sites
        site = names[(origin + 1 + c // stories) % sites]
        path = f"/wire/{story.key}-copy{c}.html"
        pages[site].append((path, story_html(story, site, f"This story first appeared on {names[origin]}.")))
        layout[story.key].append((site, path))
    for name in names:
        folder = root / name
        for path, html in pages[name]:
            target = folder / path.lstrip("/")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(html, encoding="utf-8")
        items = "\n".join(
            f"<item><title>{path}</title><link>{{{{base_url}}}}{path}</link></item>"
            for path, _ in pages[name]
        )
        (folder / "feed.xml").write_text(
            f"<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel><title>{name}</title>"
            f"<link>{{{{base_url}}}}/</link><description>{name}</description>{items}</channel></rss>",
            encoding="utf-8",
        )
    return layout


def slow_sites(root: Path, stories: int = 60, copies: int = 40, delay: float = 0.1) -> Layout:
    """``build_sites``, each article answering after ``delay`` seconds, so that a crawl lasts
    long enough for faults to land in the middle of it."""
    layout = build_sites(root, stories=stories, copies=copies)
    for site in root.iterdir():
        routes = {
            path: {"delay": delay} for places in layout.values() for name, path in places if name == site.name
        }
        (site / "_routes.json").write_text(json.dumps(routes), encoding="utf-8")
    return layout


def story_urls(layout: Layout, base_urls: dict[str, str]) -> dict[str, list[str]]:
    """Absolute URLs of each story, once the sites are served (``base_urls``: site -> base URL)."""
    return {story: [base_urls[site] + path for site, path in places] for story, places in layout.items()}


def write_sources(base_urls: dict[str, str], path: Path) -> Path:
    """A sources file with one source per site (its feed)."""
    lines = ["sources:"]
    for name, base in sorted(base_urls.items()):
        lines += [f"  - name: {name}", f"    feeds: [{base}/feed.xml]"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


# --- worker processes ----------------------------------------------------------------------


def start_worker(
    env: dict[str, str], node: str, log: IO[bytes], concurrency: int = 2, *options: str
) -> subprocess.Popen[bytes]:
    """``newsdedup worker`` named ``node`` (``name@%h``), in a process group of its own so that
    a SIGKILL of the group takes its pool processes too; its output goes to ``log``."""
    return subprocess.Popen(
        [*NEWSDEDUP, "worker", "--concurrency", str(concurrency), *options]
        + ["-n", node, "--without-mingle", "--without-gossip"],
        env=env,
        cwd=REPO,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


class Cluster:
    """``newsdedup worker`` processes, each in a process group of its own (SIGKILL kills all)."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env = env
        self.logs = logs
        self.workers: dict[str, subprocess.Popen[bytes]] = {}
        self._log_files: list[IO[bytes]] = []
        self.starts: Counter[str] = Counter()

    def start(self, name: str, concurrency: int = 1) -> None:
        self.starts[name] += 1
        log = open(self.logs / f"{name}.{self.starts[name]}.log", "wb")
        self._log_files.append(log)
        self.workers[name] = start_worker(self.env, f"{name}-{self.starts[name]}@%h", log, concurrency)

    def kill(self, name: str) -> None:
        """SIGKILL the worker and its pool processes (mid-page, lock held or not)."""
        process = self.workers[name]
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait()

    def stop(self) -> None:
        for name in list(self.workers):
            self.kill(name)
        for log in self._log_files:
            log.close()

    def log_tail(self, chars: int = 3000) -> str:
        parts = []
        for path in sorted(self.logs.glob("*.log")):
            parts.append(f"--- {path.name} ---\n{path.read_text(errors='replace')[-chars:]}")
        return "\n".join(parts)


@dataclass(frozen=True)
class StoreCount:
    articles: int
    urls: int
    stories_stored: int  # distinct stories with at least one article
    split_stories: int  # stories spread over more than one article
    mixed_articles: int  # articles holding URLs of more than one story
    missing_urls: int  # URLs of the web the store does not hold


def count_store(database_url: str, urls_by_story: dict[str, list[str]]) -> StoreCount:
    """Count what the store holds against what the web published."""
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            articles = conn.execute(text("SELECT count(*) FROM articles")).scalar_one()
            rows = conn.execute(text("SELECT url, article_id FROM urls")).all()
    except ProgrammingError:  # no tables: nothing was ever stored
        articles, rows = 0, []
    finally:
        engine.dispose()
    article_of = dict(rows)
    story_of = {url: story for story, urls in urls_by_story.items() for url in urls}
    articles_by_story: dict[str, set[str]] = {}
    stories_by_article: dict[str, set[str]] = {}
    missing = 0
    for url, story in story_of.items():
        article = article_of.get(url)
        if article is None:
            missing += 1
            continue
        articles_by_story.setdefault(story, set()).add(article)
        stories_by_article.setdefault(article, set()).add(story)
    return StoreCount(
        articles=int(articles),
        urls=len(rows),
        stories_stored=len(articles_by_story),
        split_stories=sum(1 for a in articles_by_story.values() if len(a) > 1),
        mixed_articles=sum(1 for s in stories_by_article.values() if len(s) > 1),
        missing_urls=missing,
    )
