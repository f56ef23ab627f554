"""Sites that refuse the bot: 403, 429 and anti-bot challenge pages are "blocked" failures, never
articles nor broken feeds; the host is asked more slowly afterwards; a 429 is asked once more
after its Retry-After; robots.txt's Crawl-delay spaces the requests to a host.

The crawls run against tests/sites/blocked on loopback (newsdedup.siteserver), in a child
process (tests/crawl_helpers.py).
"""

from __future__ import annotations

import email.utils
import itertools
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from crawl_helpers import crawl_with

from newsdedup.crawler.blocking import (
    CHALLENGE_MAX_BYTES,
    backoff_delay,
    challenge_vendor,
    retry_after_seconds,
)

PAGES = Path(__file__).parent / "pages"
SITES = Path(__file__).parent / "sites"
BACKOFF = 0.4  # NEWSDEDUP_BLOCKED_BACKOFF for these crawls
RETRY_AFTER = 1  # what tests/sites/blocked answers with its 429


# --------------------------------------------------------------------------- recognising challenge pages
@pytest.mark.parametrize(
    ("page", "vendor"),
    [
        ("cloudflare", "cloudflare"),
        ("datadome", "datadome"),
        ("perimeterx", "perimeterx"),
        ("imperva", "imperva"),
        ("sucuri", "sucuri"),
        ("akamai", "akamai"),
    ],
)
def test_each_vendors_challenge_page_is_recognised(page: str, vendor: str) -> None:
    body = (PAGES / "challenges" / f"{page}.html").read_bytes()
    assert challenge_vendor(200, {}, body) == vendor
    assert challenge_vendor(403, {}, body) == vendor


def test_cloudflares_challenge_header_alone_is_enough() -> None:
    assert challenge_vendor(403, {"cf-mitigated": "challenge"}, b"") == "cloudflare"


@pytest.mark.parametrize("page", sorted(p.name for p in PAGES.glob("*.html")))
def test_real_articles_are_no_challenge_pages(page: str) -> None:
    assert challenge_vendor(200, {}, (PAGES / page).read_bytes()) is None


def test_articles_of_protected_sites_and_articles_about_bots_are_no_challenge_pages() -> None:
    article = (PAGES / "news_jsonld.html").read_text(encoding="utf-8")
    # Cloudflare puts its bot-detection script into ordinary pages; Imperva its resource script.
    protected = article.replace(
        "</body>",
        '<script src="/cdn-cgi/challenge-platform/scripts/jsd/main.js"></script>'
        '<script>window.__CF$cv$params={r:"8f0",t:"MTcw"};</script>'
        '<script src="/_Incapsula_Resource?SWJIYLWA=719d34d31c8e3a6e6fffd425f7e032f3"></script>'
        '<script>window._pxAppId="PXabcdef12";</script></body>',
    )
    assert challenge_vendor(200, {}, protected.encode()) is None
    # A story about bot walls names the vendors and their markers in its text.
    story = article.replace(
        "</body>",
        "<p>Readers now meet pages titled Just a moment... from Cloudflare, DataDome's "
        "captcha-delivery.com, the px-captcha box, Incapsula's _Incapsula_Resource and an Akamai "
        "Access Denied page with Reference #18.5c2e1402.1700000000.1a2b3c4d.</p></body>",
    )
    assert challenge_vendor(200, {}, story.encode()) is None
    # Markers in a long page are not looked at: interstitials are small.
    long_page = (PAGES / "challenges" / "cloudflare.html").read_bytes() + b" " * CHALLENGE_MAX_BYTES
    assert challenge_vendor(200, {}, long_page) is None


def test_retry_after_is_read_as_seconds_or_as_an_http_date() -> None:
    assert retry_after_seconds("120") == 120
    now = time.time()
    in_a_minute = email.utils.formatdate(now + 60, usegmt=True)
    assert 58 <= (retry_after_seconds(in_a_minute, now=now) or 0) <= 61
    assert retry_after_seconds(email.utils.formatdate(now - 60, usegmt=True), now=now) == 0
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds(None) is None


def test_the_back_off_doubles_honours_retry_after_and_stops_at_its_cap() -> None:
    delays, current = [], 0.0
    for _ in range(8):
        current = backoff_delay(current, backoff=5, max_delay=120)
        delays.append(current)
    assert delays == [5, 10, 20, 40, 80, 120, 120, 120]
    assert backoff_delay(10, backoff=5, max_delay=120, retry_after=60) == 60
    assert backoff_delay(10, backoff=5, max_delay=120, retry_after=3600) == 120  # capped
    assert backoff_delay(0, backoff=5, max_delay=120, retry_after=1) == 5


# --------------------------------------------------------------------------- crawls
@pytest.fixture(scope="module")
def blocked_crawl(tmp_path_factory):
    from newsdedup.siteserver import SiteServer

    work = tmp_path_factory.mktemp("blocked")
    with SiteServer(SITES / "blocked", host="127.0.0.2") as site:
        sources = [
            {"name": "blocked", "feeds": [site.url("/rss.xml")]},
            # Its feed is a Cloudflare interstitial answered with 503.
            {"name": "walled", "feeds": [site.url("/walled/rss.xml")]},
        ]
        result = crawl_with(
            sources,
            work,
            "blocked",
            blocked_backoff=BACKOFF,
            blocked_max_delay=5.0,
            concurrent_requests_per_domain=1,
        )
        log = site.requests
    return {"result": result, "log": log}


def _failures(result) -> dict[str, str]:
    return {urlsplit(f["url"]).path: f["reason"] for f in result["failed"]}


def test_refusals_are_blocked_failures_with_their_own_reasons(blocked_crawl):
    failures = _failures(blocked_crawl["result"])
    assert failures["/2025/01/forbidden.html"] == "blocked: HTTP 403"
    assert failures["/2025/01/limited.html"] == "blocked: HTTP 429"
    assert failures["/2025/01/cf.html"] == "blocked: challenge page (cloudflare)"  # answered 200
    assert failures["/2025/01/dd.html"] == "blocked: challenge page (datadome)"  # answered 403
    assert failures["/2025/01/px.html"] == "blocked: challenge page (perimeterx)"


def test_challenge_and_refused_pages_never_become_articles(blocked_crawl):
    accepted = {urlsplit(p["url"]).path for p in blocked_crawl["result"]["accepted"]}
    assert accepted == {"/2025/01/story.html"}


def test_a_challenge_page_instead_of_a_feed_is_a_blocked_failure_not_a_broken_feed(blocked_crawl):
    failures = _failures(blocked_crawl["result"])
    assert failures["/walled/rss.xml"] == "blocked: challenge page (cloudflare)"


def test_refusals_are_not_retried_as_server_errors(blocked_crawl):
    log = blocked_crawl["log"]
    for path in ("/2025/01/forbidden.html", "/2025/01/cf.html", "/2025/01/dd.html", "/walled/rss.xml"):
        assert len([r for r in log if r.path == path]) == 1, path


def test_a_429_is_asked_once_more_after_its_retry_after(blocked_crawl):
    asked = [r for r in blocked_crawl["log"] if r.path == "/2025/01/limited.html"]
    assert len(asked) == 2
    assert asked[1].time - asked[0].time >= RETRY_AFTER * 0.9


def test_after_a_refusal_the_host_is_asked_more_slowly(blocked_crawl):
    log = [r for r in blocked_crawl["log"] if r.path != "/walled/rss.xml"]
    first_refusal = next(i for i, r in enumerate(log) if r.status in (403, 429) or r.path.endswith("cf.html"))
    after = log[first_refusal:]
    assert len(after) >= 3
    gaps = [b.time - a.time for a, b in itertools.pairwise(after)]
    # The back-off doubles from BACKOFF with each refusal; no gap is shorter than the first.
    assert min(gaps) >= BACKOFF * 0.9, gaps


def test_robots_crawl_delay_spaces_the_requests_to_a_host(tmp_path):
    from newsdedup.siteserver import SiteServer

    site_root = tmp_path / "site"
    (site_root / "2025/01").mkdir(parents=True)
    for name in ("story", "forbidden", "limited"):
        (site_root / f"2025/01/{name}.html").write_bytes(
            (SITES / f"blocked/2025/01/{name}.html").read_bytes()
        )
    (site_root / "rss.xml").write_text(
        (SITES / "blocked/rss.xml")
        .read_text()
        .replace("cf.html", "story.html?cf")
        # three articles, plain 200s
        .replace("dd.html", "story.html?dd")
        .replace("px.html", "story.html?px")
        .replace("forbidden.html", "story.html?f")
        .replace("limited.html", "story.html?l")
    )
    (site_root / "robots.txt").write_text("User-agent: *\nCrawl-delay: 1\nDisallow:\n")
    with SiteServer(site_root, host="127.0.0.2") as site:
        result = crawl_with([{"name": "polite", "feeds": [site.url("/rss.xml")]}], tmp_path, "polite")
        log = [r for r in site.requests if r.path != "/robots.txt"]
    assert len(result["accepted"]) == 6
    assert len(log) == 7  # the feed and six article URLs
    gaps = [b.time - a.time for a, b in itertools.pairwise(log)]
    assert min(gaps) >= 0.9, gaps


def test_a_host_that_refused_one_source_is_asked_more_slowly_by_the_others(tmp_path):
    """Each source is a crawler of its own; the back-off is the host's, for all of them."""
    from newsdedup.siteserver import SiteServer

    site_root = tmp_path / "site"
    (site_root / "open").mkdir(parents=True)
    story = (SITES / "blocked/2025/01/story.html").read_text()
    for n in range(4):
        (site_root / f"open/{n}.html").write_text(story.replace("</h1>", f" {n}</h1>"))
    items = "".join(f"<item><link>{{{{base_url}}}}/open/{n}.html</link></item>" for n in range(4))
    (site_root / "open/rss.xml").write_text(
        f"<rss version='2.0'><channel><title>o</title>{items}</channel></rss>"
    )
    (site_root / "_routes.json").write_text(
        # The refusing source's feed is refused at once; the other's answers after it.
        '{"/refused/rss.xml": {"status": 403}, "/open/rss.xml": {"delay": 0.5}}'
    )
    with SiteServer(site_root, host="127.0.0.2") as site:
        result = crawl_with(
            [
                {"name": "refused", "feeds": [site.url("/refused/rss.xml")]},
                {"name": "open", "feeds": [site.url("/open/rss.xml")]},
            ],
            tmp_path,
            "shared",
            blocked_backoff=BACKOFF,
            blocked_max_delay=5.0,
            concurrent_requests_per_domain=1,
        )
        log = site.requests
    assert _failures(result) == {"/refused/rss.xml": "blocked: HTTP 403"}
    assert len(result["accepted"]) == 4
    refused_at = next(r.time for r in log if r.path == "/refused/rss.xml")
    articles = [r for r in log if r.path.startswith("/open/") and r.path != "/open/rss.xml"]
    assert len(articles) == 4 and articles[0].time > refused_at
    gaps = [b.time - a.time for a, b in itertools.pairwise(articles)]
    assert min(gaps) >= BACKOFF * 0.9, gaps
