"""The hard dedup cases through the `newsdedup` command, in three crawl rounds, embedded and
distributed.

Three sites on loopback (tests/sites/hardcases/: article bodies written for this project, set
in one page layout whose chrome — cookie banner, byline time, "Updated ..." line, comment count,
newsletter prompt, "Most read" list — changes every round; no site answers 304):

- round 1: harbor-times publishes a long article, a "live dashboard" page whose only text is
  "Loading the live dashboard..." and a newsletter prompt, and a brief opening with an agency
  paragraph; coast-post publishes another brief opening with the same agency paragraph;
  valley-news publishes a syndicated copy of a harbor-times story that names no canonical URL
  (the original is not online yet).
- round 2: harbor-times republishes its article at a new URL as "UPDATE 1-" with one paragraph
  added and one figure changed; coast-post publishes its own copy of the harbor-times story,
  naming the original (still not online) with rel=canonical.
- round 3: the harbor-times original of the syndicated story comes online.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from string import Template

import pytest
from faultkit import start_worker
from helpers import newsdedup, newsdedup_env, summary_of

from newsdedup.siteserver import SiteServer

FIXTURES = Path(__file__).parent / "sites" / "hardcases"
REPO = Path(__file__).resolve().parents[1]
HOSTS = {"harbor-times": "127.0.0.2", "coast-post": "127.0.0.3", "valley-news": "127.0.0.4"}
SITE_NAMES = {"harbor-times": "Harbor Times", "coast-post": "Coast Post", "valley-news": "Valley News"}

# path → (site, title, author, canonical path on harbor-times or None, first round served)
ARTICLES = {
    "harbor/2026/04/desal-plant.html": (
        "harbor-times",
        "Water board approves Pier 9 desalination plant",
        "Nora Quist",
        None,
        1,
    ),
    "harbor/briefs/a9-buses.html": ("harbor-times", "A9 closure halts Bregenz buses", "Alpine Wire", None, 1),
    "coast/news/a9-promenade.html": (
        "coast-post",
        "Lindau promenade shut as lake rises",
        "Alpine Wire",
        None,
        1,
    ),
    "valley/wire/ferry-tender.html": (
        "valley-news",
        "Norwegian yard to build electric ferries for Marrow Island",
        "Dev Patel",
        None,
        1,
    ),
    "harbor/2026/04/desal-plant-update-1.html": (
        "harbor-times",
        "UPDATE 1-Water board approves Pier 9 desalination plant, conservancy to appeal",
        "Nora Quist",
        None,
        2,
    ),
    "coast/syndication/ferry-tender.html": (
        "coast-post",
        "Electric ferries ordered for Marrow Island crossing",
        "Dev Patel",
        "/2026/04/ferry-tender.html",
        2,
    ),
    "harbor/2026/04/ferry-tender.html": (
        "harbor-times",
        "Norwegian yard to build electric ferries for Marrow Island",
        "Dev Patel",
        None,
        3,
    ),
}
DASHBOARD = "harbor/live/dashboard.html"

CHROME = [
    dict(
        cookie_banner="We use cookies to improve your experience. Read our cookie policy.",
        byline_time="9:12 AM",
        updated_line="Updated 5 minutes ago",
        comments="4 comments",
        newsletter="Get the $site morning briefing: the day's top stories in your inbox before 7 a.m.",
        most_read='<li><a href="/m1">Harbor tunnel reopens after repairs</a></li>'
        '<li><a href="/m2">Fish market rents to rise</a></li>',
    ),
    dict(
        cookie_banner="This website uses cookies. Manage your preferences.",
        byline_time="11:40 AM",
        updated_line="Updated 2 hours ago",
        comments="19 comments",
        newsletter="Never miss a story: sign up for the $site evening briefing, free every weekday.",
        most_read='<li><a href="/m3">Council delays vote on bus lanes</a></li>'
        '<li><a href="/m1">Harbor tunnel reopens after repairs</a></li>',
    ),
    dict(
        cookie_banner="Cookies help us deliver our services. By using them you agree.",
        byline_time="2:05 PM",
        updated_line="Updated 1 minute ago",
        comments="33 comments",
        newsletter="Subscribe to the $site weekend digest and get our best reads every Saturday.",
        most_read='<li><a href="/m4">Lighthouse keeper retires after 40 years</a></li>',
    ),
]


def render(path: str, round_number: int, base: dict[str, str]) -> str:
    site, title, author, canonical, _ = ARTICLES[path]
    own_url = f"{base[site]}/{path.split('/', 1)[1]}"
    chrome = {
        key: Template(value).safe_substitute(site=SITE_NAMES[site])
        for key, value in CHROME[round_number - 1].items()
    }
    layout = Template((FIXTURES / "_layout.html").read_text(encoding="utf-8"))
    return layout.substitute(
        chrome,
        title=title,
        author=author,
        site=SITE_NAMES[site],
        head="",
        canonical=f"{base['harbor-times']}{canonical}" if canonical else own_url,
        body=(FIXTURES / path).read_text(encoding="utf-8"),
    )


def publish(root: Path, round_number: int, base: dict[str, str]) -> None:
    """Lay out the sites as they are in ``round_number``: pages, feeds and a sitemap."""
    listed: dict[str, list[str]] = {site: [] for site in HOSTS}
    for path, (site, *_, first_round) in ARTICLES.items():
        if first_round > round_number:
            continue
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(render(path, round_number, base), encoding="utf-8")
        listed[site].append(f"{base[site]}/{path.split('/', 1)[1]}")
    # Several hundred KB of numbers and two lines of text.
    data = json.dumps([{"t": i, "level_m": round(1.5 + (i % 97) / 100, 2)} for i in range(30000)])
    dashboard = Template((FIXTURES / DASHBOARD).read_text(encoding="utf-8")).substitute(dashboard_data=data)
    (root / DASHBOARD).parent.mkdir(parents=True, exist_ok=True)
    (root / DASHBOARD).write_text(dashboard, encoding="utf-8")
    listed["harbor-times"].append(f"{base['harbor-times']}/live/dashboard.html")
    for site, folder in (("harbor-times", "harbor"), ("valley-news", "valley")):
        items = "".join(f"<item><title>{url}</title><link>{url}</link></item>" for url in listed[site])
        (root / folder / "feed.xml").write_text(
            f'<?xml version="1.0"?><rss version="2.0"><channel><title>{site}</title>'
            f"<link>{base[site]}/</link>{items}</channel></rss>",
            encoding="utf-8",
        )
    urls = "".join(f"<url><loc>{url}</loc></url>" for url in listed["coast-post"])
    (root / "coast" / "sitemap.xml").write_text(
        f'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>',
        encoding="utf-8",
    )


@pytest.fixture(
    params=["embedded", pytest.param("distributed", marks=[pytest.mark.redis, pytest.mark.postgres])]
)
def world(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[dict[str, str], Callable[[int], None], dict[str, str]]]:
    root = tmp_path / "www"
    servers = {}
    workers: list[subprocess.Popen[bytes]] = []
    try:
        for site, folder in (("harbor-times", "harbor"), ("coast-post", "coast"), ("valley-news", "valley")):
            (root / folder).mkdir(parents=True)
            servers[site] = SiteServer(root / folder, host=HOSTS[site]).start()
            servers[site].conditional = False  # every page in full, every round
        base = {site: server.base_url for site, server in servers.items()}
        config = tmp_path / "sources.yaml"
        config.write_text(
            "sources:\n"
            f'  - {{name: harbor-times, feeds: ["{base["harbor-times"]}/feed.xml"]}}\n'
            f'  - {{name: coast-post, sitemaps: ["{base["coast-post"]}/sitemap.xml"]}}\n'
            f'  - {{name: valley-news, feeds: ["{base["valley-news"]}/feed.xml"]}}\n',
            encoding="utf-8",
        )
        env = newsdedup_env()
        env.update(NEWSDEDUP_CONFIG=str(config), NEWSDEDUP_ALLOW_PRIVATE_ADDRESSES="1")
        if request.param == "embedded":
            env["NEWSDEDUP_DATABASE_URL"] = f"sqlite:///{tmp_path / 'store.db'}"
        else:
            env.update(
                NEWSDEDUP_DATABASE_URL=request.getfixturevalue("postgres_url"),
                NEWSDEDUP_REDIS_URL=request.getfixturevalue("redis_url"),
                NEWSDEDUP_LSH_BASENAME="hard-cases",
            )
            workers.append(start_ready_worker(env, tmp_path))
        yield env, lambda n: publish(root, n, base), base
    finally:
        from test_distributed import kill_group

        for process in workers:
            kill_group(process)
        if (tmp_path / "worker.log").exists():  # shown by pytest when the test failed
            sys.stderr.write((tmp_path / "worker.log").read_text(errors="replace")[-4000:])
        for server in servers.values():
            server.stop()


def start_ready_worker(env: dict[str, str], tmp_path: Path) -> subprocess.Popen[bytes]:
    from test_distributed import wait_ready

    from newsdedup.config import Settings
    from newsdedup.workers.app import create_celery_app

    log = open(tmp_path / "worker.log", "wb")
    process = start_worker(env, "hard@%h", log, 2)
    settings = Settings(
        redis_url=env["NEWSDEDUP_REDIS_URL"],
        database_url=env["NEWSDEDUP_DATABASE_URL"],
        lsh_basename="hard-cases",
    )
    wait_ready(create_celery_app(settings), ["hard"])
    return process


def records(env: dict[str, str]) -> list[dict]:
    return [json.loads(line) for line in newsdedup(env, "feed").stdout.splitlines()]


def with_url(found: list[dict], url: str) -> dict:
    [record] = [r for r in found if url in r["urls"]]
    return record


def test_hard_cases_over_three_rounds(world) -> None:
    env, publish_round, base = world
    harbor, coast, valley = base["harbor-times"], base["coast-post"], base["valley-news"]
    original = f"{harbor}/2026/04/ferry-tender.html"

    publish_round(1)
    first = newsdedup(env, "crawl", "--explain").stdout
    counts = summary_of(first)
    assert counts["created"] == 4 and counts["rejected"] == 1 and counts["errors"] == 0, first
    found = records(env)
    # A page with no article (a loading line and a newsletter prompt) is no article.
    assert not any(url.endswith("/live/dashboard.html") for r in found for url in r["urls"]), found
    # Two briefs that share an agency paragraph and then tell different things stay apart.
    buses = with_url(found, f"{harbor}/briefs/a9-buses.html")
    promenade = with_url(found, f"{coast}/news/a9-promenade.html")
    assert buses["id"] != promenade["id"]
    assert "replacement taxis" in buses["text"] and "promenade" in promenade["text"]
    copy = with_url(found, f"{valley}/wire/ferry-tender.html")
    assert copy["canonical_url"] == f"{valley}/wire/ferry-tender.html"

    publish_round(2)
    second = newsdedup(env, "crawl", "--explain").stdout
    counts = summary_of(second)
    # The update at a new URL is a version; the copy naming its original is a duplicate; the
    # pages whose own text did not change (only their chrome did) make nothing.
    assert counts["updated"] == 1 and counts["duplicates"] == 1 and counts["created"] == 0, second
    assert counts["unchanged"] == 4 and counts["errors"] == 0, second
    found = records(env)
    desal = with_url(found, f"{harbor}/2026/04/desal-plant.html")
    assert f"{harbor}/2026/04/desal-plant-update-1.html" in desal["urls"]
    assert desal["version"] == 2
    assert "45 million litres" in desal["text"] and "Gull Point Conservancy" in desal["text"]
    assert desal["title"].startswith("UPDATE 1-")
    assert with_url(found, f"{harbor}/briefs/a9-buses.html")["version"] == 1
    assert with_url(found, f"{coast}/news/a9-promenade.html")["version"] == 1
    # The copy named the original: that is the canonical URL now, before the original is seen.
    ferry = with_url(found, f"{coast}/syndication/ferry-tender.html")
    assert ferry["canonical_url"] == original
    assert set(ferry["urls"]) == {
        f"{valley}/wire/ferry-tender.html",
        f"{coast}/syndication/ferry-tender.html",
    }

    publish_round(3)
    third = newsdedup(env, "crawl", "--explain").stdout
    counts = summary_of(third)
    assert counts["duplicates"] == 1 and counts["unchanged"] == 6, third
    assert counts["created"] == counts["updated"] == counts["errors"] == 0, third
    found = records(env)
    assert len(found) == 4
    ferry = with_url(found, original)
    assert ferry["canonical_url"] == original and ferry["source"] == "harbor-times"
    assert ferry["urls"][0] == original
    assert with_url(found, f"{harbor}/2026/04/desal-plant.html")["version"] == 2
