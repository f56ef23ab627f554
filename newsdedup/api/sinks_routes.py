"""``GET /v1/sinks``: each sink's delivery state, the same items as ``newsdedup sinks status
--format json`` (delivery/status.py). Behind the bearer token: it names where the feed goes."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse, Response

from newsdedup.api.auth import require_token
from newsdedup.api.context import ApiContext, context
from newsdedup.api.errors import ApiError
from newsdedup.api.schemas import ERRORS
from newsdedup.config import ConfigError, load_sinks
from newsdedup.delivery.status import sink_statuses

router = APIRouter(
    tags=["operations"], dependencies=[Depends(require_token)], responses={401: ERRORS[401], 403: ERRORS[403]}
)
Ctx = Annotated[ApiContext, Depends(context)]


@router.get("/v1/sinks", responses={503: ERRORS[503]}, summary="Each sink's delivery state")
def list_sinks(ctx: Ctx) -> Response:
    """`{"items": [...]}`, one per sink of the sources file, then those with a cursor in the
    store that the file no longer names (`configured: false`); fields in docs/http-api.md."""
    try:
        sinks = load_sinks(ctx.settings.config) if ctx.settings.config.is_file() else []
    except ConfigError as exc:
        raise ApiError(503, f"the sources file is not usable: {exc}", code="config_error") from None
    return JSONResponse({"items": sink_statuses(ctx.store, sinks)})
