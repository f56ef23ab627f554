"""Two crawl rounds through the `newsdedup` command against three sites on loopback.

The sites are the demo's (newsdedup/demo_sites): a feed site with an "old version" URL, a
wire site with a syndicated copy, a listing site with a print URL and a robots.txt-disallowed
draft. Between the rounds one story is updated in place and another republished as an
"UPDATE 1-" revision at a new URL.
"""

from __future__ import annotations

import json
from pathlib import Path

import feedparser
import pytest
from helpers import newsdedup, newsdedup_env, summary_of

from newsdedup.demo import DemoSites


@pytest.fixture
def world(tmp_path: Path):
    with DemoSites(tmp_path) as sites:
        env = newsdedup_env()
        env.update(
            NEWSDEDUP_DATABASE_URL=f"sqlite:///{tmp_path / 'store.db'}",
            NEWSDEDUP_ALLOW_PRIVATE_ADDRESSES="1",
            NEWSDEDUP_CONFIG=str(sites.sources_file),
        )
        yield sites.servers, env, sites.publish, sites.placeholders


def test_two_rounds_find_duplicates_and_updates(world) -> None:
    servers, env, publish, _placeholders = world
    harbor, wire, metro = (servers[n].base_url for n in ("harbor-times", "coastal-wire", "metro-daily"))

    publish(1)
    first = newsdedup(env, "crawl", "--explain")
    counts = summary_of(first.stdout)
    assert counts["created"] == 5, first.stdout
    assert counts["duplicates"] == 3, first.stdout
    assert counts["errors"] == 0 and counts["updated"] == 0, first.stdout

    publish(2)
    second = newsdedup(env, "crawl", "--explain")
    counts = summary_of(second.stdout)
    assert counts["updated"] == 2, second.stdout  # in place, and "UPDATE 1-" at a new URL
    assert counts["created"] == 0, second.stdout
    assert counts["not_modified"] >= 5, second.stdout  # unchanged pages answered 304

    from newsdedup.store import Store

    with Store.open(env["NEWSDEDUP_DATABASE_URL"]) as store:
        totals = store.feed_reader.stats()
    assert totals["pages_fetched"] == summary_of(first.stdout)["fetched"] + counts["fetched"]
    assert totals["not_modified"] == counts["not_modified"]

    records = [json.loads(line) for line in newsdedup(env, "feed").stdout.splitlines()]
    by_title = {record["title"]: record for record in records}
    assert len(records) == 5, [r["title"] for r in records]

    terminal = by_title["Harbor Authority Approves Eastern Terminal Expansion"]
    assert terminal["version"] == 2
    assert "noise barrier" in terminal["text"]
    assert terminal["canonical_url"] == f"{harbor}/2026/03/terminal-expansion.html"
    assert set(terminal["urls"]) == {
        f"{harbor}/2026/03/terminal-expansion.html",
        f"{harbor}/2026/03/terminal-expansion-old.html",
        f"{wire}/wire/terminal-expansion.html",
    }
    assert terminal["source"] == "harbor-times"
    assert terminal["sources"] == ["coastal-wire", "harbor-times"]
    assert "Updated 2 minutes ago" not in terminal["text"]

    bridge = next(r for r in records if "Old Mill Bridge" in r["title"])
    assert bridge["version"] == 2
    assert "ten weeks" in bridge["text"]
    assert f"{metro}/news/2026/03/bridge-closure-update-1.html" in bridge["urls"]
    assert f"{metro}/print/2026/03/bridge-closure.html" in bridge["urls"]

    # Different stories on the same topic stay apart.
    assert {
        "Ferry Crews Vote to Strike Over Rosters",
        "Port Budget Leaves Little Room for Road Upgrades",
        "Night Trains Return to the Coastal Line",
    } <= set(by_title)

    # Politeness: robots.txt obeyed, conditional requests on the second round.
    assert not servers["metro-daily"].requests_for("/drafts/embargoed.html")
    conditional = [r for s in servers.values() for r in s.requests if "if-none-match" in r.headers]
    assert conditional and any(r.status == 304 for r in conditional)
    assert all("newsdedup" in r.headers.get("user-agent", "") for s in servers.values() for r in s.requests)

    # The cursor: nothing after the last seq; the Atom form parses.
    last = max(record["seq"] for record in records)
    assert newsdedup(env, "feed", "--after", str(last)).stdout == ""
    assert [
        json.loads(line)["seq"] for line in newsdedup(env, "feed", "--limit", "2").stdout.splitlines()
    ] == sorted(r["seq"] for r in records)[:2]
    atom = feedparser.parse(newsdedup(env, "feed", "--format", "atom").stdout)
    assert not atom.bozo and len(atom.entries) == 5

    # A third round with nothing changed puts nothing new in the feed, also when the sites
    # stop answering conditional requests and every page comes back in full.
    for server in servers.values():
        server.conditional = False
    third = newsdedup(env, "crawl", "--explain")
    counts = summary_of(third.stdout)
    assert counts["fetched"] >= 9 and counts["not_modified"] == 0, third.stdout
    assert counts["created"] == counts["updated"] == counts["errors"] == 0, third.stdout
    assert newsdedup(env, "feed", "--after", str(last)).stdout == ""


def test_demo_runs_offline(tmp_path: Path) -> None:
    env = newsdedup_env()
    result = newsdedup(env, "demo", "--keep", str(tmp_path), check=False, timeout=300)
    print(result.stdout, result.stderr)  # shown by pytest when the test fails
    assert result.returncode == 0
    assert "syndicated" in result.stdout
    assert "0 to the robots.txt-disallowed" in result.stdout
    assert "Old Mill Bridge" in result.stdout
