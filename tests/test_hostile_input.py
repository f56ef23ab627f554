"""Hostile input: pages, feeds and sitemaps written to stall a crawl, exhaust the machine or
reach what the operator did not allow (README, "Security").

The functions are fed the pathological inputs of the issue (runs of the characters each
pattern repeats, one very long line, deep nesting) and must give their answer; a time limit
per test (pytest-timeout) only guards against a hang. Then a whole crawl of a small hostile
web served on loopback, next to ordinary articles, through the `newsdedup` command.
"""

from __future__ import annotations

import json
import random
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from faultkit import start_worker
from helpers import NEWSDEDUP, newsdedup, newsdedup_env

from newsdedup.dedup import DedupParams, fingerprint
from newsdedup.dedup.normalize import normalize
from newsdedup.extract import Document, Rejection, extract_document
from newsdedup.extract.metadata import clean_authors, strip_site_name
from newsdedup.extract.text import clean_text
from newsdedup.siteserver import SiteServer
from newsdedup.store import Store

WORDS = [
    "harbour",
    "council",
    "ferry",
    "budget",
    "strike",
    "terminal",
    "bridge",
    "workers",
    "union",
    "vote",
    "mayor",
    "port",
    "city",
    "river",
    "school",
    "teachers",
    "rail",
    "night",
    "trains",
    "tunnel",
    "station",
    "fares",
    "energy",
    "prices",
    "households",
    "winter",
    "storm",
    "coast",
    "flood",
    "defence",
    "village",
    "farmers",
    "market",
    "water",
    "supply",
    "hospital",
    "nurses",
    "shift",
    "police",
    "court",
    "judge",
    "ruling",
    "appeal",
    "minister",
    "plan",
    "funding",
    "report",
    "survey",
    "residents",
    "traffic",
    "cyclists",
    "lanes",
]


def article_html(seed: int, title: str, head: str = "", body_extra: str = "") -> str:
    rng = random.Random(seed)
    paragraphs = "\n".join(
        "<p>" + " ".join(rng.choice(WORDS) for _ in range(40)).capitalize() + ".</p>" for _ in range(6)
    )
    return (
        f"<html><head><title>{title}</title>{head}</head><body><article><h1>{title}</h1>"
        f"{paragraphs}{body_extra}</article></body></html>"
    )


# --------------------------------------------------------------------------- the patterns


@pytest.mark.timeout(60)
@pytest.mark.parametrize("run", ["@", "a@", "@a", "a.", "\t", " ", "-", "：", "…"])
def test_an_author_field_of_repeated_characters_costs_a_linear_pass(run: str) -> None:
    # The issue: 1,600 "@"-like characters took 3.2 s in the e-mail pattern, 8x per doubling.
    field = run * (40_000 // len(run))
    assert clean_authors([field]) == []
    assert "Jane Doe" in clean_authors([f"By Jane Doe, Staff Writer {run * 200}"])
    assert len(strip_site_name(field, ["Site"], "https://site.example/a")) <= 1000


@pytest.mark.timeout(60)
def test_a_page_with_a_pathological_author_meta_is_still_its_article() -> None:
    html = article_html(1, "Ferry strike ends", head=f'<meta name="author" content="{"@" * 20_000}">')
    document = extract_document(html, "https://news.example/2025/01/ferry.html")
    assert isinstance(document, Document)
    assert document.authors == () and document.title == "Ferry strike ends"


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    "line",
    [
        "follow @" + "a-" * 20_000,  # the issue: 40 KB took 33 s in fingerprint
        "follow us " + "on " * 15_000 + "x",
        "subscribe " * 5_000 + "to nothing",
        "copyright" + " " * 40_000 + "x",
        "updated " + "1 " * 20_000,
        "by " + "a " * 20_000 + "10:42",
    ],
)
def test_one_very_long_line_is_article_text_and_costs_a_linear_pass(line: str) -> None:
    assert normalize(line)  # a long line is never chrome: it stays
    assert clean_text(line)
    assert fingerprint(line, DedupParams()).shingle_count > 0


@pytest.mark.timeout(120)
def test_deep_nesting_neither_stalls_extraction_nor_hides_the_article() -> None:
    deep_json = "[" * 100_000 + "]" * 100_000
    nested = "<div>" * 3000 + "<span>Updated " + "x" * 50_000 + "</span>" + "</div>" * 3000
    html = article_html(
        2,
        "Night trains return",
        head=f'<script type="application/ld+json">{deep_json}</script>',
        body_extra=nested,
    )
    document = extract_document(html, "https://news.example/2025/01/trains.html")
    assert isinstance(document, Document) and document.title == "Night trains return"


def test_a_text_longer_than_the_cap_is_rejected_with_its_reason() -> None:
    html = article_html(3, "A very long read", body_extra="<p>" + "word " * 50_000 + "</p>")
    rejected = extract_document(html, "https://news.example/2025/01/long.html", max_chars=100_000)
    assert isinstance(rejected, Rejection) and rejected.reason == "too-long"
    assert isinstance(
        extract_document(html, "https://news.example/2025/01/long.html", max_chars=1_000_000), Document
    )


# --------------------------------------------------------------------------- a hostile web


def _write_site(root: Path, internal_port: int) -> dict[str, str]:
    """The source's site: ordinary articles beside hostile pages and documents. Returns
    {path: kind} of the article pages its feed lists."""
    (root / "2025" / "01").mkdir(parents=True)
    pages = {}
    for number in range(1, 5):
        path = f"/2025/01/story-{number}.html"
        (root / path.lstrip("/")).write_text(
            article_html(100 + number, f"Ordinary story {number}"), encoding="utf-8"
        )
        pages[path] = "ordinary"
    hostile = {
        "author.html": article_html(0, "x", head=f'<meta name="author" content="{"@" * 30_000}">')
        .replace("<article>", "<article><!--")
        .replace("</article>", "--></article>"),  # no text: a trap only
        "follow.html": "<html><body><article><p>follow @" + "a-" * 20_000 + "</p></article></body></html>",
        "nested.html": "<html><body>" + "<div>" * 5000 + "deep" + "</div>" * 5000 + "</body></html>",
        "title.html": "<html><head><title>"
        + "：" * 50_000
        + "</title></head><body><p>short</p></body></html>",
        "too-long.html": article_html(7, "Endless", body_extra="<p>" + " ".join(WORDS) * 600 + "</p>"),
        # 2 MB of paragraphs: about a minute of extraction on a laptop, far past its budget.
        "huge.html": "<html><body><article>"
        + "<p>one two three four five six seven</p>\n" * 50_000
        + "</article></body></html>",
    }
    for name, html in hostile.items():
        (root / "2025" / "01" / name).write_text(html, encoding="utf-8")
        pages[f"/2025/01/{name}"] = "hostile"
    for name in ("other-port.html", "to-other-port.html"):
        pages[f"/2025/01/{name}"] = "hostile"
    items = "".join(
        f"<item><title>{kind}</title><link>{{{{base_url}}}}{path}</link></item>"
        for path, kind in pages.items()
        if not path.endswith("other-port.html")
    )
    items += (
        f"<item><title>admin</title><link>http://{{{{host}}}}:{internal_port}/admin.html</link></item>"
        "<item><title>redirect</title><link>{{base_url}}/2025/01/to-other-port.html</link></item>"
    )
    (root / "rss.xml").write_text(
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>Site</title>{items}</channel></rss>',
        encoding="utf-8",
    )
    laughs = ['<!ENTITY lol "lol">'] + [
        f'<!ENTITY lol{i} "{(f"&lol{i - 1};" if i > 1 else "&lol;") * 10}">' for i in range(1, 10)
    ]
    (root / "laughs.xml").write_text(
        '<?xml version="1.0"?>\n<!DOCTYPE rss [\n' + "\n".join(laughs) + "\n]>\n"
        '<rss version="2.0"><channel><title>&lol9;</title><item><title>&lol9;</title>'
        "<link>{{base_url}}/2025/01/story-1.html</link></item></channel></rss>",
        encoding="utf-8",
    )
    return pages


@pytest.fixture(
    params=["embedded", pytest.param("distributed", marks=[pytest.mark.redis, pytest.mark.postgres])]
)
def mode(request: pytest.FixtureRequest, tmp_path: Path):
    """{NEWSDEDUP_* of the mode}: embedded (SQLite, extraction pool) or distributed (Redis,
    PostgreSQL and a real `newsdedup worker`, whose page budget is a timer in the worker)."""
    if request.param == "embedded":
        yield {
            "NEWSDEDUP_DATABASE_URL": f"sqlite:///{tmp_path / 'store.db'}",
            "NEWSDEDUP_EXTRACT_PROCESSES": "2",
        }
        return
    from test_distributed import kill_group, wait_ready

    from newsdedup.config import Settings
    from newsdedup.workers.app import create_celery_app

    env = {
        "NEWSDEDUP_DATABASE_URL": request.getfixturevalue("postgres_url"),
        "NEWSDEDUP_REDIS_URL": request.getfixturevalue("redis_url"),
        "NEWSDEDUP_LSH_BASENAME": "hostile-test",
    }
    worker_env = newsdedup_env()
    worker_env.update(env, NEWSDEDUP_PAGE_TIME_LIMIT="8", NEWSDEDUP_MAX_TEXT_CHARS="100000")
    log = open(tmp_path / "worker.log", "wb")
    worker = start_worker(worker_env, "h1@%h", log, 2)
    try:
        wait_ready(
            create_celery_app(
                Settings(redis_url=env["NEWSDEDUP_REDIS_URL"], database_url=env["NEWSDEDUP_DATABASE_URL"])
            ),
            ["h1"],
        )
        yield env
    finally:
        kill_group(worker)
        sys.stderr.write((tmp_path / "worker.log").read_text(errors="replace")[-3000:])


@pytest.mark.timeout(600)
def test_a_crawl_of_a_hostile_web_stores_every_ordinary_article_and_nothing_else(
    tmp_path: Path, mode
) -> None:
    site_root, internal_root, other_root = tmp_path / "site", tmp_path / "internal", tmp_path / "other"
    for root in (internal_root, other_root):
        root.mkdir()
    (internal_root / "admin.html").write_text(
        article_html(999, "Internal admin page SECRET"), encoding="utf-8"
    )
    (other_root / "feed.xml").write_text(
        '<?xml version="1.0"?><rss version="2.0"><channel><item>'
        "<link>{{base_url}}/a.html</link></item></channel></rss>",
        encoding="utf-8",
    )
    with (
        SiteServer(internal_root, host="127.0.0.2") as internal,
        SiteServer(other_root, host="127.0.0.3") as other,
    ):
        pages = _write_site(site_root, internal.port)
        with SiteServer(
            site_root,
            host="127.0.0.2",
            routes={
                "/tree/*": {"sitemap_tree": 5},  # an endless tree of indexes
                "/2025/01/to-other-port.html": {
                    "redirect": f"http://127.0.0.2:{internal.port}/admin.html?via=redirect"
                },
            },
        ) as site:
            base = site.base_url
            sources = {
                "sources": [
                    {
                        "name": "hostile",
                        "feeds": [f"{base}/rss.xml", f"{base}/laughs.xml"],
                        "sitemaps": [f"{base}/tree/root.xml"],
                        "allow_private_addresses": True,
                    },
                    # Not opted in: a name that resolves to loopback, and a private address literal.
                    {
                        "name": "outsider",
                        "feeds": [f"http://localhost:{site.port}/rss.xml", f"{other.base_url}/feed.xml"],
                    },
                ]
            }
            config = tmp_path / "sources.yaml"
            config.write_text(yaml.safe_dump(sources))
            database = mode["NEWSDEDUP_DATABASE_URL"]
            env = newsdedup_env()
            env.update(
                mode,
                NEWSDEDUP_CONFIG=str(config),
                NEWSDEDUP_RETRY_TIMES="0",
                NEWSDEDUP_MAX_SITEMAPS="30",
                NEWSDEDUP_PAGE_TIME_LIMIT="8",
                NEWSDEDUP_MAX_TEXT_CHARS="100000",
            )
            crawl = newsdedup(env, "crawl", check=False, timeout=500)
            print(crawl.stdout, crawl.stderr[-5000:])
            assert crawl.returncode == 0
            feed = subprocess.run(
                [*NEWSDEDUP, "feed"],
                env=env,
                capture_output=True,
                text=True,
                timeout=60,
                check=True,
            ).stdout
            tree_requests = [r for r in site.requests if r.path.startswith("/tree/")]
            site_port, other_base = site.port, other.base_url
        internal_port = internal.port
        other_requests = other.requests
        internal_requests = internal.requests

    records = [json.loads(line) for line in feed.splitlines()]
    stored = {url.split(base, 1)[-1] for record in records for url in record["urls"]}
    assert stored == {path for path, kind in pages.items() if kind == "ordinary"}
    assert "SECRET" not in feed
    # Nothing was asked of what the sources did not allow.
    assert internal_requests == [] and other_requests == []
    # The endless tree of sitemap indexes was followed as far as the limit, no further.
    assert 1 <= len(tree_requests) <= 30

    with Store.open(database) as store:
        failures = {(f["source"], f["url"]): f["reason"] for f in store.failure_log.latest(limit=500)}
    by_name = {url.rsplit("/", 1)[-1]: reason for (_, url), reason in failures.items()}
    assert by_name["laughs.xml"].startswith("broken feed: declares entities")
    assert (
        by_name["admin.html"] == f"refused: port {internal_port} is not a port of the source's discovery URLs"
    )
    assert by_name["to-other-port.html"] == by_name["admin.html"]  # where the redirect led
    assert by_name["huge.html"] == "timed out"
    assert by_name["too-long.html"].startswith("too-long")
    assert any(reason.startswith("sitemap limit: more than 30 sitemaps") for reason in failures.values())
    for name in ("author.html", "follow.html", "nested.html", "title.html"):
        assert by_name[name] != "timed out", name  # rejected for what they hold, quickly
    outsider = {url: reason for (source, url), reason in failures.items() if source == "outsider"}
    assert outsider[f"http://localhost:{site_port}/rss.xml"] == (
        "refused: localhost resolves to 127.0.0.1, a loopback address"
    )
    assert outsider[f"{other_base}/feed.xml"] == "refused: 127.0.0.3 is a loopback address"


@pytest.mark.timeout(300)
def test_a_crawl_ends_at_its_time_limit_and_says_so(tmp_path: Path) -> None:
    (tmp_path / "www").mkdir()
    with SiteServer(
        tmp_path / "www", host="127.0.0.2", routes={"/tree/*": {"sitemap_tree": 3, "delay": 0.5}}
    ) as site:
        config = tmp_path / "sources.yaml"
        config.write_text(
            yaml.safe_dump(
                {
                    "sources": [
                        {
                            "name": "slow",
                            "sitemaps": [f"{site.base_url}/tree/root.xml"],
                            "allow_private_addresses": True,
                        }
                    ]
                }
            )
        )
        env = newsdedup_env()
        database = f"sqlite:///{tmp_path / 'store.db'}"
        env.update(
            NEWSDEDUP_DATABASE_URL=database,
            NEWSDEDUP_CONFIG=str(config),
            NEWSDEDUP_CRAWL_TIME_LIMIT="3",
            NEWSDEDUP_MAX_SITEMAPS="100000",
            NEWSDEDUP_MAX_SITEMAP_DEPTH="50",
        )
        crawl = newsdedup(env, "crawl", check=False, timeout=240)
        print(crawl.stdout, crawl.stderr[-3000:])
    assert crawl.returncode == 0
    assert re.search(r"\b1 errors\b", crawl.stdout)
    assert "crawl stopped by its time limit after 3s" in crawl.stderr
    with Store.open(database) as store:
        reasons = [f["reason"] for f in store.failure_log.latest()]
    assert reasons == ["crawl time limit: stopped after 3s (NEWSDEDUP_CRAWL_TIME_LIMIT)"]


@pytest.mark.parametrize(
    ("address", "problem"),
    [
        ("127.0.0.1", "a loopback address"),
        ("::1", "a loopback address"),
        ("::ffff:127.0.0.1", "a loopback address"),
        ("10.1.2.3", "a private address"),
        ("192.168.0.10", "a private address"),
        ("172.16.5.4", "a private address"),
        ("169.254.169.254", "a link-local address"),
        ("fe80::1", "a link-local address"),
        ("224.0.0.251", "a multicast address"),
        ("0.0.0.0", "an unspecified address"),
        ("240.0.0.1", "a private address"),
        ("100.64.0.1", "not a public address"),
        ("93.184.216.34", None),
        ("2606:2800:220:1:248:1893:25c8:1946", None),
    ],
)
def test_only_public_addresses_pass(address: str, problem: str | None) -> None:
    from newsdedup.crawler.addresses import address_problem

    found = address_problem(address)
    assert (found is None) if problem is None else found == f"{address} is {problem}"
