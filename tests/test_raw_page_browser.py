"""The raw-page route in a real browser (Debian's Chromium, driven by Playwright): an archived
page written to attack its reader runs no script and loads nothing from elsewhere, and is
still readable."""

from __future__ import annotations

import http.server
import threading
from pathlib import Path

import pytest
from api_factories import add_article, live_api, write_sources
from sqlalchemy import text
from warc_fixtures import response_record

from newsdedup.config import Settings
from newsdedup.store import Store

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Chromium (.ci/run installs it)")


class Beacons:
    """A loopback server that records every request made to it: the page's outside loads."""

    def __init__(self) -> None:
        self.paths: list[str] = []
        beacons = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                beacons.paths.append(self.path)
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.end_headers()

            do_POST = do_GET

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def hostile_page(beacon: str) -> bytes:
    return f"""<!doctype html><html><head><title>Ferry budget passes</title>
<link rel="stylesheet" href="{beacon}/style.css">
<style>h1 {{ color: rgb(200, 0, 0); }}</style>
<script>document.documentElement.setAttribute("data-ran", "inline");
fetch("{beacon}/fetch"); document.cookie = "stolen=1";</script>
<script src="{beacon}/script.js"></script>
</head><body onload="document.body.setAttribute('data-ran', 'onload')">
<h1>Ferry budget passes</h1>
<p>The harbour council voted on the ferry budget.</p>
<img src="{beacon}/pixel.gif"><iframe src="{beacon}/frame.html"></iframe>
<object data="{beacon}/object.swf"></object>
<form action="{beacon}/form" method="post"><input name="q"></form>
<a href="{beacon}/link" id="link">more</a>
</body></html>""".encode()


def test_a_hostile_archived_page_runs_no_script_and_loads_nothing(sqlite_url, tmp_path) -> None:
    from playwright.sync_api import sync_playwright

    beacons = Beacons()
    store = Store.open(sqlite_url)
    try:
        applied = add_article(store)
        url = store.feed_reader.version_url(applied.article_id, 1)
        archive = tmp_path / "archive"
        archive.mkdir()
        (archive / "pages.warc.gz").write_bytes(response_record(url, hostile_page(beacons.base)))
        with store.engine.begin() as connection:
            connection.execute(
                text(
                    "UPDATE versions SET warc_file = 'pages.warc.gz', warc_offset = 0 WHERE article_id = :a"
                ),
                {"a": applied.article_id},
            )
        settings = Settings(
            database_url=sqlite_url, config=write_sources(tmp_path), api_token="s3cret", archive_dir=archive
        )
        with live_api(settings, store) as running, sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            try:
                context = browser.new_context(extra_http_headers={"Authorization": "Bearer s3cret"})
                page = context.new_page()
                response = page.goto(
                    f"{running.base_url}/v1/articles/{applied.article_id}/versions/1/page",
                    wait_until="load",
                )
                assert response is not None and response.status == 200
                page.wait_for_timeout(1500)  # room for late loads to show up (none may)
                # Readable: the text and its inline style are there.
                assert page.locator("h1").inner_text() == "Ferry budget passes"
                assert page.locator("h1").evaluate("e => getComputedStyle(e).color") == "rgb(200, 0, 0)"
                # No script ran: neither the inline one, nor onload, nor the outside one.
                assert page.locator("html").get_attribute("data-ran") is None
                assert page.locator("body").get_attribute("data-ran") is None
                assert context.cookies() == []
            finally:
                browser.close()
        assert beacons.paths == []  # nothing was loaded from elsewhere
    finally:
        beacons.close()
        store.close()


def test_the_docs_page_renders_from_the_api_alone(sqlite_url, tmp_path) -> None:
    from playwright.sync_api import sync_playwright

    settings = Settings(database_url=sqlite_url, config=write_sources(tmp_path))
    with live_api(settings) as running, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            asked: list[str] = []
            page.on("request", lambda request: asked.append(request.url))
            page.goto(f"{running.base_url}/docs", wait_until="networkidle")
            page.wait_for_selector(".opblock-summary-path", timeout=20_000)  # the routes are listed
            assert "/v1/feed" in page.locator(".swagger-ui").inner_text()
        finally:
            browser.close()
    assert asked and all(url.startswith(running.base_url) for url in asked), asked
