"""One shape for every error the API returns: ``{"error": code, "message": text}``.

Validation problems keep FastAPI's status 422 (what the OpenAPI document already declares for
every route), but with a message a person can act on instead of pydantic's nested list.
Nothing a client sends may turn into a 500: unexpected exceptions are logged with their
traceback and answered with a short 500 that leaks nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from newsdedup.config.logs import REQUEST_ID
from newsdedup.extract.safe_text import without_credentials

log = logging.getLogger("newsdedup.api")

STATUS_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
    500: "internal",
    503: "unavailable",
}

# pydantic's wording for the common cases, said the way an API user thinks of them.
FRIENDLY = {
    "int_parsing": "must be a whole number",
    "int_from_float": "must be a whole number",
    "int_type": "must be a whole number",
    "missing": "is required",
    "json_invalid": "is not valid JSON",
    "list_type": "must be a list",
    "string_type": "must be a string",
    "model_attributes_type": "must be a JSON object",
    "dict_type": "must be a JSON object",
    "extra_forbidden": "is not a known field",
}


class ApiError(Exception):
    """An outcome the client should see, with its status and a stable code."""

    def __init__(
        self,
        status: int,
        message: str,
        code: str | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code or STATUS_CODES.get(status, "error")
        self.message = without_credentials(message)  # a URL's password never reaches a client
        self.headers = headers
        self.extra = extra


def error_response(
    status: int, code: str, message: str, headers: dict[str, str] | None = None, **extra: Any
) -> JSONResponse:
    return JSONResponse({"error": code, "message": message, **extra}, status_code=status, headers=headers)


def describe_validation(errors: Sequence[dict[str, Any]]) -> str:
    """``query parameter 'limit': must be at most 1000 (got '5000')``; problems joined by '; '."""
    return "; ".join(_describe_one(error) for error in errors) or "invalid request"


def _describe_one(error: dict[str, Any]) -> str:
    loc = [str(part) for part in error.get("loc", ())]
    kind = error.get("type", "")
    if kind == "json_invalid":
        return f"request body is not valid JSON ({(error.get('ctx') or {}).get('error', 'parse error')})"
    where = _where(loc, kind)
    ctx = error.get("ctx") or {}
    if kind == "less_than_equal":
        problem = f"must be at most {ctx.get('le')}"
    elif kind == "greater_than_equal":
        problem = f"must be at least {ctx.get('ge')}"
    elif kind == "too_long":
        problem = f"must have at most {ctx.get('max_length')} items"
    else:
        problem = FRIENDLY.get(kind) or str(error.get("msg", "is invalid")).rstrip(".")
    shown = error.get("input")
    if (
        kind not in ("missing", "json_invalid")
        and isinstance(shown, (str, int, float))
        and len(str(shown)) <= 80
    ):
        problem += f" (got {shown!r})"
    return f"{where}: {problem}"


def _where(loc: list[str], kind: str) -> str:
    if not loc:
        return "request"
    place, rest = loc[0], loc[1:]
    if kind == "json_invalid" or (place == "body" and not rest):
        return "request body"
    names = {"query": "query parameter", "path": "path parameter", "header": "header", "body": "body field"}
    if place in names and rest:
        return f"{names[place]} '{'.'.join(rest)}'"
    return ".".join(loc)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_request: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.code, exc.message, exc.headers, **exc.extra)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(422, "invalid_request", describe_validation(exc.errors()))

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        if exc.status_code == 404 and message == "Not Found":
            message = "no such route; see /openapi.json"
        return error_response(
            exc.status_code,
            STATUS_CODES.get(exc.status_code, "error"),
            message,
            getattr(exc, "headers", None),
        )

    @app.exception_handler(OperationalError)
    async def _store_down(request: Request, exc: OperationalError) -> JSONResponse:
        # The database is unreachable or refused us: the client may retry later.
        log.error("store unavailable on %s %s: %s", request.method, request.url.path, exc.orig)
        return error_response(
            503, "unavailable", "the article store is unavailable; try again later", {"Retry-After": "5"}
        )

    @app.exception_handler(PoolTimeout)
    async def _store_busy(request: Request, exc: PoolTimeout) -> JSONResponse:
        # Every pooled connection stayed busy for the pool's whole timeout: overload, not a bug.
        log.warning("store connection pool exhausted on %s %s", request.method, request.url.path)
        return error_response(
            503, "unavailable", "the article store is busy; try again shortly", {"Retry-After": "1"}
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        # Answered from outside the middlewares: the request id is added here (request_ids.py).
        request_id = REQUEST_ID.get()
        return error_response(
            500,
            "internal",
            "internal error; the server log has the details",
            {"X-Request-ID": request_id} if request_id else None,
        )
