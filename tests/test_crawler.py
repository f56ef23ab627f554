"""The crawler against real loopback news sites (newsdedup.siteserver), two crawl rounds.

Scrapy's reactor cannot restart in one process, so each crawl runs in a child process
(this file run as a script, see ``_child_main``) with a recording sink that writes what it
got to a JSON file, and keeps validators and discovery links in a JSON state file between
rounds, as the store would.

Sites (tests/sites/): ``daily`` on 127.0.0.2 has every kind of discovery document and every
bad input; ``wire`` on 127.0.0.3 is a second source and the target of an offsite redirect.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest

SITES = Path(__file__).parent / "sites"
USER_AGENT = "newsdedup-testbot/1.0 (+https://example.invalid/bot)"
TEST_SETTINGS = {
    "user_agent": USER_AGENT,
    "allow_private_addresses": True,  # the sites are served on loopback
    "download_timeout": 1.0,  # slow.html waits 5 s
    "max_page_bytes": 1_000_000,  # huge.html is 3 MB
    "retry_times": 1,
    "autothrottle_start_delay": 0.0,
    "autothrottle_max_delay": 1.0,
    "concurrent_requests_per_domain": 8,
}
ARTICLES = "/2025/01/"


# --------------------------------------------------------------------------- child process
class RecordingSink:
    """A PageSink that records everything; validators/discovery persist in a JSON state file."""

    def __init__(self, state_path: Path) -> None:
        self.state_path = state_path
        self.state = (
            json.loads(state_path.read_text()) if state_path.exists() else {"validators": {}, "discovery": {}}
        )
        self.accepted: list[dict[str, Any]] = []
        self.not_modified_urls: list[str] = []
        self.failures: list[dict[str, str]] = []
        self.skips: list[dict[str, str]] = []
        self.listening_ports: set[int] = set()

    def validators(self, url: str):
        from newsdedup.fetched.page import Validators

        saved = self.state["validators"].get(url)
        return Validators(**saved) if saved else None

    def validators_many(self, urls):
        return {url: found for url in urls if (found := self.validators(url)) is not None}

    def discovery_links(self, url: str) -> list[str] | None:
        saved = self.state["discovery"].get(url)
        return saved["links"] if saved else None

    def save_discovery(self, url, validators, links) -> None:
        self.state["discovery"][url] = {"links": list(links)}
        self.state["validators"][url] = asdict(validators)

    def accept(self, page) -> None:
        record = asdict(page)
        record["fetched_at"] = page.fetched_at.isoformat()
        self.accepted.append(record)
        self.listening_ports |= listening_tcp_ports()
        # The store saves validators only once a page is fully processed: here, at once.
        if page.validators:
            self.state["validators"][page.url] = asdict(page.validators)

    def not_modified(self, url: str, source: str) -> None:
        self.not_modified_urls.append(url)

    def failed(self, url: str, source: str, reason: str) -> None:
        self.failures.append({"url": url, "source": source, "reason": reason})

    def skipped(self, url: str, source: str, reason: str) -> None:
        self.skips.append({"url": url, "source": source, "reason": reason})

    def finish(self) -> None:
        self.state_path.write_text(json.dumps(self.state))


def listening_tcp_ports() -> set[int]:
    """TCP ports this process listens on (Linux: its socket inodes matched in /proc/net/tcp*)."""
    import os

    inodes = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        if not os.path.exists(table):
            continue
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and fields[9] in inodes:  # 0A: LISTEN
                ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


def _child_main(job_path: str) -> None:
    from newsdedup.config import Settings, parse_sources
    from newsdedup.crawler.run import run_crawl

    job = json.loads(Path(job_path).read_text())
    sink = RecordingSink(Path(job["state"]))
    progress: list[dict[str, Any]] = []
    stats = run_crawl(
        parse_sources({"sources": job["sources"]}),
        Settings(**job["settings"]),
        sink,
        crawl_id=job["crawl_id"],
        progress=lambda p: progress.append(asdict(p)),
    )
    sink.finish()
    Path(job["out"]).write_text(
        json.dumps(
            {
                "accepted": sink.accepted,
                "not_modified": sink.not_modified_urls,
                "failed": sink.failures,
                "skipped": sink.skips,
                "stats": asdict(stats),
                "progress": progress,
                "listening_ports": sorted(sink.listening_ports),
            }
        )
    )


# --------------------------------------------------------------------------- test helpers
def crawl(sources: list[dict[str, Any]], work: Path, crawl_id: str) -> dict[str, Any]:
    job = {
        "sources": sources,
        "settings": TEST_SETTINGS,
        "crawl_id": crawl_id,
        "state": str(work / "state.json"),
        "out": str(work / f"{crawl_id}.json"),
    }
    job_path = work / f"{crawl_id}-job.json"
    job_path.write_text(json.dumps(job))
    done = subprocess.run(
        [sys.executable, __file__, str(job_path)],
        cwd=Path(__file__).parents[1],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return json.loads(Path(job["out"]).read_text())


def by_path(records: list[dict[str, Any]], key: str = "url") -> dict[str, dict[str, Any]]:
    from urllib.parse import urlsplit

    return {urlsplit(r[key]).path: r for r in records}


@pytest.fixture(scope="module")
def rounds(tmp_path_factory):
    """Two crawls of the daily and wire sites; a page changes between them."""
    from newsdedup.siteserver import SiteServer

    work = tmp_path_factory.mktemp("crawl")
    daily_root = work / "daily"
    shutil.copytree(SITES / "daily", daily_root)  # round 2 edits a page: never in the repo
    with (
        SiteServer(daily_root, host="127.0.0.2") as daily,
        SiteServer(SITES / "wire", host="127.0.0.3") as wire,
    ):
        daily.set_routes({"/2025/01/moved.html": {"redirect": wire.url("/stories/landing.html")}})
        d = daily.base_url
        sources = [
            {
                "name": "daily",
                "feeds": [
                    f"{d}/rss.xml",
                    f"{d}/atom.xml",
                    f"{d}/rdf.xml",
                    f"{d}/feed-broken.xml",
                    f"{d}/feed-badlinks.xml",
                ],
                "sitemaps": [f"{d}/sitemap_index.xml"],
                "listings": [f"{d}/news/index.html"],
                "article_links": r"/(2025/\d\d|private)/[^/]+$",
            },
            {"name": "wire", "feeds": [wire.url("/feed.rss")]},
            # A listing of three stories nobody else lists (a shared sink would answer 304).
            {
                "name": "capped",
                "listings": [wire.url("/index.html")],
                "article_links": r"/stories/[a-z-]+\.html$",
                "max_pages": 2,
            },
        ]
        first = crawl(sources, work, "round-1")
        first_log = daily.requests
        daily.clear_log()

        changed = daily_root / "2025/01/harbour-bridge.html"
        changed.write_text(
            changed.read_text(encoding="utf-8").replace(
                "Traders on the waterfront fear a quiet spring",
                "UPDATE: the council has now agreed to keep one lane open for buses",
            ),
            encoding="utf-8",
        )
        second = crawl(sources[:1], work, "round-2")
        second_log = daily.requests
        wire_log = wire.requests
    return {
        "first": first,
        "second": second,
        "first_log": first_log,
        "second_log": second_log,
        "wire_log": wire_log,
    }


# --------------------------------------------------------------------------- round 1
def daily_pages(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return by_path([p for p in result["accepted"] if p["source"] == "daily"])


def test_articles_from_every_kind_of_discovery_reach_the_sink(rounds):
    pages = daily_pages(rounds["first"])
    expected = {
        "harbour-bridge",
        "city-council-budget",  # RSS 2.0 (+ Atom, + sitemap)
        "zurich-tram",  # Atom
        "river-festival",  # RSS 1.0 (RDF)
        "election-results",
        "museum-reopens",  # Google News sitemap, sitemap via index
        "school-strike",
        "latin1-meta",
        "latin1-wrong-header",
        "cut-off",  # listing
        "moved-inside",  # RSS, redirected inside the site
    }
    assert set(pages) == {f"{ARTICLES}{slug}.html" for slug in expected}
    wire_pages = by_path([p for p in rounds["first"]["accepted"] if p["source"] == "wire"])
    assert set(wire_pages) == {"/stories/markets-close-higher.html"}


def test_the_crawl_listens_on_no_port(rounds):
    # Scrapy's telnet console and remote-control server would accept connections (and code)
    # while a crawl runs; a crawler has no business listening.
    assert rounds["first"]["accepted"]
    assert rounds["first"]["listening_ports"] == []


def test_each_article_is_fetched_once_per_crawl(rounds):
    fetched = [r.path for r in rounds["first_log"] if r.path.startswith(ARTICLES)]
    counts = {path: fetched.count(path) for path in fetched}
    assert counts[f"{ARTICLES}city-council-budget.html"] == 1  # RSS and Atom both list it
    assert counts[f"{ARTICLES}harbour-bridge.html"] == 1  # RSS and sitemap both list it
    accepted_urls = [p["url"] for p in rounds["first"]["accepted"] if p["source"] == "daily"]
    assert len(accepted_urls) == len(set(accepted_urls))


def test_redirect_inside_the_site_keeps_the_listed_url(rounds):
    page = daily_pages(rounds["first"])[f"{ARTICLES}moved-inside.html"]
    assert page["final_url"].endswith(f"{ARTICLES}renamed.html")
    assert "Library opening hours extended" in page["html"]


def test_feed_and_sitemap_hints_are_passed_on(rounds):
    pages = daily_pages(rounds["first"])
    # Listed by the RSS and Atom feeds only. (harbour-bridge is also in a plain sitemap, whose
    # page may be fetched before the feed is read: its hints are then the sitemap's.)
    budget = pages[f"{ARTICLES}city-council-budget.html"]["hints"]
    assert budget["title"] == "City council passes budget after long night"
    assert budget["published"] == "2025-01-07T22:10:00+00:00"
    election = pages[f"{ARTICLES}election-results.html"]["hints"]
    assert election["title"] == "Mayor re-elected in close run-off"
    assert election["published"].startswith("2025-01-10T22:45")


def test_text_is_decoded_right_whatever_the_charset_header_says(rounds):
    pages = daily_pages(rounds["first"])
    no_charset = pages[f"{ARTICLES}latin1-meta.html"]
    assert no_charset["headers"]["content-type"] == "text/html"
    assert "Zürich" in no_charset["html"] and "Jürgen Müller" in no_charset["html"]
    wrong_charset = pages[f"{ARTICLES}latin1-wrong-header.html"]
    assert wrong_charset["headers"]["content-type"] == "text/html; charset=utf-8"
    assert "marché de Noël" in wrong_charset["html"] and "Hôtel de Ville" in wrong_charset["html"]
    assert "\ufffd" not in wrong_charset["html"]
    assert "Zürich-built trams" in pages[f"{ARTICLES}zurich-tram.html"]["html"]


def test_html_cut_off_mid_tag_is_still_handed_on(rounds):
    page = daily_pages(rounds["first"])[f"{ARTICLES}cut-off.html"]
    assert "Gusts of up to 110 kilometres" in page["html"]


def test_page_carries_what_the_pipeline_needs(rounds):
    page = daily_pages(rounds["first"])[f"{ARTICLES}museum-reopens.html"]
    assert page["status"] == 200 and page["crawl_id"] == "round-1"
    assert page["headers"]["etag"].startswith('"') and page["headers"]["last-modified"]
    assert page["fetched_at"].endswith("+00:00")


def test_bad_inputs_fail_with_clear_reasons_and_the_crawl_goes_on(rounds):
    failures = by_path([f for f in rounds["first"]["failed"] if f["source"] == "daily"])
    reasons = {path: f["reason"] for path, f in failures.items()}
    assert reasons[f"{ARTICLES}missing.html"] == "HTTP 404"
    assert reasons[f"{ARTICLES}broken-500.html"] == "HTTP 500"
    assert reasons[f"{ARTICLES}slow.html"] == "timeout after 1s"
    assert reasons[f"{ARTICLES}report.pdf"] == "not HTML: application/pdf"
    assert reasons[f"{ARTICLES}empty.html"] == "empty body"
    assert reasons[f"{ARTICLES}huge.html"] == "larger than 1000000 bytes"
    assert reasons[f"{ARTICLES}moved.html"].startswith("redirect to another host: http://127.0.0.3:")
    assert reasons["/feed-broken.xml"].startswith("broken feed")
    skips = by_path([f for f in rounds["first"]["skipped"] if f["source"] == "daily"])
    assert skips["/private/secret-draft.html"]["reason"] == "disallowed by robots.txt"
    assert "/private/secret-draft.html" not in reasons  # obeying robots.txt is not an error
    # The good pages listed after every bad one still arrived (see the first test).
    assert len(daily_pages(rounds["first"])) == 11


def test_retries_server_errors_but_not_client_errors(rounds):
    statuses = [r.status for r in rounds["first_log"] if r.path == f"{ARTICLES}broken-500.html"]
    assert statuses == [500, 500]  # retry_times=1
    assert len([r for r in rounds["first_log"] if r.path == f"{ARTICLES}missing.html"]) == 1


def test_robots_txt_is_obeyed(rounds):
    paths = [r.path for r in rounds["first_log"]]
    assert "/robots.txt" in paths
    assert not any(p.startswith("/private/") for p in paths)


def test_offsite_redirect_is_not_followed(rounds):
    assert not [r for r in rounds["wire_log"] if r.path == "/stories/landing.html"]


def test_broken_links_in_a_feed_are_skipped_and_counted(rounds):
    stats = rounds["first"]["stats"]["per_source"]["daily"]
    assert stats["bad_links"] == 3
    # The one good link of that feed is still crawled.
    assert f"{ARTICLES}school-strike.html" in daily_pages(rounds["first"])


def test_every_request_names_the_bot(rounds):
    agents = {r.headers.get("user-agent") for r in rounds["first_log"] + rounds["wire_log"]}
    assert agents == {USER_AGENT}


def test_max_pages_limits_a_source(rounds):
    capped = [p for p in rounds["first"]["accepted"] if p["source"] == "capped"]
    capped_failed = [f for f in rounds["first"]["failed"] if f["source"] == "capped"]
    stats = rounds["first"]["stats"]["per_source"]["capped"]
    assert len(capped) + len(capped_failed) == 2
    assert stats["discovered"] == 2 and stats["over_limit"] == 1


def test_stats_and_progress_count_what_happened(rounds):
    first = rounds["first"]
    stats = first["stats"]
    assert stats["pages_fetched"] == len(first["accepted"])
    assert stats["errors"] == len(first["failed"])
    assert stats["not_modified"] == 0
    assert stats["per_source"]["daily"]["pages_fetched"] == 11
    finished = [p for p in first["progress"] if p["outcome"] != "discovered"]
    assert stats["disallowed"] == len(first["skipped"]) == 1
    assert len(finished) == stats["pages_fetched"] + stats["errors"] + stats["disallowed"]
    assert finished[-1]["done"] == stats["pages_fetched"] + stats["errors"] + stats["disallowed"]


# --------------------------------------------------------------------------- round 2
def test_second_crawl_asks_conditionally_and_counts_not_modified(rounds):
    log = {r.path: r for r in rounds["second_log"] if r.path.startswith(ARTICLES)}
    museum = log[f"{ARTICLES}museum-reopens.html"]
    assert museum.headers.get("if-none-match") and museum.headers.get("if-modified-since")
    assert museum.status == 304
    second = rounds["second"]
    not_modified = set(by_path([{"url": u} for u in second["not_modified"]]))
    assert f"{ARTICLES}museum-reopens.html" in not_modified
    assert f"{ARTICLES}zurich-tram.html" in not_modified
    assert second["stats"]["not_modified"] == len(second["not_modified"])
    # Pages that failed last time have no validators: asked plainly.
    assert "if-none-match" not in log[f"{ARTICLES}missing.html"].headers


def test_second_crawl_fetches_the_changed_page_again(rounds):
    pages = daily_pages(rounds["second"])
    assert set(pages) == {f"{ARTICLES}harbour-bridge.html"}
    assert "UPDATE: the council has now agreed" in pages[f"{ARTICLES}harbour-bridge.html"]["html"]


def test_second_crawl_reuses_discovery_documents_that_did_not_change(rounds):
    log = {r.path: r for r in rounds["second_log"]}
    for path in ("/rss.xml", "/atom.xml", "/rdf.xml", "/sitemap-news.xml", "/news/index.html"):
        assert log[path].status == 304, path
    # Articles known only from a 304 feed are still asked for (so updates are found).
    assert f"{ARTICLES}river-festival.html" in log


if __name__ == "__main__":
    _child_main(sys.argv[1])
