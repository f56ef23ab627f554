"""Write routes: starting a crawl. Every route here needs the bearer token."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError

from newsdedup.api.auth import require_token
from newsdedup.api.context import ApiContext, context
from newsdedup.api.crawls import CrawlAlreadyRunning, start_distributed_crawl
from newsdedup.api.errors import ApiError
from newsdedup.api.schemas import ERRORS, CrawlRequest, CrawlStarted, CrawlStatus
from newsdedup.config import ConfigError, UnknownSource, load_sources, select_sources

router = APIRouter(
    tags=["crawls"], dependencies=[Depends(require_token)], responses={401: ERRORS[401], 403: ERRORS[403]}
)
Ctx = Annotated[ApiContext, Depends(context)]


async def crawl_request(request: Request, _token: None = Depends(require_token)) -> CrawlRequest:
    """The body, read only once the token has passed (FastAPI reads a declared body before it
    runs any dependency, the token check included); its size is bounded by
    BodyLimitMiddleware before this reads it."""
    raw = await request.body()
    if not raw:
        raise RequestValidationError([{"type": "missing", "loc": ("body",), "msg": "Field required"}])
    try:
        return CrawlRequest.model_validate_json(raw)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        raise RequestValidationError([{**e, "loc": ("body", *e["loc"])} for e in errors]) from None


# The body is read by crawl_request, so the schema says what it is by hand.
CRAWL_REQUEST_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": CrawlRequest.model_json_schema()}},
    }
}


@router.post(
    "/v1/crawls",
    status_code=202,
    response_model=CrawlStarted,
    responses={409: ERRORS[409], 413: ERRORS[413], 422: ERRORS[422], 503: ERRORS[503]},
    summary="Start a crawl of the named sources (all when none are named)",
    openapi_extra=CRAWL_REQUEST_BODY,
)
def start_crawl(ctx: Ctx, body: Annotated[CrawlRequest, Depends(crawl_request)]) -> Response:
    crawl_id, names = launch_crawl(ctx, body.sources)
    return JSONResponse({"crawl_id": crawl_id, "sources": names}, status_code=202)


def launch_crawl(ctx: ApiContext, requested: list[str]) -> tuple[str, list[str]]:
    """Start a crawl of ``requested`` (all sources when empty): its id and the sources it
    crawls. ApiError (409, 422, 503) when it cannot start. The console's button calls this too."""
    names = resolve_sources(ctx, requested)
    if ctx.settings.distributed:
        try:
            crawl_id = start_distributed_crawl(ctx.settings, names)
        except Exception as exc:
            raise ApiError(503, f"the crawl could not be queued: {type(exc).__name__}: {exc}") from exc
    else:
        assert ctx.crawls is not None
        try:
            crawl_id = ctx.crawls.start(names).crawl_id
        except CrawlAlreadyRunning as exc:
            raise ApiError(
                409,
                f"crawl {exc.crawl_id} is still running; embedded mode runs one crawl at a time",
                running_crawl_id=exc.crawl_id,
            ) from None
    return crawl_id, names


@router.get(
    "/v1/crawls/{crawl_id}",
    response_model=CrawlStatus,
    responses={404: ERRORS[404]},
    summary="Where a crawl is",
)
def crawl_status(ctx: Ctx, crawl_id: Annotated[str, Path(max_length=64)]) -> Response:
    """Embedded mode: a crawl this API process started (state, exit code, summary line).
    Distributed mode: the crawl's pages still pending, done and failed in the workers."""
    if ctx.settings.distributed:
        # deferred: Celery is loaded only in distributed mode (≈ 60 ms of imports, bench/import_costs.py)
        from newsdedup.workers.api_side import crawl_status as distributed_status

        status = distributed_status(ctx.settings, crawl_id)
        if not (status.get("pending") or status.get("done") or status.get("failed")):
            raise ApiError(
                404, f"no pages staged for crawl {crawl_id!r} (unknown, not started yet, or purged)"
            )
        return JSONResponse({**status, "state": "running" if status.get("pending") else "finished"})
    run = ctx.crawls.get(crawl_id) if ctx.crawls is not None else None
    if run is None:
        raise ApiError(404, f"no crawl {crawl_id!r} started by this server")
    return JSONResponse(run.as_dict())


def resolve_sources(ctx: ApiContext, requested: list[str]) -> list[str]:
    """The requested names, checked against the sources file (read now: it may have changed)."""
    try:
        sources = load_sources(ctx.settings.config)
    except ConfigError as exc:
        raise ApiError(503, f"the sources file is not usable: {exc}", code="config_error") from None
    try:
        return [source.name for source in select_sources(sources, requested)]
    except UnknownSource as exc:
        raise ApiError(422, str(exc), code="unknown_source", unknown=exc.unknown) from None
