"""Pages per second end to end (crawl → extract → dedup → store), beside trafilatura alone.

    python -m bench.throughput [--data DIR] [--limit N] [--quick] [--repeat R]
                               [--distributed | --no-distributed]
    python -m bench.throughput --profile [--quick | --limit N]
    python -m bench.throughput --load N [--quick | --limit N] [--repeat R]
    python -m bench.throughput --against VENV [--repeat R] [--sites N]
    python -m bench.throughput --with-mediacloud [...]   # 457 pages: the Media Cloud pages too

The pages are real: ``news-pages-fundus/*/*.html.gz``, decoded once and written as UTF-8 into
a temporary site with a sitemap listing them, served by ``newsdedup.siteserver.SiteServer`` on
loopback. Measured in the same run, on the same decoded pages:

- baseline: ``trafilatura.extract(html, url=..., with_metadata=True)`` on each page, in this
  process, one after the other (one core);
- end to end: ``newsdedup.crawl.run_embedded_crawl`` in a child process (Scrapy's reactor cannot
  restart; the site is served from the parent, as in the distributed run), SQLite in a temporary folder, download delay 0 and AutoThrottle off (a loopback
  server has no latency to adapt to). Two rates: over the whole call (Scrapy start-up and the
  sitemap included) and over the pages alone (first page stored → last page stored). With the
  default settings (extraction in one process per core, ``pipeline.extraction_pool``), and again
  with ``extract_processes=1`` (everything in the crawling process: one core);
- embedded as a command: ``newsdedup crawl`` (the console script) run from a temporary folder
  holding ``config/sources.yaml``, with the default store and archive, timed whole; once with
  the overrides above on the one site, once with every setting a user's default (AutoThrottle,
  robots.txt, retries, 4 requests per site at a time) on the pages spread over ``--sites``
  sites (8), each on its own loopback address;
- distributed (``--distributed``; by default when Redis at 127.0.0.1:6379 and PostgreSQL at
  127.0.0.1:5432 answer, skipped otherwise): a temporary PostgreSQL database, Redis db 8
  (FLUSHDB before and after), two ``newsdedup worker --concurrency N`` processes (N = 1, or
  ``--worker-concurrency``) started and answering before the clock starts, then
  ``python -m newsdedup crawl`` timed as a command (interpreter start-up, Scrapy start-up,
  sitemap, and the wait until every page is processed); a fresh database and a fresh pair of
  workers for every repetition;
- stages: ``PagePipeline.process`` cut into its steps and timed in this process on the same
  pages (extract, fingerprint, index query + store candidate lookups, decide, store.apply +
  index.add), to show where the time goes.

``--profile``: no rates; one embedded crawl with the default pool and one without, each timed
stage by stage in CPU time (``bench/crawl_profile.py``): the crawling thread (Scrapy, the sink,
the pool's hand-over, commit and its statements, the seq, stories, source health, the archive),
the process's other threads, the extraction processes, and the wall time pages wait and why.
Results: ``bench/results/throughput_profile.json``.

``--load N``: no distributed run; embedded crawls with the pool and without, each quiet and
while N other processes keep a core busy each (a busy loop: another job on the machine), with
trafilatura alone under the same conditions, interleaved; prints each rate, busy ÷ quiet, and
pool ÷ no pool in both. Results: ``bench/results/throughput_load.json``.

``--against VENV``: an A/B of a change as users meet it. ``newsdedup crawl`` of this install
and of VENV's (a venv with another commit installed, in a checkout of its own), whole commands
alternated over ``--repeat`` rounds (which side goes first swaps each round), each round with
its own trafilatura alone: one site with the overrides above, and ``--sites`` sites with a
user's defaults. Results: ``bench/results/throughput_against.json``.

Goal: end to end ≥ 0.90 × trafilatura alone (pages per second). Results:
``bench/results/throughput.json``.
"""

from __future__ import annotations

import gzip
import multiprocessing
import os
import re
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator
from contextlib import ExitStack, closing, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import trafilatura
from trafilatura.utils import decode_file

from bench.common import (
    REPO,
    clean_environment,
    data_argument_parser,
    print_table,
    require_dataset,
    write_results,
)
from bench.cpu_time import CpuSampler
from newsdedup.pipeline.forkserver import extraction_processes

GOAL = 0.90
REDIS_URL = "redis://127.0.0.1:6379/8"  # db 8: FLUSHDB before and after, never FLUSHALL
POSTGRES_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
WORKERS = ("b1", "b2")


@dataclass(frozen=True)
class SitePage:
    path: str  # path on the site, e.g. "/de/Welt_2024_03_01.html"
    html: str  # decoded text (written as UTF-8)


def load_pages(folder: Path, limit: int) -> list[SitePage]:
    pages: list[SitePage] = []
    for file in sorted(folder.glob("*/*.html.gz")):
        html = decode_file(gzip.decompress(file.read_bytes()))
        name = file.name.removesuffix(".gz")
        pages.append(SitePage(f"/{file.parent.name}/{name}", html))
        if limit and len(pages) >= limit:
            break
    return pages


def load_mediacloud_pages(folder: Path) -> list[SitePage]:
    """The pages of ``dates-mediacloud`` beside ``folder`` (``news-pages-fundus``), without the
    ones the crawler refuses as an anti-bot challenge (one, a real Imperva page: served among
    the others it would slow its host to the blocked sites' back-off for the rest of the crawl,
    as it should, and measure that instead of the pages); empty when the set is absent."""
    from newsdedup.crawler.blocking import challenge_vendor  # deferred: only this option needs it

    pages: list[SitePage] = []
    for file in sorted((folder.parent / "dates-mediacloud" / "pages").glob("*.html.gz")):
        body = gzip.decompress(file.read_bytes())
        if challenge_vendor(200, {"content-type": "text/html"}, body) is not None:
            continue
        pages.append(SitePage(f"/mediacloud/{file.name.removesuffix('.gz')}", decode_file(body)))
    return pages


def bench_pages(args: Any, folder: Path, limit: int) -> list[SitePage]:
    """The Fundus pages, and with ``--with-mediacloud`` the Media Cloud pages after them."""
    pages = load_pages(folder, limit)
    if args.with_mediacloud:
        pages += load_mediacloud_pages(folder)
    return pages


def write_site(root: Path, pages: list[SitePage]) -> None:
    for page in pages:
        target = root / page.path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        # The site server sends .html as UTF-8; templating only touches "{{base_url}}".
        target.write_text(page.html, encoding="utf-8")
    urls = "\n".join(f"  <url><loc>{{{{base_url}}}}{escape(p.path)}</loc></url>" for p in pages)
    (root / "sitemap.xml").write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n{urls}\n</urlset>\n',
        encoding="utf-8",
    )


# --- baseline ---------------------------------------------------------------------------


def time_trafilatura(pages: list[SitePage], base_url: str) -> float:
    started = time.perf_counter()
    for page in pages:
        trafilatura.extract(page.html, url=base_url + page.path, with_metadata=True)
    return time.perf_counter() - started


# --- end to end, in a child process -----------------------------------------------------


def _crawl_child(
    sitemap_url: str,
    host: str,
    workdir: str,
    pages: int,
    processes: int,
    queue: multiprocessing.Queue[Any],
    profile: bool = False,
) -> None:
    from bench import crawl_profile

    if profile:
        crawl_profile.install()
    from newsdedup.config import Settings
    from newsdedup.config.sources import Source
    from newsdedup.crawl import run_embedded_crawl

    stamps: list[float] = []
    settings = Settings(
        database_url=f"sqlite:///{workdir}/bench.db",
        download_delay=0.0,
        autothrottle=False,
        obey_robots=False,
        retry_times=0,
        concurrent_requests_per_domain=8,
        extract_processes=processes,
        allow_private_addresses=True,
    )
    source = Source(name="bench", sitemaps=(sitemap_url,), allowed_domains=(host,), max_pages=pages + 10)
    started = time.perf_counter()
    summary = run_embedded_crawl(
        settings, [source], "bench", on_page_outcome=lambda _: stamps.append(time.perf_counter())
    )
    elapsed = time.perf_counter() - started
    queue.put(
        {
            "elapsed": elapsed,
            "first_page": (stamps[0] - started) if stamps else None,
            "pages_span": (stamps[-1] - stamps[0]) if len(stamps) > 1 else None,
            "outcomes": len(stamps),
            "summary": summary.as_dict(),
            "profile": crawl_profile.report() if profile else None,
        }
    )


def time_end_to_end(site_root: Path, pages: int, processes: int = 0, profile: bool = False) -> dict[str, Any]:
    """``processes``: the extract_processes setting (0: the default, one per core). The site is
    served from this process, as the distributed run's is: the crawl shares no GIL with it."""
    from newsdedup.siteserver import SiteServer

    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    with tempfile.TemporaryDirectory(prefix="bench-e2e-") as workdir, SiteServer(site_root) as server:
        child = context.Process(
            target=_crawl_child,
            args=(server.url("/sitemap.xml"), server.host, workdir, pages, processes, queue, profile),
        )
        child.start()
        result = queue.get(timeout=1800)
        child.join(timeout=60)
    if child.exitcode not in (0, None):
        raise RuntimeError(f"the crawl child exited with {child.exitcode}")
    return result


# What every timed run overrides of a user's settings: no AutoThrottle or download delay (a
# loopback server has no latency to adapt to), no robots.txt, no retries, 8 requests per site.
BENCH_OVERRIDES = {
    "NEWSDEDUP_AUTOTHROTTLE": "false",
    "NEWSDEDUP_DOWNLOAD_DELAY": "0",
    "NEWSDEDUP_OBEY_ROBOTS": "false",
    "NEWSDEDUP_RETRY_TIMES": "0",
    "NEWSDEDUP_CONCURRENT_REQUESTS_PER_DOMAIN": "8",
}
SUMMARY_LINE = re.compile(r"(\d+) pages fetched, .* (\d+) errors")


def write_sources(path: Path, sites: list[Any], pages: int) -> None:
    """A sources file with one source per served site (its sitemap, its host only)."""
    path.write_text(
        "sources:\n"
        + "".join(
            f"  - name: bench{i}\n"
            f'    sitemaps: ["{site.url("/sitemap.xml")}"]\n'
            f'    allowed_domains: ["{site.host}"]\n'
            f"    max_pages: {pages + 10}\n"
            for i, site in enumerate(sites)
        ),
        encoding="utf-8",
    )


def crawl_summary(result: subprocess.CompletedProcess[str]) -> tuple[int, int, str]:
    """(outcomes, errors, the summary line) of a finished ``newsdedup crawl``; stops the
    benchmark when it failed."""
    if result.returncode != 0:
        raise RuntimeError(f"newsdedup crawl exited with {result.returncode}: {result.stderr[-3000:]}")
    line = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""
    match = SUMMARY_LINE.search(line)
    if match is None:
        raise RuntimeError(f"no summary line in the crawl's output: {result.stdout!r}")
    return int(match.group(1)), int(match.group(2)), line


def time_embedded_command(
    site_roots: list[Path], pages: int, user_defaults: bool = False, venv: Path | None = None
) -> dict[str, Any]:
    """``newsdedup crawl`` as a user runs it: the console script, embedded mode with its default
    store (a new SQLite file) and archive, run from a folder of its own that holds
    ``config/sources.yaml``; timed as a whole command (interpreter start-up included). One
    source per site, each site served on its own loopback address. ``user_defaults``: every
    setting as a user gets it (AutoThrottle, robots.txt, retries, 4 requests per site at a
    time); otherwise the overrides of the other runs. ``venv``: the console script of another
    install (``--against``); default this one's."""
    from newsdedup.siteserver import SiteServer

    with tempfile.TemporaryDirectory(prefix="bench-command-") as workdir, ExitStack() as servers:
        sites = [
            servers.enter_context(SiteServer(root, host=f"127.0.0.{2 + i}"))
            for i, root in enumerate(site_roots)
        ]
        work = Path(workdir)
        (work / "config").mkdir()
        write_sources(work / "config" / "sources.yaml", sites, pages)
        env = clean_environment()
        env.update(NEWSDEDUP_ALLOW_PRIVATE_ADDRESSES="1")
        if not user_defaults:
            env.update(BENCH_OVERRIDES)
        script = (
            venv / "bin" / "newsdedup" if venv is not None else Path(sys.executable).with_name("newsdedup")
        )
        command = [str(script), "crawl"]
        group: list[int] = []
        wall_started = time.time()
        # The command's own CPU from the kernel once it is reaped; its forkserver and extraction
        # processes (its process group, not reaped by it) from samples, each until the last
        # sample before it ended (at its end an extraction process is idle).
        children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
        with CpuSampler(
            lambda pid, ppid, pgid, comm: "descendants" if pgid in group and pid not in group else None, 0.2
        ) as cpu:
            started = time.perf_counter()
            crawl = subprocess.Popen(
                command,
                env=env,
                cwd=work,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                start_new_session=True,
            )
            group.append(crawl.pid)
            stdout, stderr = crawl.communicate(timeout=1800)
            elapsed = time.perf_counter() - started
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        own_cpu = (children.ru_utime + children.ru_stime) - (
            children_before.ru_utime + children_before.ru_stime
        )
        result = subprocess.CompletedProcess(command, crawl.returncode, stdout, stderr)
        first_stored, last_stored, stored = _articles_stored(work / "data" / "newsdedup.db")
    outcomes, errors, line = crawl_summary(result)
    return {
        "elapsed": elapsed,
        "outcomes": outcomes,
        "errors": errors,
        "summary": line,
        "cpu_s": own_cpu + cpu.seconds().get("descendants", 0.0),
        # The command's start-up apart from its pace: when its first article was stored, and
        # its rate from the first article stored to the last.
        "first_page": (first_stored - wall_started) if first_stored else None,
        "pages_span": (last_stored - first_stored) if stored > 1 else None,
        "stored": stored,
    }


def _articles_stored(database: Path) -> tuple[float | None, float | None, int]:
    """(first, last) creation time of the store's articles as Unix times, and their number."""
    import sqlite3  # deferred: only the command's runs read their store

    if not database.exists():
        return None, None, 0
    with closing(sqlite3.connect(database)) as connection:
        first, last, count = connection.execute(
            "SELECT min(created_at), max(created_at), count(*) FROM articles"
        ).fetchone()
    if not count:
        return None, None, 0
    # SQLite holds them as naive UTC text (store.models.UTCDateTime)
    return _utc_seconds(first), _utc_seconds(last), int(count)


def _utc_seconds(stored: str) -> float:
    return datetime.fromisoformat(stored).replace(tzinfo=UTC).timestamp()


def command_result(runs: list[dict[str, Any]], base_rate: float) -> dict[str, Any]:
    """The best of a command's timed runs, with its rate beside trafilatura's."""
    best = min(runs, key=lambda r: r["elapsed"])
    rate = best["outcomes"] / best["elapsed"]
    # First → last article stored, best of the runs too (the one that was quickest whole may
    # not be): the command's pace without its start-up and its end.
    spans = [r for r in runs if r.get("pages_span")]
    paced = max(spans, key=lambda r: (r["stored"] - 1) / r["pages_span"], default=None)
    steady = (paced["stored"] - 1) / paced["pages_span"] if paced else None
    return {
        "outcomes": best["outcomes"],
        "seconds": best["elapsed"],
        "pages_per_s": rate,
        "ratio": rate / base_rate,
        "runs_s": [r["elapsed"] for r in runs],
        "summary": best["summary"],
        "first_page_after_s": best.get("first_page"),
        "stored": paced["stored"] if paced else None,
        "pages_span_s": paced["pages_span"] if paced else None,
        "steady_pages_per_s": steady,
        "steady_ratio": (steady / base_rate) if steady else None,
    }


def command_steady_row(label: str, result: dict[str, Any]) -> tuple[Any, ...]:
    steady = result["steady_pages_per_s"]
    first = result["first_page_after_s"]
    return (
        label + (f" (the first after {first:.2f} s)" if first is not None else ""),
        result["stored"],
        result["pages_span_s"],
        steady,
        result["steady_ratio"],
    )


# --- distributed: two workers, PostgreSQL, Redis db 8 -----------------------------------


def distributed_unavailable() -> str | None:
    """Why distributed mode cannot run here, or None when Redis and PostgreSQL both answer."""
    try:
        import redis

        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2, socket_timeout=2).ping()
    except Exception as exc:  # noqa: BLE001 - any failure means "not here"
        return f"Redis at {REDIS_URL} does not answer ({exc.__class__.__name__}: {exc})"
    try:
        import psycopg

        psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True, connect_timeout=3).close()
    except Exception as exc:  # noqa: BLE001
        return f"PostgreSQL at {POSTGRES_ADMIN_URL} does not answer ({exc.__class__.__name__}: {exc})"
    return None


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pass


def _wait_ready(
    settings: Any, names: tuple[str, ...], processes: list[subprocess.Popen[bytes]], timeout: float = 90
) -> None:
    from newsdedup.workers.app import create_celery_app

    app = create_celery_app(settings)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(p.poll() is not None for p in processes):
            raise RuntimeError("a worker exited before answering")
        replies = app.control.ping(timeout=0.5) or []
        seen = {name.split("@")[0] for reply in replies for name in reply}
        if set(names) <= seen:
            return
    raise RuntimeError(f"workers {names} did not answer within {timeout:.0f}s")


def time_distributed(site_root: Path, pages: int, concurrency: int = 1) -> dict[str, Any]:
    """One distributed crawl of the site: fresh database, Redis db 8, two fresh workers of
    ``concurrency`` pool processes each."""
    import psycopg
    import redis

    from newsdedup.config import Settings
    from newsdedup.siteserver import SiteServer
    from newsdedup.store import Store

    database = f"bench_throughput_{uuid.uuid4().hex[:12]}"
    database_url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{database}"
    client = redis.Redis.from_url(REDIS_URL)
    admin = psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True)
    processes: list[subprocess.Popen[bytes]] = []
    created = False
    with tempfile.TemporaryDirectory(prefix="bench-dist-") as workdir, SiteServer(site_root) as server:
        work = Path(workdir)
        try:
            client.flushdb()
            admin.execute(f'CREATE DATABASE "{database}"')
            created = True
            Store.open(database_url).close()  # every migration, before the clock starts
            sources_file = work / "sources.yaml"
            write_sources(sources_file, [server], pages)
            env = clean_environment()
            env.update(
                NEWSDEDUP_REDIS_URL=REDIS_URL,
                NEWSDEDUP_DATABASE_URL=database_url,
                NEWSDEDUP_CONFIG=str(sources_file),
                NEWSDEDUP_ALLOW_PRIVATE_ADDRESSES="1",
                **BENCH_OVERRIDES,
                PYTHONUNBUFFERED="1",
            )
            for name in WORKERS:
                log = open(work / f"{name}.log", "wb")
                processes.append(
                    subprocess.Popen(
                        [
                            sys.executable,
                            "-m",
                            "newsdedup",
                            "worker",
                            "--concurrency",
                            str(concurrency),
                            "-n",
                            f"{name}@%h",
                            "--without-mingle",
                            "--without-gossip",
                        ],
                        env=env,
                        cwd=REPO,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                    )
                )
                log.close()
            _wait_ready(Settings(redis_url=REDIS_URL, database_url=database_url), WORKERS, processes)
            worker_groups = {process.pid for process in processes}
            crawl_pids: set[int] = set()
            bench_pid = os.getpid()

            def classify(pid: int, ppid: int, pgid: int, comm: str) -> str | None:
                if pgid in worker_groups:
                    # The Celery worker's main process reads the queue and hands tasks to
                    # its pool process, which runs them.
                    return "workers: main processes" if pid in worker_groups else "workers: pool processes"
                if pid in crawl_pids or ppid in crawl_pids:
                    return "crawl command"
                if comm == "postgres":
                    return "PostgreSQL"
                if comm.startswith("redis-server"):
                    return "Redis"
                if pid == bench_pid:
                    return "site server (this process)"
                return None

            with CpuSampler(classify) as cpu:
                wall_started = time.time()
                started = time.perf_counter()
                crawl = subprocess.Popen(
                    [sys.executable, "-m", "newsdedup", "crawl"],
                    env=env,
                    cwd=REPO,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                )
                crawl_pids.add(crawl.pid)
                stdout, stderr = crawl.communicate(timeout=1800)
                elapsed = time.perf_counter() - started
            outcomes, errors, line = crawl_summary(
                subprocess.CompletedProcess(crawl.args, crawl.returncode, stdout, stderr)
            )
            # The workers' own stamps: first page staged by the crawl, first and last page done.
            with psycopg.connect(f"postgresql://postgres@127.0.0.1:5432/{database}") as conn:
                first_staged, first_done, last_done, done = conn.execute(
                    "SELECT min(created_at), min(updated_at) FILTER (WHERE state = 'done'), "
                    "max(updated_at) FILTER (WHERE state = 'done'), count(*) FILTER (WHERE state = 'done') "
                    "FROM staged_pages"
                ).fetchone()
            span = (last_done - first_done).total_seconds() if done > 1 else None
            return {
                "elapsed": elapsed,
                "outcomes": outcomes,
                "errors": errors,
                "summary": line,
                "done": done,
                "pages_span": span,
                "cpu_s": cpu.seconds(),
                "first_staged": (first_staged.timestamp() - wall_started) if first_staged else None,
                "first_done": (first_done.timestamp() - wall_started) if first_done else None,
            }
        except Exception:
            for name in WORKERS:
                if (work / f"{name}.log").exists():
                    tail = (work / f"{name}.log").read_text(errors="replace")[-3000:]
                    sys.stderr.write(f"--- worker {name} (log tail) ---\n{tail}\n")
            raise
        finally:
            for process in processes:
                _kill_group(process)
            try:
                client.flushdb()
            finally:
                client.close()
                try:
                    if created:
                        admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
                finally:
                    admin.close()


# --- stages, in this process ------------------------------------------------------------

STAGES = ("extract", "fingerprint", "candidates", "decide", "store+index add")


def time_stages(pages: list[SitePage], base_url: str) -> tuple[dict[str, float], dict[str, int]]:
    """PagePipeline.process cut into its steps, each timed (seconds summed over the pages)."""
    from newsdedup.config import Settings
    from newsdedup.dedup import PageFacts, decide, fingerprint
    from newsdedup.extract import Rejection, extract_document
    from newsdedup.fetched.page import Page
    from newsdedup.pipeline.services import open_embedded_pipeline

    totals = dict.fromkeys(STAGES, 0.0)
    counts: dict[str, int] = {}
    with tempfile.TemporaryDirectory(prefix="bench-stages-") as workdir:
        settings = Settings(database_url=f"sqlite:///{workdir}/bench.db")
        pipeline = open_embedded_pipeline(settings)
        try:
            for site_page in pages:
                url = base_url + site_page.path
                page = Page(
                    url,
                    url,
                    200,
                    {"content-type": "text/html; charset=utf-8"},
                    site_page.html,
                    datetime.now(UTC),
                    "bench",
                    "bench",
                )
                t0 = time.perf_counter()
                document = extract_document(
                    page.html, page.final_url, min_words=pipeline.min_words, hints=page.hints
                )
                t1 = time.perf_counter()
                totals["extract"] += t1 - t0
                if isinstance(document, Rejection):
                    pipeline.store.record_rejection(page, document.reason, document.detail)
                    counts["rejected"] = counts.get("rejected", 0) + 1
                    continue
                fp = fingerprint(document.text, pipeline.params)
                t2 = time.perf_counter()
                facts = PageFacts(url=document.url, canonical_url=document.canonical_url, source=page.source)
                candidates = pipeline.store.candidates_for_url(document.url, document.canonical_url)
                candidates += pipeline.store.candidates_by_keys(pipeline.index.query(fp))
                t3 = time.perf_counter()
                decision = decide(facts, fp, candidates, pipeline.params)
                t4 = time.perf_counter()
                applied = pipeline.store.apply(decision, page, document, fp)  # + validators
                if applied.index_key:
                    pipeline.index.add(applied.index_key, fp)
                t5 = time.perf_counter()
                totals["fingerprint"] += t2 - t1
                totals["candidates"] += t3 - t2
                totals["decide"] += t4 - t3
                totals["store+index add"] += t5 - t4
                counts[decision.kind] = counts.get(decision.kind, 0) + 1
        finally:
            pipeline.store.close()
    return totals, counts


def main(argv: list[str] | None = None) -> int:
    parser = data_argument_parser(__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="60 pages, one repetition (≈ 30 s)")
    parser.add_argument(
        "--repeat",
        type=int,
        default=2,
        help="repetitions of baseline and crawl; the best of each counts (default 2)",
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--distributed",
        dest="distributed",
        action="store_true",
        default=None,
        help="also measure distributed mode with two workers (fails if Redis or "
        "PostgreSQL on 127.0.0.1 does not answer); default: when both answer",
    )
    mode.add_argument(
        "--no-distributed", dest="distributed", action="store_false", help="skip distributed mode"
    )
    parser.add_argument(
        "--sites",
        type=int,
        default=8,
        metavar="N",
        help="also time `newsdedup crawl` with every setting a user's default, the pages spread "
        "over N loopback sites (default 8; 1: skip)",
    )
    parser.add_argument(
        "--with-mediacloud",
        action="store_true",
        help="also the 199 pages of dates-mediacloud (its challenge page left out): 457 pages, "
        "the scale of an outside check's run",
    )
    parser.add_argument(
        "--worker-concurrency",
        type=int,
        default=1,
        metavar="N",
        help="pool processes of each of the two distributed workers (default 1; Celery's own "
        "default is one per core)",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="instead of the rates: where the embedded crawl's CPU goes per page (crawling process, "
        "its threads, the extraction processes) and why pages wait, with the pool and without",
    )
    parser.add_argument(
        "--load",
        type=int,
        default=0,
        metavar="N",
        help="instead of the rates: embedded crawls with the pool and without, quiet and while N "
        "other processes keep a core busy each, with trafilatura alone under the same load",
    )
    parser.add_argument(
        "--against",
        type=Path,
        metavar="VENV",
        help="instead of the rates: `newsdedup crawl` of this install and of another one (a venv "
        "holding another commit, e.g. the one before a change), alternated --repeat times with "
        "trafilatura alone each round: one site with this bench's overrides, and --sites sites "
        "with a user's defaults",
    )
    args = parser.parse_args(argv)
    if args.profile:
        return profile_main(args)
    if args.load:
        return load_main(args)
    if args.against:
        return against_main(args)
    distributed = args.distributed is not False
    if distributed:
        reason = distributed_unavailable()
        if reason is not None:
            if args.distributed:
                print(f"--distributed: {reason}", file=sys.stderr)
                return 1
            print(f"distributed mode skipped: {reason}", file=sys.stderr)
            distributed = False
    folder = require_dataset(args.data, "news-pages-fundus")
    if folder is None:
        return 0
    limit = args.limit or (60 if args.quick else 0)
    repeat = 1 if args.quick else max(1, args.repeat)
    pages = bench_pages(args, folder, limit)
    n = len(pages)
    print(
        f"{n} pages, {sum(len(p.html) for p in pages) / 1e6:.1f} M characters; repeat {repeat}",
        file=sys.stderr,
    )

    with tempfile.TemporaryDirectory(prefix="bench-site-") as root:
        write_site(Path(root), pages)
        base_url = "http://127.0.0.1:8000"  # the baseline and stages only need URL-shaped strings
        # Warm up trafilatura's lazy imports and caches so the first timing is not penalised.
        time_trafilatura(pages[:3], base_url)
        baseline_runs, crawl_runs, one_core_runs, command_runs, sites_runs, dist_runs = [], [], [], [], [], []
        # The same pages spread over --sites sites (every --sites-th page on each), for the
        # command with a user's defaults.
        site_roots: list[Path] = []
        for i in range(args.sites if args.sites > 1 else 0):
            site_roots.append(Path(root) / f"site{i}")
            site_roots[-1].mkdir()
            write_site(site_roots[-1], pages[i :: args.sites])
        for _ in range(repeat):  # interleaved, so that a change of load hits every side
            baseline_runs.append(time_trafilatura(pages, base_url))
            crawl_runs.append(time_end_to_end(Path(root), n))
            one_core_runs.append(time_end_to_end(Path(root), n, processes=1))
            command_runs.append(time_embedded_command([Path(root)], n))
            if site_roots:
                sites_runs.append(time_embedded_command(site_roots, n, user_defaults=True))
            if distributed:
                dist_runs.append(time_distributed(Path(root), n, args.worker_concurrency))
        stage_totals, decisions = time_stages(pages, base_url)

    baseline = min(baseline_runs)
    crawl = min(crawl_runs, key=lambda r: r["elapsed"])
    one_core = min(one_core_runs, key=lambda r: r["elapsed"])
    one_core_rate = one_core["outcomes"] / one_core["elapsed"]
    one_core_span = one_core["pages_span"]
    one_core_steady = (one_core["outcomes"] - 1) / one_core_span if one_core_span else None
    base_rate = n / baseline
    e2e_rate = crawl["outcomes"] / crawl["elapsed"]
    span = crawl["pages_span"]
    steady_rate = (crawl["outcomes"] - 1) / span if span else None
    stage_sum = sum(stage_totals.values())

    processes = extraction_processes(0)
    rows = [
        ("trafilatura.extract (with_metadata), in process", n, baseline, base_rate, 1.0),
        (
            f"end to end: run_embedded_crawl, whole call ({processes} extraction processes)",
            crawl["outcomes"],
            crawl["elapsed"],
            e2e_rate,
            e2e_rate / base_rate,
        ),
        (
            "end to end: first → last page stored",
            crawl["outcomes"],
            span,
            steady_rate,
            (steady_rate / base_rate) if steady_rate else None,
        ),
        (
            "end to end, extracting in the crawling process (NEWSDEDUP_EXTRACT_PROCESSES=1)",
            one_core["outcomes"],
            one_core["elapsed"],
            one_core_rate,
            one_core_rate / base_rate,
        ),
        (
            "end to end, extracting in the crawling process: first → last page stored",
            one_core["outcomes"],
            one_core_span,
            one_core_steady,
            (one_core_steady / base_rate) if one_core_steady else None,
        ),
    ]
    command = command_result(command_runs, base_rate)
    rows.append(
        (
            "embedded, `newsdedup crawl` whole command (a user's folder, default store)",
            command["outcomes"],
            command["seconds"],
            command["pages_per_s"],
            command["ratio"],
        )
    )
    rows.append(command_steady_row("embedded, `newsdedup crawl`: first → last article stored", command))
    sites_command = command_result(sites_runs, base_rate) if sites_runs else None
    if sites_command is not None:
        sites_command["sites"] = args.sites
        rows.append(
            (
                f"embedded, `newsdedup crawl` whole command, {args.sites} sites, every setting a user's default",
                sites_command["outcomes"],
                sites_command["seconds"],
                sites_command["pages_per_s"],
                sites_command["ratio"],
            )
        )
        rows.append(
            command_steady_row(
                f"embedded, {args.sites} sites, a user's defaults: first → last article stored", sites_command
            )
        )
    dist = min(dist_runs, key=lambda r: r["elapsed"]) if dist_runs else None
    dist_rate = dist["outcomes"] / dist["elapsed"] if dist else None
    dist_steady = None
    if dist is not None:
        rows.append(
            (
                f"distributed, 2 workers × {args.worker_concurrency}: newsdedup crawl, whole command",
                dist["outcomes"],
                dist["elapsed"],
                dist_rate,
                dist_rate / base_rate,
            )
        )
        dist_steady = (dist["done"] - 1) / dist["pages_span"] if dist["pages_span"] else None
        rows.append(
            (
                "distributed: first → last page done (workers' stamps)",
                dist["done"],
                dist["pages_span"],
                dist_steady,
                (dist_steady / base_rate) if dist_steady else None,
            )
        )
    rows.append(
        ("pipeline stages in process (sum below)", n, stage_sum, n / stage_sum, (n / stage_sum) / base_rate)
    )
    print()
    print_table(["what", "pages", "seconds", "pages/s", "× trafilatura"], rows)
    print(
        f"\ngoal: end to end ≥ {GOAL:.2f} × trafilatura alone → whole call "
        f"{'met' if e2e_rate / base_rate >= GOAL else 'MISSED'} ({e2e_rate / base_rate:.2f}); "
        f"Scrapy start-up and sitemap before the first page: {crawl['first_page']:.2f} s"
    )
    if dist is not None:
        print(
            f"goal, distributed with two workers → whole command "
            f"{'met' if dist_rate / base_rate >= GOAL else 'MISSED'} ({dist_rate / base_rate:.2f}); "
            f"{dist['summary']}; first page staged after {dist['first_staged']:.2f} s, "
            f"first done after {dist['first_done']:.2f} s"
        )
        if dist["cpu_s"]:
            print()
            cores = os.cpu_count() or 1
            print_table(
                ["distributed: CPU time during the command", "seconds", "ms/page", f"share of {cores} cores"],
                [
                    (group, t, 1000 * t / n, f"{t / (dist['elapsed'] * cores):.1%}")
                    for group, t in sorted(dist["cpu_s"].items(), key=lambda item: -item[1])
                ],
            )
    else:
        print("distributed mode: not measured")
    print()
    print_table(
        ["stage", "seconds", "ms/page", "share"],
        [(name, t, 1000 * t / n, f"{t / stage_sum:.1%}") for name, t in stage_totals.items()],
    )
    print(f"\ncrawl outcomes: {crawl['summary']}; stage run decisions: {decisions}")
    pool_gain = e2e_rate / one_core_rate
    steady_gain = (steady_rate / one_core_steady) if steady_rate and one_core_steady else None
    print(
        f"the pool over no pool: {pool_gain:.2f} × whole call"
        + (f", {steady_gain:.2f} × first → last page" if steady_gain else "")
    )

    write_results(
        "throughput",
        {
            "pages": n,
            "characters": sum(len(p.html) for p in pages),
            "repeat": repeat,
            "goal_ratio": GOAL,
            "baseline_trafilatura": {"seconds": baseline, "pages_per_s": base_rate, "runs": baseline_runs},
            "end_to_end": {
                "seconds": crawl["elapsed"],
                "pages_per_s": e2e_rate,
                "ratio": e2e_rate / base_rate,
                "first_page_after_s": crawl["first_page"],
                "pages_span_s": span,
                "steady_pages_per_s": steady_rate,
                "steady_ratio": (steady_rate / base_rate) if steady_rate else None,
                "runs_s": [r["elapsed"] for r in crawl_runs],
                "summary": crawl["summary"],
                "extraction_processes": processes,
            },
            "end_to_end_one_process": {
                "seconds": one_core["elapsed"],
                "pages_per_s": one_core_rate,
                "ratio": one_core_rate / base_rate,
                "runs_s": [r["elapsed"] for r in one_core_runs],
                "pages_span_s": one_core_span,
                "steady_pages_per_s": one_core_steady,
                "steady_ratio": (one_core_steady / base_rate) if one_core_steady else None,
                "pool_gain_whole": pool_gain,
                "pool_gain_steady": steady_gain,
            },
            "embedded_command": command,
            "embedded_command_sites": sites_command,
            "distributed": None
            if dist is None
            else {
                "workers": len(WORKERS),
                "concurrency_per_worker": args.worker_concurrency,
                "seconds": dist["elapsed"],
                "pages_per_s": dist_rate,
                "ratio": dist_rate / base_rate,
                "goal_met": dist_rate / base_rate >= GOAL,
                "first_page_staged_after_s": dist["first_staged"],
                "first_page_done_after_s": dist["first_done"],
                "pages_span_s": dist["pages_span"],
                "steady_pages_per_s": dist_steady,
                "steady_ratio": (dist_steady / base_rate) if dist_steady else None,
                "runs_s": [r["elapsed"] for r in dist_runs],
                "summary": dist["summary"],
                "cpu_s": dist["cpu_s"],
            },
            "stages_s": stage_totals,
            "stages_ms_per_page": {k: 1000 * v / n for k, v in stage_totals.items()},
            "stage_decisions": decisions,
            "goal_met": e2e_rate / base_rate >= GOAL,
            "spread_baseline_s": statistics.pstdev(baseline_runs) if len(baseline_runs) > 1 else 0.0,
        },
    )
    return 0


@contextmanager
def busy_processes(count: int) -> Iterator[None]:
    """``count`` processes that each keep a core busy (another job on the machine) meanwhile."""
    burners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(count)]
    try:
        time.sleep(0.5)  # running before the clock starts
        yield
    finally:
        for burner in burners:
            burner.kill()
            burner.wait()


def load_main(args: Any) -> int:
    """``--load N``: the pool and no pool, quiet and beside N busy processes, each with its own
    trafilatura baseline under the same conditions: does the pool lose more than no pool when
    another job shares the cores?"""
    folder = require_dataset(args.data, "news-pages-fundus")
    if folder is None:
        return 0
    pages = bench_pages(args, folder, args.limit or (60 if args.quick else 0))
    n, repeat = len(pages), (1 if args.quick else max(1, args.repeat))
    runs: dict[tuple[str, str], list[float]] = defaultdict(list)
    with tempfile.TemporaryDirectory(prefix="bench-site-") as root:
        write_site(Path(root), pages)
        base_url = "http://127.0.0.1:8000"
        time_trafilatura(pages[:3], base_url)
        for _ in range(repeat):  # interleaved: a change of the machine's own load hits every side
            for condition in ("quiet", f"{args.load} busy"):
                with busy_processes(args.load if condition != "quiet" else 0):
                    runs[(condition, "trafilatura alone")].append(n / time_trafilatura(pages, base_url))
                    for label, processes in ((f"pool of {extraction_processes(0)}", 0), ("no pool", 1)):
                        crawl = time_end_to_end(Path(root), n, processes=processes)
                        runs[(condition, label)].append(crawl["outcomes"] / crawl["elapsed"])
    best = {key: max(rates) for key, rates in runs.items()}
    conditions = ["quiet", f"{args.load} busy"]
    labels = ["trafilatura alone", f"pool of {extraction_processes(0)}", "no pool"]
    print(f"\n{n} pages, best of {repeat}; whole call of run_embedded_crawl, pages/s\n")
    print_table(
        ["what", *conditions, "busy ÷ quiet", *(f"× trafilatura, {c}" for c in conditions)],
        [
            (
                label,
                *(best[(c, label)] for c in conditions),
                best[(conditions[1], label)] / best[(conditions[0], label)],
                *(best[(c, label)] / best[(c, "trafilatura alone")] for c in conditions),
            )
            for label in labels
        ],
    )
    pool, alone = labels[1], labels[2]
    print(
        "\npool ÷ no pool: " + ", ".join(f"{c} {best[(c, pool)] / best[(c, alone)]:.2f}" for c in conditions)
    )
    write_results(
        "throughput_load",
        {
            "pages": n,
            "repeat": repeat,
            "busy": args.load,
            "pages_per_s": {f"{c}: {label}": best[(c, label)] for c in conditions for label in labels},
        },
    )
    return 0


def against_main(args: Any) -> int:
    """``--against VENV``: the whole ``newsdedup crawl`` command of this install and of VENV's,
    alternated (which goes first swaps each round), each round beside its own trafilatura
    alone: a change's effect on the command as users run it, start-up included."""
    other = args.against.resolve()
    if not (other / "bin" / "newsdedup").is_file():
        print(f"--against: no newsdedup console script in {other}/bin", file=sys.stderr)
        return 1
    folder = require_dataset(args.data, "news-pages-fundus")
    if folder is None:
        return 0
    pages = bench_pages(args, folder, args.limit or (60 if args.quick else 0))
    n, repeat = len(pages), (1 if args.quick else max(1, args.repeat))
    sides = {"this": None, other.name: other}
    rows: list[tuple[Any, ...]] = []
    ratios: dict[tuple[str, str], list[float]] = defaultdict(list)
    cpu_seconds: dict[tuple[str, str], list[float]] = defaultdict(list)
    with tempfile.TemporaryDirectory(prefix="bench-site-") as root:
        write_site(Path(root), pages)
        sites = max(args.sites, 1)
        site_roots = [Path(root) / f"site{i}" for i in range(sites)]
        for i, site_root in enumerate(site_roots):
            write_site(site_root, pages[i::sites])
        base_url = "http://127.0.0.1:8000"
        time_trafilatura(pages[:3], base_url)
        runs = (
            ("one site, overrides", [Path(root)], False),
            (f"{len(site_roots)} sites, defaults", site_roots, True),
        )
        for round_number in range(1, repeat + 1):
            base_rate = n / time_trafilatura(pages, base_url)
            rows.append((round_number, "trafilatura alone", "", "", base_rate, 1.0))
            order = list(sides) if round_number % 2 else list(reversed(sides))
            for label, roots, defaults in runs:
                for side in order:
                    result = time_embedded_command(roots, n, user_defaults=defaults, venv=sides[side])
                    rate = result["outcomes"] / result["elapsed"]
                    ratios[(label, side)].append(rate / base_rate)
                    cpu_seconds[(label, side)].append(result["cpu_s"])
                    rows.append(
                        (
                            round_number,
                            f"{label}: {side}",
                            result["elapsed"],
                            result["cpu_s"],
                            rate,
                            rate / base_rate,
                        )
                    )
    print(f"\n{n} pages; `newsdedup crawl`, whole command; this install against {other}\n")
    print_table(["round", "what", "seconds", "CPU s", "pages/s", "× trafilatura"], rows)
    print()
    for label, _, _ in runs:
        print(
            f"{label}: "
            + ", ".join(
                f"{side} {min(ratios[(label, side)]):.2f}–{max(ratios[(label, side)]):.2f} ×, "
                f"CPU {statistics.mean(cpu_seconds[(label, side)]):.2f} s"
                for side in sides
            )
        )
    write_results(
        "throughput_against",
        {
            "pages": n,
            "against": str(other),
            "rounds": [
                dict(zip(("round", "what", "seconds", "cpu_s", "pages_per_s", "ratio"), row)) for row in rows
            ],
        },
    )
    return 0


def profile_main(args: Any) -> int:
    """``--profile``: one embedded crawl with the default pool and one without, each profiled
    (bench/crawl_profile.py), and trafilatura alone on the same pages for scale, all in CPU time."""
    folder = require_dataset(args.data, "news-pages-fundus")
    if folder is None:
        return 0
    pages = bench_pages(args, folder, args.limit or (60 if args.quick else 0))
    n = len(pages)
    with tempfile.TemporaryDirectory(prefix="bench-site-") as root:
        write_site(Path(root), pages)
        base_url = "http://127.0.0.1:8000"
        time_trafilatura(pages[:3], base_url)
        started = time.process_time()
        time_trafilatura(pages, base_url)
        baseline_cpu = time.process_time() - started
        runs = {
            f"pool of {extraction_processes(0)}": time_end_to_end(Path(root), n, profile=True),
            "no pool": time_end_to_end(Path(root), n, processes=1, profile=True),
        }
    print(f"\n{n} pages; trafilatura.extract alone: {1000 * baseline_cpu / n:.2f} ms of CPU a page\n")
    results: dict[str, Any] = {"pages": n, "trafilatura_cpu_ms_per_page": 1000 * baseline_cpu / n}
    for name, run in runs.items():
        profile = run["profile"]
        count = max(1, profile["pages"])
        rows: list[tuple[Any, ...]] = []
        for stage, seconds in sorted(profile["stages_cpu_s"].items(), key=lambda item: -item[1]):
            rows.append(
                ("crawling thread", stage, 1000 * seconds / count, seconds / baseline_cpu * n / count)
            )
        for thread, seconds in sorted(profile["other_threads_cpu_s"].items(), key=lambda item: -item[1]):
            if seconds > 0:
                rows.append(
                    ("other thread", thread, 1000 * seconds / count, seconds / baseline_cpu * n / count)
                )
        pool_cpu, in_prepare = profile["extraction_processes_cpu_s"], profile["prepare_page_cpu_in_pool_s"]
        forkserver_cpu = profile.get("forkserver_cpu_s", 0.0)
        if pool_cpu:
            rows.append(
                (
                    "extraction processes",
                    "prepare_page",
                    1000 * in_prepare / count,
                    in_prepare / baseline_cpu * n / count,
                )
            )
            rest = max(0.0, pool_cpu - in_prepare)
            rows.append(
                (
                    "extraction processes",
                    "the rest: pages unpickled, results pickled, WARC records, pebble",
                    1000 * rest / count,
                    rest / baseline_cpu * n / count,
                )
            )
        crawl_cpu = profile["crawling_thread_cpu_s"] + sum(profile["other_threads_cpu_s"].values())
        print(
            f"{name}: {profile['pages']} pages in {profile['wall_s']:.1f} s (first page reaching the sink → "
            f"last commit); crawling process {1000 * crawl_cpu / count:.2f} ms of CPU a page "
            f"({crawl_cpu / profile['wall_s']:.0%} of a core), extraction processes "
            f"{1000 * pool_cpu / count:.2f} ms a page"
            + (f"; their forkserver's preload {forkserver_cpu:.2f} s, once" if pool_cpu else "")
        )
        print_table(["where", "what (CPU time)", "ms/page", "× trafilatura"], rows)
        waits = profile["waits_s"]
        if waits:
            print()
            print_table(
                ["why a page waited (wall time)", "ms/page"],
                [(reason, 1000 * seconds / count) for reason, seconds in waits.items()]
                + [
                    (
                        "the crawling thread blocked on a result (all pages)",
                        1000 * profile["crawling_thread_blocked_s"] / count,
                    )
                ],
            )
        print()
        results[name] = profile
    write_results("throughput_profile", results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
