"""Bad input through the whole path (`newsdedup crawl` → extract → dedup → store): counted,
recorded with URL and reason, never an article; the good pages still arrive."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import yaml
from helpers import NEWSDEDUP, newsdedup, newsdedup_env

from newsdedup.siteserver import SiteServer
from newsdedup.store import Store

SITES = Path(__file__).parent / "sites"


def test_bad_pages_are_counted_recorded_and_never_articles(tmp_path: Path) -> None:
    with (
        SiteServer(SITES / "daily", host="127.0.0.2") as daily,
        SiteServer(SITES / "wire", host="127.0.0.3") as wire,
    ):
        daily.set_routes({"/2025/01/moved.html": {"redirect": wire.url("/stories/landing.html")}})
        d = daily.base_url
        sources = {
            "sources": [
                {
                    "name": "daily",
                    "feeds": [
                        f"{d}/rss.xml",
                        f"{d}/atom.xml",
                        f"{d}/feed-broken.xml",
                        f"{d}/feed-badlinks.xml",
                    ],
                    "sitemaps": [f"{d}/sitemap_index.xml"],
                    "listings": [f"{d}/news/index.html"],
                    "article_links": r"/(2025/\d\d|private)/[^/]+$",
                }
            ]
        }
        config = tmp_path / "sources.yaml"
        config.write_text(yaml.safe_dump(sources))
        database = f"sqlite:///{tmp_path / 'store.db'}"
        env = newsdedup_env()
        env.update(
            NEWSDEDUP_DATABASE_URL=database,
            NEWSDEDUP_CONFIG=str(config),
            NEWSDEDUP_ALLOW_PRIVATE_ADDRESSES="1",
            NEWSDEDUP_DOWNLOAD_TIMEOUT="1",
            NEWSDEDUP_MAX_PAGE_BYTES="1000000",
            NEWSDEDUP_RETRY_TIMES="1",
        )
        crawl = newsdedup(env, "crawl", check=False, timeout=240)
        print(crawl.stdout, crawl.stderr)
        assert crawl.returncode == 0
        feed = subprocess.run(
            [*NEWSDEDUP, "feed"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout

    summary = re.search(r"(\d+) rejected, (\d+) errors", crawl.stdout)
    assert summary and int(summary.group(2)) >= 8, crawl.stdout
    records = [json.loads(line) for line in feed.splitlines()]
    urls = {url for record in records for url in record["urls"]}
    # Only pages that hold an article became articles.
    for bad in (
        "missing.html",
        "broken-500.html",
        "slow.html",
        "report.pdf",
        "empty.html",
        "huge.html",
        "moved.html",
        "secret-draft.html",
    ):
        assert not any(url.endswith(bad) for url in urls), bad
    # Good pages arrived, and the ones with a wrong or missing charset read right.
    assert any(url.endswith("harbour-bridge.html") for url in urls)
    texts = "\n".join(record["title"] + "\n" + record["text"] for record in records)
    assert "Fernwärme" in texts and "Gebühren" in texts  # latin-1, charset only in <meta>
    assert "marché" in texts  # latin-1 served as "charset=utf-8"
    assert not re.search("Ã[¤¶¼©\x9f]|\ufffd", texts), "a latin-1 page decoded as UTF-8"
    # The page cut off mid-tag still held its article.
    assert any(url.endswith("cut-off.html") for url in urls)

    with Store.open(database) as store:
        failures = {f["url"].rsplit("/", 1)[-1]: f["reason"] for f in store.failure_log.latest(limit=100)}
    assert failures["missing.html"] == "HTTP 404"
    assert failures["broken-500.html"] == "HTTP 500"
    assert failures["report.pdf"] == "not HTML: application/pdf"
    assert failures["slow.html"].startswith("timeout")
    assert failures["huge.html"].startswith("larger than")
    assert failures["moved.html"].startswith("redirect to another host")
    assert failures["feed-broken.xml"].startswith("broken feed")
