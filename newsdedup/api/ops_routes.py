"""Operations: probes for load balancers and orchestrators, /metrics for Prometheus.

Two probes, as Kubernetes means them: ``/livez`` says the process answers (restart it when it
does not), ``/readyz`` says it can serve (send it traffic when it does). A restart cures no
database outage, so liveness touches nothing but the event loop; readiness asks the store and,
in distributed mode, Redis. ``/healthz`` is readiness under its older name.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST

from newsdedup.api.context import ApiContext, IndexNotReady, context
from newsdedup.api.schemas import Health

log = logging.getLogger("newsdedup.api")

# A health check must answer even when the database hangs: each probe gets this long.
CHECK_TIMEOUT = 5.0
# A 503 of readiness: when a load balancer or client may ask again.
RETRY_AFTER_SECONDS = 5  # as the feed's own 503 (errors.py)

router = APIRouter(tags=["operations"])
Ctx = Annotated[ApiContext, Depends(context)]


@router.get("/livez", response_model=Health)
def livez() -> Response:
    """200 `{"status": "ok"}` whenever the process serves requests; asks no database."""
    return JSONResponse({"status": "ok"})


READINESS_RESPONSES: dict[int | str, dict[str, object]] = {
    503: {"description": 'what failed: {"status": "unavailable", "failed": {part: reason}}, with Retry-After'}
}


@router.get("/readyz", response_model=Health, responses=READINESS_RESPONSES)
@router.get("/healthz", response_model=Health, responses=READINESS_RESPONSES)
def readyz(ctx: Ctx) -> Response:
    """200 `{"status": "ok"}` when the store (and Redis, in distributed mode) answer; 503 naming
    what did not, with `Retry-After`. In distributed mode, a Redis index not (yet) built for this
    store is named under `warnings`. `/healthz` is the same check under its older name."""
    checks: dict[str, Callable[[], object]] = {"store": ctx.store.feed_reader.last_seq}
    if ctx.redis is not None:
        checks["redis"] = ctx.redis.ping
        checks["index"] = ctx.check_index
    # Probes run on the context's own pool so a hung connection costs one thread, not the answer.
    futures = {name: ctx.probes.submit(probe) for name, probe in checks.items()}
    failed: dict[str, str] = {}
    warnings: dict[str, str] = {}
    for name, future in futures.items():
        try:
            future.result(timeout=CHECK_TIMEOUT)
        except IndexNotReady as exc:
            # Not a 503: the API serves the feed without it, and a new cluster has none until
            # its first page; the workers rebuild it before they decide anything.
            warnings[name] = str(exc)
        except FutureTimeout:
            failed[name] = f"no answer within {CHECK_TIMEOUT:g}s"
        except Exception as exc:  # noqa: BLE001 - any failure is the answer
            # Unauthenticated: which part failed and how, never the driver's message (host,
            # port, database, user); that goes to the log.
            log.warning("readiness: %s failed: %s: %s", name, type(exc).__name__, exc)
            failed[name] = f"{type(exc).__name__}: unreachable (details in the server log)"
    if failed:
        failed.pop("index", None)  # Redis or the store is away: that says it all
        return JSONResponse(
            {"status": "unavailable", "failed": failed},
            status_code=503,
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )
    return JSONResponse({"status": "ok", "warnings": warnings} if warnings else {"status": "ok"})


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {}}, "description": "Prometheus text exposition"}},
)
def metrics(ctx: Ctx) -> Response:
    """Pages, articles, duplicates, versions, rejections, failures, and queue depth (distributed
    mode). Needs no token (Prometheus scrapes it); computed at most once per
    `NEWSDEDUP_METRICS_CACHE_SECONDS` (10 s), so scrapes in between see the same figures."""
    assert ctx.metrics is not None
    return Response(ctx.metrics.get(), media_type=CONTENT_TYPE_LATEST)
