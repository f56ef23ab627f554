"""Console logins: the API token, typed into a form, buys a signed cookie.

* The cookie holds a random secret signed (itsdangerous) with a key derived from the API token:
  a new token ends every login. It is ``HttpOnly`` (no script reads it), ``SameSite=Strict``
  (no other site's page sends it) and ``Secure`` when the console is reached over HTTPS.
* The store keeps the SHA-256 of the secret (``console_sessions``): logging out deletes the row,
  so a copy of the cookie is worth nothing afterwards.
* Every form that changes something carries the login's CSRF token and is refused without it,
  and a POST whose ``Origin`` names another site is refused before that.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

from fastapi import Request
from itsdangerous import BadSignature, URLSafeSerializer

from newsdedup.api.auth import token_matches
from newsdedup.api.context import ApiContext
from newsdedup.store.console_sessions import ConsoleSessions, Login

COOKIE = "newsdedup_console"
COOKIE_PATH = "/ui"


class NotLoggedIn(Exception):
    """The page needs a login (answered with a redirect to /ui/login)."""


class Forbidden(Exception):
    """A form without its CSRF token, or posted from another site."""


@dataclass(frozen=True)
class Viewer:
    logged_in: bool
    csrf: str = ""  # the login's CSRF token, "" without a login


ANONYMOUS = Viewer(logged_in=False)


def _serializer(token: str) -> URLSafeSerializer:
    key = hmac.new(token.encode("utf-8"), b"newsdedup console cookie", hashlib.sha256).hexdigest()
    return URLSafeSerializer(key, salt="console-login")


def sessions(ctx: ApiContext) -> ConsoleSessions:
    return ConsoleSessions(ctx.store.db)


def log_in(ctx: ApiContext, given: str) -> str | None:
    """The cookie value for a right token, None for a wrong one (or when no token is set)."""
    expected = ctx.settings.api_token
    if not expected or not token_matches(given, expected):
        return None
    login: Login = sessions(ctx).create(timedelta(hours=ctx.settings.console_session_hours))
    return _serializer(expected).dumps(login.secret)


def _secret(ctx: ApiContext, request: Request) -> str | None:
    cookie = request.cookies.get(COOKIE)
    token = ctx.settings.api_token
    if not cookie or not token:
        return None
    try:
        secret = _serializer(token).loads(cookie)
    except BadSignature:
        return None
    return secret if isinstance(secret, str) else None


def viewer(ctx: ApiContext, request: Request) -> Viewer:
    secret = _secret(ctx, request)
    if secret is None:
        return ANONYMOUS
    csrf = sessions(ctx).csrf_of(secret)
    return Viewer(logged_in=True, csrf=csrf) if csrf is not None else ANONYMOUS


def log_out(ctx: ApiContext, request: Request) -> None:
    secret = _secret(ctx, request)
    if secret is not None:
        sessions(ctx).end(secret)


def check_origin(request: Request) -> None:
    """A browser names the page a POST came from: it must be this server's."""
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        # Without Origin (an old browser, a tool) the CSRF token alone decides; "null" is an
        # opaque origin (a sandboxed frame), never ours.
        if origin == "null":
            raise Forbidden("the form was posted from an opaque origin")
        return
    # The host only, not the scheme: behind a proxy that ends TLS the server sees http while
    # the browser says https; another site has another host either way.
    if urlsplit(origin).netloc.lower() != request.url.netloc.lower():
        raise Forbidden(f"the form was posted from another site ({origin})")


def check_form(request: Request, who: Viewer, csrf: str) -> None:
    check_origin(request)
    if not who.logged_in:
        raise NotLoggedIn()
    if not csrf or not hmac.compare_digest(csrf.encode("utf-8"), who.csrf.encode("utf-8")):
        raise Forbidden("the form's CSRF token is missing or wrong: reload the page and try again")
