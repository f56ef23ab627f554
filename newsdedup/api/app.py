"""The FastAPI application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from newsdedup.api import (
    archive_routes,
    crawl_routes,
    feed_routes,
    ops_routes,
    sinks_routes,
    sources_routes,
    story_routes,
)
from newsdedup.api.context import ApiContext, open_redis
from newsdedup.api.crawls import EmbeddedCrawls
from newsdedup.api.docs_routes import install_docs
from newsdedup.api.errors import install_error_handlers
from newsdedup.api.limits import BodyLimitMiddleware, CachedValue, RequestGate
from newsdedup.api.metrics import StoreCollector, build_registry, exposition
from newsdedup.api.request_ids import RequestIdMiddleware
from newsdedup.api.sink_metrics import SinkCollector
from newsdedup.api.source_metrics import SourceCollector
from newsdedup.config import ConfigError, Settings, Sink, load_sinks, load_sources
from newsdedup.delivery.embedded import start_serve_delivery
from newsdedup.pipeline.services import open_store
from newsdedup.source_status import source_statuses
from newsdedup.store.source_health import SourceHealth
from newsdedup.workers.queues import CELERY_QUEUES

if TYPE_CHECKING:
    from newsdedup.store import Store

DESCRIPTION = """\
The deduplicated news feed for downstream systems.

Follow `GET /v1/feed` from `after=0`, always asking next with the `next_after` it returned:
you see every article once at its latest state, in `seq` order; an article that changes
again comes back with a higher `seq`. Errors are `{"error": code, "message": text}`;
invalid parameters or bodies answer 422 with a message naming the parameter.
"""


def create_app(
    settings: Settings, store: Store | None = None, queues: tuple[str, ...] | None = None
) -> FastAPI:
    """Build the API. Nothing connects here: the store (unless given) and Redis open at startup.

    A ``store`` passed in stays the caller's to close; one the app opens, it closes at shutdown.
    ``queues``: the Celery queues whose depth /metrics reports in distributed mode (default:
    the ones workers/queues.py declares).
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        ctx = await run_in_threadpool(_build_context, settings, store, queues)
        app.state.context = ctx
        try:
            yield
        finally:
            await run_in_threadpool(ctx.close)

    # docs_url/redoc_url None: FastAPI's pages load their scripts from a CDN (docs_routes.py).
    app = FastAPI(
        title="newsdedup",
        version="1",
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    install_error_handlers(app)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.api_max_body_bytes)
    app.add_middleware(RequestIdMiddleware)
    app.include_router(feed_routes.router)
    app.include_router(story_routes.router)
    app.include_router(crawl_routes.router)
    app.include_router(ops_routes.router)
    app.include_router(archive_routes.router)
    app.include_router(sources_routes.router)
    if settings.api_docs:
        install_docs(app)
    app.include_router(sinks_routes.router)
    # deferred: the console's templates load only when an app is built
    from newsdedup.api.console.routes import install as install_console

    install_console(app)
    return app


def source_collector(settings: Settings, store: Store) -> SourceCollector:
    """The per-source series, histograms and build info (newsdedup/api/source_metrics.py)."""
    return SourceCollector(
        SourceHealth(store.engine),
        lambda: load_sources(settings.config),
        lambda health, sources: source_statuses(health, sources, crawl_time_limit=settings.crawl_time_limit),
    )


def _build_context(settings: Settings, store: Store | None, queues: tuple[str, ...] | None) -> ApiContext:
    owns_store = store is None
    if store is None:
        store = open_store(settings)
    ctx = ApiContext(settings=settings, store=store, owns_store=owns_store, queues=queues or ())
    if settings.distributed:
        assert settings.redis_url is not None
        ctx.redis = open_redis(settings.redis_url)
        ctx.queues = queues or CELERY_QUEUES
    else:
        ctx.crawls = EmbeddedCrawls(settings)
    ctx.registry = build_registry(
        StoreCollector(
            stats=store.feed_reader.stats,
            last_seq=store.feed_reader.last_seq,
            queue_depth=ctx.queue_depth if ctx.redis is not None else None,
            index_complete=ctx.index_complete if ctx.redis is not None else None,
        )
    )
    ctx.registry.register(source_collector(settings, store))
    registry = ctx.registry
    ctx.metrics = CachedValue(lambda: exposition(registry), settings.metrics_cache_seconds)
    ctx.feed_gate = RequestGate(settings.api_feed_concurrency)
    ctx.registry.register(SinkCollector(store, lambda: _configured_sinks(settings)))
    # Embedded mode: the sinks are delivered to beside the API (distributed: newsdedup deliver).
    ctx.deliverer = start_serve_delivery(settings, store)
    return ctx


def _configured_sinks(settings: Settings) -> list[Sink]:
    try:
        return load_sinks(settings.config) if settings.config.is_file() else []
    except ConfigError:
        return []  # the sources' collector reports the broken file
