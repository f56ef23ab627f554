"""``GET /v1/sources``: each source's health, the same items as ``newsdedup status --format
json`` (newsdedup/source_status.py). Behind the bearer token: it names the sites crawled and
how they treat the bot."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse, Response

from newsdedup.api.auth import require_token
from newsdedup.api.context import ApiContext, context
from newsdedup.api.errors import ApiError
from newsdedup.api.schemas import ERRORS
from newsdedup.config import ConfigError
from newsdedup.source_status import statuses_for

router = APIRouter(
    tags=["operations"], dependencies=[Depends(require_token)], responses={401: ERRORS[401], 403: ERRORS[403]}
)
Ctx = Annotated[ApiContext, Depends(context)]


@router.get("/v1/sources", responses={503: ERRORS[503]}, summary="Each source's health")
def list_sources(ctx: Ctx) -> Response:
    """`{"items": [...]}`, one per source of the sources file, then those with history in the
    store that the file no longer names (`configured: false`); fields in docs/http-api.md."""
    try:
        items = statuses_for(ctx.settings, ctx.store.engine)
    except ConfigError as exc:
        raise ApiError(503, f"the sources file is not usable: {exc}", code="config_error") from None
    return JSONResponse({"items": items})
