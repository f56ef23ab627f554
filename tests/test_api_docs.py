"""/docs is Swagger UI served by the API itself: nothing is loaded from a CDN (a browser
check in tests/test_raw_page_browser.py), and NEWSDEDUP_API_DOCS=0 switches it off."""

from __future__ import annotations

import re

import httpx
from api_factories import live_api, write_sources

from newsdedup.config import Settings


def test_docs_load_only_from_the_api_itself(sqlite_url, tmp_path) -> None:
    settings = Settings(database_url=sqlite_url, config=write_sources(tmp_path))
    with live_api(settings) as running, httpx.Client(base_url=running.base_url, timeout=30) as http:
        page = http.get("/docs")
        assert page.status_code == 200
        assert "default-src 'self'" in page.headers["content-security-policy"]
        linked = re.findall(r"""(?:src|href)\s*=\s*['"]([^'"]+)['"]""", page.text)
        assert linked and not any("://" in url or url.startswith("//") for url in linked), linked
        for url in linked:
            assert http.get(url).status_code == 200, url
        assert "swagger-ui-bundle.js" in page.text
        assert http.get("/redoc").status_code == 404  # ReDoc loads from a CDN: not served


def test_docs_can_be_switched_off(sqlite_url, tmp_path) -> None:
    settings = Settings(database_url=sqlite_url, config=write_sources(tmp_path), api_docs=False)
    with live_api(settings) as running:
        assert httpx.get(running.base_url + "/docs").status_code == 404
        assert httpx.get(running.base_url + "/openapi.json").status_code == 200
