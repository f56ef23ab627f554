"""Request ids: each HTTP request's log lines carry one, and its response says which.

A caller's ``X-Request-ID`` is kept when it looks like an id (so one id follows a request
through a proxy, the API and its logs); otherwise one is made. It is set in a context variable
that the log handler reads (config/logs.py), for every line logged while the request is
served, uvicorn's access line included, and echoed in the response's ``X-Request-ID``.

A plain ASGI middleware rather than Starlette's BaseHTTPMiddleware: the response is sent from
the request's own context, so the access line logged as it goes out still has the id.
"""

from __future__ import annotations

import re
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from newsdedup.config.logs import REQUEST_ID

HEADER = "X-Request-ID"
_HEADER_KEY = HEADER.lower().encode("latin-1")
# What a caller's id may be: no spaces, quotes or control characters to garble a log line.
ACCEPTED_ID = re.compile(r"[A-Za-z0-9._:@/+=-]{1,128}")


def request_id_of(headers: list[tuple[bytes, bytes]]) -> str:
    for key, value in headers:
        if key.lower() == _HEADER_KEY:
            given = value.decode("latin-1").strip()
            if ACCEPTED_ID.fullmatch(given):
                return given
            break
    return uuid.uuid4().hex


class RequestIdMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_of(scope.get("headers", []))
        # Set, never reset: uvicorn runs each request in a task of its own (a context of its
        # own), and the last lines about a request that failed are logged after this returns,
        # by the error handler outside every middleware and by uvicorn itself.
        REQUEST_ID.set(request_id)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != _HEADER_KEY]
                headers.append((_HEADER_KEY, request_id.encode("latin-1")))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_id)
