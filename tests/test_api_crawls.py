"""POST /v1/crawls: the bearer token, source names, and a real crawl in a child process."""

from __future__ import annotations

import shutil
import time
from importlib import resources
from pathlib import Path

import httpx
import pytest
from api_factories import live_api, write_sources

from newsdedup.config import Settings
from newsdedup.siteserver import SiteServer
from newsdedup.store import Store

# The store fixture (conftest.py) opens the SQLite database these tests build their settings on.
pytestmark = pytest.mark.sqlite_only

TOKEN = "correct horse battery staple"


def api(settings: Settings, store: Store):
    return live_api(settings, store)


def test_no_token_configured_refuses_every_write(sqlite_url, tmp_path, store):
    settings = Settings(database_url=sqlite_url, config=write_sources(tmp_path), api_token=None)
    with api(settings, store) as running:
        for headers in ({}, {"Authorization": "Bearer anything"}):
            response = httpx.post(
                running.base_url + "/v1/crawls", json={"sources": ["alpha-news"]}, headers=headers
            )
            assert response.status_code == 403
            assert response.json()["error"] == "writes_disabled"
            assert "no API token configured" in response.json()["message"]


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "Bearer wrong",
        f"Bearer {TOKEN}x",
        f"Basic {TOKEN}",
        "Bearer",
        "Bearer äöü-not-ascii",
    ],
)
def test_missing_or_wrong_token_is_401(sqlite_url, tmp_path, store, authorization):
    settings = Settings(database_url=sqlite_url, config=write_sources(tmp_path), api_token=TOKEN)
    headers = {"Authorization": authorization.encode("utf-8")} if authorization else {}
    with api(settings, store) as running:
        response = httpx.post(
            running.base_url + "/v1/crawls", json={"sources": ["alpha-news"]}, headers=headers
        )
        assert response.status_code == 401, response.text
        assert response.json()["error"] == "unauthorized"
        assert response.headers["www-authenticate"].startswith("Bearer")
        # Even an invalid body gets the 401 first: nothing is said to a stranger about it.
        assert (
            httpx.post(running.base_url + "/v1/crawls", content=b"{not json", headers=headers).status_code
            == 401
        )


def test_unknown_source_and_bad_bodies_are_clear_422s(sqlite_url, tmp_path, store):
    settings = Settings(database_url=sqlite_url, config=write_sources(tmp_path), api_token=TOKEN)
    auth = {"Authorization": f"Bearer {TOKEN}"}
    with api(settings, store) as running, httpx.Client(base_url=running.base_url, headers=auth) as client:
        response = client.post("/v1/crawls", json={"sources": ["alpha-news", "no-such-site"]})
        assert response.status_code == 422
        assert response.json()["error"] == "unknown_source"
        assert response.json()["message"] == "unknown source 'no-such-site' (known: alpha-news, beta-wire)"
        assert response.json()["unknown"] == ["no-such-site"]

        for body, words in [
            (b"{not json", "request body is not valid JSON"),
            (b'{"sources": "alpha-news"}', "body field 'sources': must be a list"),
            (b'{"sources": [1]}', "body field 'sources.0': must be a string"),
            (b'{"source": ["alpha-news"]}', "body field 'source': is not a known field"),
            (b"[]", "request body"),
        ]:
            bad = client.post("/v1/crawls", content=body, headers={"Content-Type": "application/json"})
            assert bad.status_code == 422, (body, bad.text)
            assert words in bad.json()["message"], (body, bad.json())
        assert client.get("/v1/crawls/nope").status_code == 404


def test_broken_sources_file_is_503_naming_the_problem(sqlite_url, tmp_path, store):
    bad = tmp_path / "bad.yaml"
    bad.write_text("sources:\n  - name: x\n    schedule: 15m\n", encoding="utf-8")
    settings = Settings(database_url=sqlite_url, config=bad, api_token=TOKEN)
    with api(settings, store) as running:
        response = httpx.post(
            running.base_url + "/v1/crawls",
            json={"sources": []},
            headers={"Authorization": f"Bearer {TOKEN}"},
        )
        assert response.status_code == 503
        assert response.json()["error"] == "config_error"
        assert "source 'x'" in response.json()["message"]


def _publish_demo_site(name: str, server: SiteServer, www: Path) -> None:
    """The demo's round-1 copy of one site, with its {site} placeholders filled in."""
    bundle = Path(str(resources.files("newsdedup") / "demo_sites")) / "round1" / name
    shutil.copytree(bundle, www, dirs_exist_ok=True)
    for path in www.rglob("*"):
        if path.suffix in (".html", ".xml", ".txt"):
            path.write_text(
                path.read_text(encoding="utf-8").replace(f"{{{name}}}", server.base_url), encoding="utf-8"
            )


def test_post_crawl_runs_a_real_crawl_in_a_child_process(sqlite_url, tmp_path, store):
    www = tmp_path / "www"
    www.mkdir()
    with SiteServer(www, host="127.0.0.2") as site:
        _publish_demo_site("harbor-times", site, www)
        sources = tmp_path / "sources.yaml"
        sources.write_text(
            f"sources:\n  - name: harbor-times\n    feeds: ['{site.base_url}/feed.xml']\n"
            f"    schedule: 15m\n    allow_private_addresses: true\n",
            encoding="utf-8",
        )
        settings = Settings(database_url=sqlite_url, config=sources, api_token=TOKEN)
        auth = {"Authorization": f"Bearer {TOKEN}"}
        with (
            api(settings, store) as running,
            httpx.Client(base_url=running.base_url, headers=auth, timeout=30) as client,
        ):
            started = client.post("/v1/crawls", json={"sources": ["harbor-times"]})
            assert started.status_code == 202, started.text
            crawl_id = started.json()["crawl_id"]
            assert started.json()["sources"] == ["harbor-times"]

            # One crawl at a time in embedded mode (the child needs seconds to import Scrapy).
            second = client.post("/v1/crawls", json={})
            assert second.status_code == 409
            assert second.json()["running_crawl_id"] == crawl_id

            deadline = time.monotonic() + 180
            status = client.get(f"/v1/crawls/{crawl_id}").json()
            while status["state"] == "running" and time.monotonic() < deadline:
                time.sleep(0.5)
                status = client.get(f"/v1/crawls/{crawl_id}").json()
            assert status["state"] == "finished", status
            assert "pages fetched" in status["summary"]

            feed = client.get("/v1/feed").json()["items"]
            assert {r["source"] for r in feed} == {"harbor-times"}
            assert any("Terminal Expansion" in r["title"] for r in feed), [r["title"] for r in feed]
            # Empty list: every source. Allowed now that the first crawl is over.
            again = client.post("/v1/crawls", json={"sources": []})
            assert again.status_code == 202 and again.json()["sources"] == ["harbor-times"]


@pytest.mark.redis
def test_distributed_post_crawl_queues_one_task_per_source(sqlite_url, tmp_path, store, redis_url):
    import redis

    from newsdedup.workers.queues import CRAWLS_QUEUE

    settings = Settings(
        database_url=sqlite_url, config=write_sources(tmp_path), api_token=TOKEN, redis_url=redis_url
    )
    client = redis.Redis.from_url(redis_url)
    try:
        with api(settings, store) as running:
            response = httpx.post(
                running.base_url + "/v1/crawls",
                json={"sources": []},
                headers={"Authorization": f"Bearer {TOKEN}"},
                timeout=30,
            )
            # No worker runs: both tasks wait in the broker. (Checked at once: other test runs
            # on this machine share and flush the test Redis databases.)
            queued = client.llen(CRAWLS_QUEUE)
        assert response.status_code == 202, response.text
        assert response.json()["sources"] == ["alpha-news", "beta-wire"]
        assert len(response.json()["crawl_id"]) >= 16
        assert queued == 2
    finally:
        client.close()
