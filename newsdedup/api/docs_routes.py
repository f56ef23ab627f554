"""/docs: Swagger UI, served from the files the installed ``fastapi-offline`` package ships.

FastAPI's default page loads Swagger UI's script and stylesheet from a CDN, without integrity
hashes: whoever controls that CDN (or the path to it) would run script on the API's origin,
in the browser of someone who may hold the API token. Here every file comes from this server,
and the page's Content-Security-Policy lets it load nothing from elsewhere. ReDoc (a CDN
script too) is not served. ``NEWSDEDUP_API_DOCS=0`` switches /docs off.
"""

from __future__ import annotations

from pathlib import Path

import fastapi_offline
from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS = "/docs/assets"
# fastapi-offline keeps a current Swagger UI (OpenAPI 3.1, which FastAPI writes) beside its
# module; its own app factory is not used, so that this page can carry its own policy.
# tests/test_api_docs.py fails if the files move.
STATIC = Path(fastapi_offline.__file__).parent / "static"
# Swagger UI starts from an inline script of FastAPI's page; everything else is this server's.
DOCS_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)


def install_docs(app: FastAPI) -> None:
    app.mount(ASSETS, StaticFiles(directory=STATIC), name="swagger-ui")
    headers = {"Content-Security-Policy": DOCS_POLICY, "Referrer-Policy": "no-referrer"}

    @app.get("/docs", include_in_schema=False)
    def swagger_ui() -> HTMLResponse:
        page = get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title} - API",
            swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS}/favicon.png",
            oauth2_redirect_url="/docs/oauth2-redirect",
        )
        return HTMLResponse(page.body, headers=headers)

    @app.get("/docs/oauth2-redirect", include_in_schema=False)
    def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()
