"""The fixture-site server: what tests and ``newsdedup demo`` rely on."""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from newsdedup.siteserver import SiteServer, serve_sites


def fetch(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers=headers or {})
    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(request, timeout=10) as response:
            return response.status, {k.lower(): v for k, v in response.headers.items()}, response.read()
    except urllib.error.HTTPError as error:
        return error.code, {k.lower(): v for k, v in error.headers.items()}, error.read()


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


@pytest.fixture
def site(tmp_path: Path):
    (tmp_path / "news").mkdir()
    (tmp_path / "news" / "index.html").write_text("<html><body>Front page</body></html>", encoding="utf-8")
    (tmp_path / "story.html").write_text("<p>Zürich café</p>", encoding="utf-8")
    (tmp_path / "feed.rss").write_text("<rss><channel><link>{{base_url}}/</link></channel></rss>")
    (tmp_path / "paper.pdf").write_bytes(b"%PDF-1.4\n%%EOF\n")
    (tmp_path / "_routes.json").write_text(
        json.dumps(
            {
                "/latin.html": {"content_type": "text/html", "encoding": "latin-1"},
                "/gone.html": {"status": 410},
                "/moved.html": {"redirect": "{base_url}/story.html"},
                "/empty.html": {"status": 200, "body": ""},
                "/huge.html": {"generate_bytes": 300_000},
            }
        )
    )
    (tmp_path / "latin.html").write_text("<p>Grüße aus Köln</p>", encoding="utf-8")
    with SiteServer(tmp_path, host="127.0.0.2") as server:
        yield server


def test_serves_files_with_types_and_validators(site):
    status, headers, body = fetch(site.url("/story.html"))
    assert status == 200 and body.decode("utf-8") == "<p>Zürich café</p>"
    assert headers["content-type"] == "text/html; charset=utf-8"
    assert headers["etag"].startswith('"') and headers["last-modified"].endswith("GMT")
    assert fetch(site.url("/news/"))[2] == b"<html><body>Front page</body></html>"
    assert fetch(site.url("/paper.pdf"))[1]["content-type"] == "application/pdf"
    assert fetch(site.url("/feed.rss"))[1]["content-type"] == "application/rss+xml"


def test_answers_304_to_matching_validators_and_200_after_a_change(site):
    _, headers, _ = fetch(site.url("/story.html"))
    status, _, body = fetch(site.url("/story.html"), {"If-None-Match": headers["etag"]})
    assert status == 304 and body == b""
    status, _, _ = fetch(site.url("/story.html"), {"If-Modified-Since": headers["last-modified"]})
    assert status == 304
    (site.root / "story.html").write_text("<p>Updated story</p>", encoding="utf-8")
    status, new_headers, body = fetch(site.url("/story.html"), {"If-None-Match": headers["etag"]})
    assert status == 200 and body == b"<p>Updated story</p>" and new_headers["etag"] != headers["etag"]
    logged = site.requests_for("/story.html")
    assert [r.status for r in logged] == [200, 304, 304, 200]
    assert logged[1].headers["if-none-match"] == headers["etag"]


def test_routes_declare_special_behaviours(site):
    status, headers, body = fetch(site.url("/latin.html"))
    assert headers["content-type"] == "text/html" and body == "<p>Grüße aus Köln</p>".encode("latin-1")
    assert fetch(site.url("/gone.html"))[0] == 410
    status, headers, _ = fetch(site.url("/moved.html"))
    assert status == 301 and headers["location"] == site.url("/story.html")
    assert fetch(site.url("/empty.html"))[:3:2] == (200, b"")
    status, _, body = fetch(site.url("/huge.html"))
    assert status == 200 and len(body) == 300_000 and body.startswith(b"<html>")
    assert fetch(site.url("/nothing-here.html"))[0] == 404


def test_routes_can_be_set_while_running(site):
    site.set_routes({"/story.html": {"status": 503}})
    assert fetch(site.url("/story.html"))[0] == 503


def test_templates_name_the_running_server(site):
    assert (
        fetch(site.url("/feed.rss"))[2]
        == f"<rss><channel><link>{site.base_url}/</link></channel></rss>".encode()
    )


def test_never_serves_outside_the_root_nor_the_routes_file(site):
    assert fetch(site.url("/_routes.json"))[0] == 404
    assert fetch(site.base_url + "/../" + os.path.basename(site.root) + "/story.html")[0] in (200, 404)
    assert fetch(site.base_url + "/%2e%2e/etc/passwd")[0] == 404


def test_logs_user_agent_and_status(site):
    fetch(site.url("/story.html"), {"User-Agent": "test-agent/1"})
    (entry,) = site.requests
    assert (entry.method, entry.path, entry.status, entry.headers["user-agent"]) == (
        "GET",
        "/story.html",
        200,
        "test-agent/1",
    )


def test_serve_sites_puts_each_site_on_its_own_address(tmp_path: Path):
    for name in ("alpha", "beta"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "index.html").write_text(f"<p>{name}</p>")
    servers = serve_sites(tmp_path)
    try:
        assert [s.host for s in servers.values()] == ["127.0.0.2", "127.0.0.3"]
        assert fetch(servers["beta"].url("/"))[2] == b"<p>beta</p>"
    finally:
        for server in servers.values():
            server.stop()
