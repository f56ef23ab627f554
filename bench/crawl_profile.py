"""Where an embedded crawl's CPU goes per page, and why pages wait (``bench.throughput --profile``).

Installed in the crawl's own process before it starts (``install``), it wraps the functions of
each stage with a timer of the calling thread's CPU time (``time.thread_time``; no profiler, so
the figures are those of a normal run plus about a microsecond per wrapped call). Nested stages
are exclusive: the time of ``PagePipeline.commit`` does not hold that of ``Store.apply`` inside
it. The crawling thread's CPU left over once every stage is taken off is Scrapy and Twisted
themselves (download, engine, scheduler, sitemap). Other threads of the process (the pool's
task and result threads, which pickle pages and unpickle results; the WARC writer; SQLite's)
and the extraction processes are read from ``/proc`` when the crawl has drained.

Per page, wall time: from the page reaching the sink to its extraction done (in the pool), then
until its commit started, split by cause: an earlier page not extracted yet (results are
committed in arrival order), or nothing calling the sink (commits run when the next page
arrives); and the time the crawling thread itself was blocked waiting for a result.
"""

from __future__ import annotations

import functools
import os
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


@dataclass
class _Totals:
    cpu: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    calls: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    # per page url: arrival at the sink, extraction done, commit started, commit ended (wall)
    arrived: dict[str, float] = field(default_factory=dict)
    extracted: dict[str, float] = field(default_factory=dict)
    commit_started: dict[str, float] = field(default_factory=dict)
    commit_ended: dict[str, float] = field(default_factory=dict)
    blocked: float = 0.0  # wall seconds the crawling thread waited for an extraction result
    main_cpu_at_first_page: float | None = None
    main_cpu_at_end: float | None = None
    first_page_wall: float | None = None
    end_wall: float | None = None
    threads: dict[str, float] = field(default_factory=dict)  # CPU seconds per thread name, at the end
    threads_at_first_page: dict[str, float] = field(default_factory=dict)
    pool_cpu: float = 0.0  # the forkserver's children (the extraction processes)
    pool_cpu_at_first_page: float = 0.0
    forkserver_cpu: float = 0.0  # the forkserver itself: its preload, once a crawl
    pool_prepare_cpu: float = 0.0
    pages: int = 0


TOTALS = _Totals()
_stack = threading.local()


def _timed(stage: str, function: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        frames = getattr(_stack, "frames", None)
        if frames is None:
            frames = _stack.frames = []
        started = time.thread_time()
        frames.append(0.0)  # CPU of the stages nested in this one
        try:
            return function(*args, **kwargs)
        finally:
            spent = time.thread_time() - started
            nested = frames.pop()
            TOTALS.cpu[stage] += spent - nested
            TOTALS.calls[stage] += 1
            if frames:
                frames[-1] += spent

    return wrapper


def _wrap(owner: Any, name: str, stage: str) -> None:
    setattr(owner, name, _timed(stage, getattr(owner, name)))


def _thread_cpu() -> dict[str, float]:
    """CPU seconds of each live thread of this process, by thread name (same names summed)."""
    names = {thread.native_id: thread.name for thread in threading.enumerate()}
    totals: dict[str, float] = defaultdict(float)
    for task in Path("/proc/self/task").iterdir():
        try:
            raw = (task / "stat").read_text()
        except OSError:
            continue
        fields = raw[raw.rfind(")") + 2 :].split()
        tid = int(task.name)
        name = names.get(tid) or raw[raw.find("(") + 1 : raw.rfind(")")]
        # Unnamed threads are "Thread-N (function)": keep the function.
        if name.startswith("Thread-") and " (" in name:
            name = "thread " + name.split(" (", 1)[1].rstrip(")")
        totals[name] += (int(fields[11]) + int(fields[12])) / TICKS
    return dict(totals)


def _descendants_cpu() -> tuple[float, float]:
    """CPU seconds of this process's descendants: (the forkserver itself, the rest). The
    forkserver's are its preload (imports, the language model, a warm-up extraction), spent once
    a crawl and, since the pool starts in the background, mostly after the first page: counted
    apart, or they would pass for a per-page cost of the extraction processes it forks."""
    parent: dict[int, int] = {}
    cpu: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            raw = (entry / "stat").read_text()
        except OSError:
            continue
        fields = raw[raw.rfind(")") + 2 :].split()
        parent[int(entry.name)] = int(fields[1])
        cpu[int(entry.name)] = (int(fields[11]) + int(fields[12])) / TICKS
    me = os.getpid()

    def below(pid: int) -> bool:
        seen = 0
        while pid in parent and seen < 50:
            pid = parent[pid]
            if pid == me:
                return True
            seen += 1
        return False

    forkservers = {pid for pid in cpu if parent.get(pid) == me and _is_forkserver(pid)}
    forkserver = sum(cpu[pid] for pid in forkservers)
    rest = sum(seconds for pid, seconds in cpu.items() if pid != me and pid not in forkservers and below(pid))
    return forkserver, rest


def _is_forkserver(pid: int) -> bool:
    try:
        return b"multiprocessing.forkserver" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def profiled_prepare(*args: Any) -> Any:
    """``prepare_page`` in an extraction process, its ``seconds`` the CPU time it took there."""
    from newsdedup.pipeline.page_pipeline import prepare_page

    started = time.process_time()
    prepared = prepare_page(*args)
    return replace(prepared, seconds=time.process_time() - started)


def profiled_prepare_with_story_terms(*args: Any) -> Any:
    """``prepare_page_with_story_terms``, as ``profiled_prepare``."""
    from newsdedup.pipeline.page_pipeline import prepare_page_with_story_terms

    started = time.process_time()
    prepared = prepare_page_with_story_terms(*args)
    return replace(prepared, seconds=time.process_time() - started)


def install() -> None:
    """Wrap every stage (call in the crawl's process before the crawl starts)."""
    from scrapy.utils.misc import load_object

    from newsdedup.crawler import archive as crawler_archive
    from newsdedup.crawler.spider import NewsSpider
    from newsdedup.dedup.index import InMemoryIndex
    from newsdedup.pipeline import embedded, services
    from newsdedup.pipeline import source_health as pipeline_health
    from newsdedup.pipeline.extraction_pool import ExtractionPool
    from newsdedup.pipeline.page_pipeline import PagePipeline
    from newsdedup.store import store as store_module
    from newsdedup.store.boilerplate import Boilerplate
    from newsdedup.store.source_health import HealthRecorder

    sink = embedded.EmbeddedSink
    import logging

    _wrap(logging.Logger, "handle", "logging: records written")
    _wrap(NewsSpider, "parse_article", "Scrapy: spider callback (parse_article)")
    _wrap(crawler_archive.ResponseArchive, "page", "archive: record handed to the writer")
    _wrap(pipeline_health.HealthSink, "accept", "source health: counting")
    _wrap(HealthRecorder, "flush", "source health: writing")
    _wrap(HealthRecorder, "observe", "source health: counting")
    _wrap(ExtractionPool, "submit", "pool: page handed over (queued)")
    _wrap(sink, "accept", "sink: page received")
    _wrap(sink, "_finish", "sink: outcome counted")
    _wrap(sink, "_prepared", "pool: result taken")
    _wrap(PagePipeline, "prepare", "extraction in the crawling process")
    _wrap(PagePipeline, "commit", "commit: pipeline (decide, callbacks)")
    _wrap(PagePipeline, "without_learned_boilerplate", "commit: learned boilerplate")
    _wrap(store_module.Store, "candidates", "commit: candidates read")
    _wrap(store_module.Store, "apply", "commit: store statements")
    _wrap(store_module.Store, "_hand_out_seq", "commit: seq")
    _wrap(store_module.Store, "record_rejection", "commit: store statements")
    _wrap(Boilerplate, "learn", "commit: learned boilerplate")
    _wrap(InMemoryIndex, "add", "commit: index")
    _wrap(InMemoryIndex, "query", "commit: index")
    store_module.assign_story = _timed("commit: stories", store_module.assign_story)
    # Scrapy's middlewares, ours and its own (each hook timed as called; the async ones are not).
    from scrapy.settings import default_settings

    names = list(default_settings.DOWNLOADER_MIDDLEWARES_BASE) + [
        "newsdedup.crawler.addresses.AddressPolicyMiddleware",
        "newsdedup.crawler.middlewares.OffsiteRedirectMiddleware",
        "newsdedup.crawler.blocking.BlockedSiteMiddleware",
    ]
    for name in names:
        try:
            cls = load_object(name)
        except Exception:  # noqa: BLE001 - an optional middleware not installed
            continue
        for hook in ("process_request", "process_response", "process_exception"):
            if hook in cls.__dict__ and not _is_async(cls.__dict__[hook]):
                _wrap(cls, hook, f"Scrapy: downloader middleware {cls.__name__}")

    # The pool's processes report prepare_page's CPU time as the page's seconds.
    original_pool = services.ExtractionPool

    def pool_factory(*args: Any, **kwargs: Any) -> Any:
        from newsdedup.pipeline.page_pipeline import prepare_page

        chosen = kwargs.pop("prepare", prepare_page)
        kwargs["prepare"] = profiled_prepare if chosen is prepare_page else profiled_prepare_with_story_terms
        return original_pool(*args, **kwargs)

    services.ExtractionPool = pool_factory  # type: ignore[misc,assignment]

    # Per page stamps (wall) and the end-of-crawl readings.
    accept = sink.accept

    def stamped_accept(self: Any, page: Any) -> None:
        now = time.perf_counter()
        if TOTALS.main_cpu_at_first_page is None:
            TOTALS.main_cpu_at_first_page = time.thread_time()
            TOTALS.first_page_wall = now
            TOTALS.threads_at_first_page = _thread_cpu()
            _, TOTALS.pool_cpu_at_first_page = _descendants_cpu()
        TOTALS.arrived[page.url] = now
        TOTALS.pages += 1
        accept(self, page)

    sink.accept = stamped_accept  # type: ignore[method-assign]

    submit = ExtractionPool.submit

    def stamped_submit(self: Any, page: Any, rules: Any = None) -> Any:
        pending = submit(self, page, rules)
        url = page.url
        pending.future.add_done_callback(lambda _: TOTALS.extracted.__setitem__(url, time.perf_counter()))
        return pending

    ExtractionPool.submit = stamped_submit  # type: ignore[method-assign]

    prepared = sink._prepared

    def waited(self: Any, pending: Any) -> Any:
        started = time.perf_counter()
        if not pending.future.done():
            try:
                pending.future.exception()
            except BaseException:  # noqa: BLE001 - the wrapped call raises it again
                pass
            TOTALS.blocked += time.perf_counter() - started
        result = prepared(self, pending)
        TOTALS.pool_prepare_cpu += getattr(result, "seconds", 0.0)
        return result

    sink._prepared = waited  # type: ignore[method-assign]

    commit_extracted = sink._commit_extracted

    def stamped_commit(self: Any, pending: Any) -> Any:
        TOTALS.commit_started[pending.page.url] = time.perf_counter()
        try:
            return commit_extracted(self, pending)
        finally:
            TOTALS.commit_ended[pending.page.url] = time.perf_counter()

    sink._commit_extracted = stamped_commit  # type: ignore[method-assign]

    drain = sink.drain

    def read_at_end(self: Any) -> None:
        drain(self)
        TOTALS.end_wall = time.perf_counter()
        TOTALS.main_cpu_at_end = time.thread_time()
        TOTALS.threads = _thread_cpu()
        TOTALS.forkserver_cpu, TOTALS.pool_cpu = _descendants_cpu()

    sink.drain = read_at_end  # type: ignore[method-assign]


def _is_async(function: Any) -> bool:
    import inspect

    return inspect.iscoroutinefunction(function) or inspect.isasyncgenfunction(function)


def report() -> dict[str, Any]:
    """The figures, plain (sent back from the crawl's process)."""
    t = TOTALS
    stages = dict(t.cpu)
    main = (t.main_cpu_at_end or 0.0) - (t.main_cpu_at_first_page or 0.0)
    # thread_time of the crawling thread is read at the ends; the stages measured in it are
    # the ones not of other threads (the done-callbacks run in the pool's result thread).
    measured = sum(stages.values())
    stages["Scrapy and Twisted: download, engine, scheduler (rest of the crawling thread)"] = max(
        0.0, main - measured
    )
    threads = {
        name: seconds - t.threads_at_first_page.get(name, 0.0)
        for name, seconds in t.threads.items()
        if name != "MainThread"
    }
    waits = _waits()
    return {
        "pages": t.pages,
        "wall_s": (t.end_wall or 0.0) - (t.first_page_wall or 0.0),
        "crawling_thread_cpu_s": main,
        "stages_cpu_s": stages,
        "calls": dict(t.calls),
        "other_threads_cpu_s": threads,
        "extraction_processes_cpu_s": t.pool_cpu - t.pool_cpu_at_first_page,
        "prepare_page_cpu_in_pool_s": t.pool_prepare_cpu,
        "forkserver_cpu_s": t.forkserver_cpu,
        "crawling_thread_blocked_s": t.blocked,
        "waits_s": waits,
    }


def _waits() -> dict[str, float]:
    """Wall seconds summed over pages: in extraction (queued or running), then before commit,
    behind an earlier page or until the sink was next called, and the commit itself."""
    t = TOTALS
    order = sorted(t.arrived, key=t.arrived.__getitem__)
    waits: dict[str, float] = defaultdict(float)
    latest_done = 0.0  # the latest extraction end of the pages that arrived before
    for url in order:
        arrived, done = t.arrived[url], t.extracted.get(url)
        started, ended = t.commit_started.get(url), t.commit_ended.get(url)
        if done is None or started is None or ended is None:
            continue
        waits["extraction (queued and running in the pool)"] += done - arrived
        ready = max(done, latest_done)
        waits["after extraction, behind an earlier page (arrival order)"] += max(
            0.0, min(started, ready) - done
        )
        waits["after extraction, until the sink was next called"] += max(0.0, started - ready)
        waits["commit"] += ended - started
        latest_done = max(latest_done, done)
    return dict(waits)
