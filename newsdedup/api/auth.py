"""Bearer-token check for the write endpoints.

No token configured means no writes at all: an open write endpoint on a forgotten setting
would let anyone start crawls.
"""

from __future__ import annotations

import hmac

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from newsdedup.api.errors import ApiError

# auto_error=False: we answer ourselves, in the API's error shape and with 401 (FastAPI's
# default would be 403 for a missing header). The scheme still shows in /openapi.json.
bearer = HTTPBearer(auto_error=False, description="NEWSDEDUP_API_TOKEN")

CHALLENGE = {"WWW-Authenticate": 'Bearer realm="newsdedup"'}


def token_matches(given: str, expected: str) -> bool:
    # Bytes, because compare_digest refuses non-ASCII str (a 500 for a funny header).
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


def require_token(
    request: Request,
    credentials: HTTPAuthorizationCredentials | None = Depends(bearer),
) -> None:
    expected = request.app.state.settings.api_token
    if not expected:
        raise ApiError(
            403,
            "this server has no API token configured (NEWSDEDUP_API_TOKEN): write endpoints are disabled",
            code="writes_disabled",
        )
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise ApiError(401, "missing bearer token: send 'Authorization: Bearer <token>'", headers=CHALLENGE)
    if not token_matches(credentials.credentials, expected):
        raise ApiError(401, "wrong bearer token", headers=CHALLENGE)
