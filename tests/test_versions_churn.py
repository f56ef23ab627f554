"""Versions mean the article changed: crawl rounds through the `newsdedup` command.

A site on loopback serves three articles (tests/pages/churn/*.html, templates written for this
project) whose chrome changes on every round: "Updated 5 minutes ago" / "Last updated ..." /
"Aktualisiert am ..." lines inside the article, the time in the byline, a comment count, an ad
slot, a "Related:" link, a "Most read" list, a cookie banner. The server never answers 304, so
every page comes back in full each round, as on many real sites.

- Round 2 changes only the chrome: no article is updated and the feed has nothing new.
- Round 3 changes the chrome again and corrects one number in one article and one name in
  another: exactly those two get a new version, with the corrected text.
"""

from __future__ import annotations

import json
from pathlib import Path
from string import Template

import pytest
from helpers import newsdedup, newsdedup_env, summary_of

from newsdedup.siteserver import SiteServer

TEMPLATES = Path(__file__).parent / "pages" / "churn"
ARTICLES = {  # served path → template
    "news/2026/03/council-budget.html": "council-budget.html",
    "news/2026/03/night-ferry.html": "harbour-ferry.html",
    "lokales/2026/03/hallenbad.html": "stadtrat-schwimmbad.html",
}

# What the page says of itself that is not the article; one mapping per round.
CHROME = [
    dict(
        cookie_banner="We use cookies to improve your experience. Read our cookie policy.",
        byline_time="10:42 AM",
        updated_line="Updated 5 minutes ago",
        last_updated_line="Last updated: March 3, 2026 10:05",
        ad_text="Sponsored: Find the best mortgage rates in Riverside today with our partners",
        related="Flood repairs to start on the ring road next week",
        related_items='<li><a href="/a">Flood repairs to start on the ring road next week</a></li>'
        '<li><a href="/b">New head teacher named at Riverside Academy after long search</a></li>',
        comments="12 comments",
        most_read='<li><a href="/m1">Ferry timetable changes for the summer season announced</a></li>'
        '<li><a href="/m2">Local bakery wins national bread award</a></li>',
    ),
    dict(
        cookie_banner="This website uses cookies and similar technologies. Manage your preferences.",
        byline_time="11:07 AM",
        updated_line="Updated 1 hour ago",
        last_updated_line="Last updated: March 3, 2026 11:40",
        ad_text="Holiday deals to the coast from 99 dollars, book this week only",
        related="Bus depot plan goes to public consultation in April",
        related_items='<li><a href="/c">Bus depot plan goes to public consultation in April</a></li>'
        '<li><a href="/a">Flood repairs to start on the ring road next week</a></li>',
        comments="31 comments",
        most_read='<li><a href="/m3">Police appeal after break-ins at allotments</a></li>'
        '<li><a href="/m1">Ferry timetable changes for the summer season announced</a></li>',
    ),
    dict(
        cookie_banner="Cookies help us deliver our services. By using them you agree.",
        byline_time="1:15 PM",
        updated_line="Updated 12 minutes ago",
        last_updated_line="Last updated: March 4, 2026 08:30",
        ad_text="Advertise with us: reach forty thousand readers every week",
        related="Riverside Academy opens new science wing",
        related_items='<li><a href="/d">Riverside Academy opens new science wing</a></li>',
        comments="57 comments",
        most_read='<li><a href="/m4">Road closures for the spring marathon</a></li>'
        '<li><a href="/m5">Council tax bills explained</a></li>'
        '<li><a href="/m3">Police appeal after break-ins at allotments</a></li>',
    ),
]
# The German page's own chrome wording, per round.
GERMAN = [
    dict(
        updated_line="vor 5 Minuten",
        last_updated_line="Aktualisiert am 03.03.2026, 10:05 Uhr",
        byline_time="02.03.2026, 16:20 Uhr",
        comments="12 Kommentare",
    ),
    dict(
        updated_line="vor 2 Stunden",
        last_updated_line="Aktualisiert am 03.03.2026, 12:40 Uhr",
        byline_time="02.03.2026, 18:02 Uhr",
        comments="31 Kommentare",
    ),
    dict(
        updated_line="vor 1 Minute",
        last_updated_line="Aktualisiert am 04.03.2026, 09:15 Uhr",
        byline_time="04.03.2026, 09:15 Uhr",
        comments="40 Kommentare",
    ),
]
# The article text's own values; round 3 corrects one number and one name.
ARTICLE = [
    dict(amount="1.2 million dollars", hours="9", name="Wagner"),
    dict(amount="1.2 million dollars", hours="9", name="Wagner"),
    dict(amount="1.2 million dollars", hours="11", name="Weber"),
]


@pytest.fixture
def site(tmp_path: Path):
    root = tmp_path / "www"
    root.mkdir()
    server = SiteServer(root, host="127.0.0.7").start()
    server.conditional = False  # no ETag, no Last-Modified, never a 304: every page in full
    sources = tmp_path / "sources.yaml"
    sources.write_text(
        f'sources:\n  - name: ledger\n    feeds: ["{server.base_url}/feed.xml"]\n    schedule: 15m\n'
    )
    env = newsdedup_env()
    env.update(
        NEWSDEDUP_DATABASE_URL=f"sqlite:///{tmp_path / 'store.db'}",
        NEWSDEDUP_CONFIG=str(sources),
        NEWSDEDUP_ALLOW_PRIVATE_ADDRESSES="1",
    )

    def publish(round_index: int) -> None:
        for path, template in ARTICLES.items():
            values = {**CHROME[round_index], **ARTICLE[round_index]}
            if template.startswith("stadtrat"):
                values.update(GERMAN[round_index])
            html = Template((TEMPLATES / template).read_text(encoding="utf-8")).substitute(values)
            target = root / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(html, encoding="utf-8")
        items = "".join(
            f"<item><title>{p}</title><link>{server.base_url}/{p}</link></item>" for p in ARTICLES
        )
        (root / "feed.xml").write_text(
            f'<?xml version="1.0"?><rss version="2.0"><channel><title>Ledger</title>'
            f"<link>{server.base_url}/</link>{items}</channel></rss>",
            encoding="utf-8",
        )

    try:
        yield server, env, publish
    finally:
        server.stop()


def feed(env: dict[str, str], after: int = 0) -> list[dict]:
    return [json.loads(line) for line in newsdedup(env, "feed", "--after", str(after)).stdout.splitlines()]


def test_chrome_churn_makes_no_version_and_a_one_word_correction_does(site) -> None:
    server, env, publish = site

    publish(0)
    counts = summary_of(newsdedup(env, "crawl", "--explain").stdout)
    assert counts["created"] == 3 and counts["errors"] == 0 and counts["rejected"] == 0, counts
    first = feed(env)
    assert len(first) == 3
    for record in first:
        for chrome in (
            "cookie",
            "Cookies",
            "comments",
            "Kommentare",
            "minutes ago",
            "Minuten",
            "Sponsored",
            "mortgage",
            "Related",
            "Lesen Sie auch",
            "Most read",
            "Meistgelesen",
            "bakery",
            "10:42",
        ):
            assert chrome not in record["text"], (chrome, record["text"])
    last = max(record["seq"] for record in first)

    # Round 2: only the chrome changed, and every page came back in full.
    publish(1)
    second = newsdedup(env, "crawl", "--explain").stdout
    counts = summary_of(second)
    assert counts["fetched"] == 3 and counts["not_modified"] == 0, second
    assert counts["unchanged"] == 3, second
    assert counts["created"] == counts["updated"] == counts["duplicates"] == counts["errors"] == 0, second
    assert feed(env, after=last) == []
    assert not any(r.status == 304 for r in server.requests)

    # Round 3: chrome changed again, and two articles were corrected by one word each.
    publish(2)
    third = newsdedup(env, "crawl", "--explain").stdout
    counts = summary_of(third)
    assert counts["updated"] == 2 and counts["unchanged"] == 1, third
    assert counts["created"] == counts["duplicates"] == counts["errors"] == 0, third
    updates = {record["title"]: record for record in feed(env, after=last)}
    assert set(updates) == {
        "Night Ferry to the Islands Returns After Two Winters",
        "Stadtrat beschließt Sanierung des Hallenbads",
    }
    ferry = updates["Night Ferry to the Islands Returns After Two Winters"]
    assert ferry["version"] == 2
    assert "take about 11 hours" in ferry["text"] and "about 9 hours" not in ferry["text"]
    pool = updates["Stadtrat beschließt Sanierung des Hallenbads"]
    assert pool["version"] == 2
    assert "Kämmerer Jonas Weber" in pool["text"] and "Wagner" not in pool["text"]
