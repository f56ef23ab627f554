"""A news site the console's browser tests crawl (written here, served by SiteServer), and
Chromium driven by Playwright (no tests of its own)."""

from __future__ import annotations

import html
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
AXE = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"
HOSTILE_TITLE = "<img src=x onerror=alert(1)>"

CRANES = [
    "Harbour cranes at the eastern terminal stopped on Monday after a power fault cut the supply to "
    "the quay, leaving three container ships waiting at anchor outside the breakwater.",
    "The port authority said engineers were replacing a damaged transformer and expected the cranes "
    "to run again within a day, while shipping lines warned customers of delays of up to two days.",
    "Dock workers were sent to other berths during the repair, and the union said no shifts would be "
    "cancelled because of the fault.",
]
HOSTILE = [
    "A page whose title is markup: the console must show it as text and run nothing of it, "
    "whatever the reader clicks on the article's page in the console.",
    "Its second paragraph is long enough for the extractor to keep the text as an article of its own, "
    "with a few more words about tides, ferries and the weather over the harbour this week.",
]


def article_page(title: str, paragraphs: list[str], published: str, canonical: str | None = None) -> str:
    body = "\n".join(f"<p>{html.escape(p)}</p>" for p in paragraphs)
    link = f'<link rel="canonical" href="{html.escape(canonical)}">' if canonical else ""
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<meta property="og:title" content="{html.escape(title)}">
<meta property="article:published_time" content="{published}">{link}</head>
<body><main><article><h1>{html.escape(title)}</h1><p class="byline">By Mei Lin</p>
{body}
</article></main></body></html>"""


def publish_site(www: Path, base_url: str, cranes_day: str = "Monday") -> None:
    """The site: a feed of two articles, the cranes story (its first paragraph names
    ``cranes_day``) and one whose title is an HTML tag."""
    (www / "news").mkdir(parents=True, exist_ok=True)
    cranes = [CRANES[0].replace("Monday", cranes_day), *CRANES[1:]]
    (www / "news" / "cranes.html").write_text(
        article_page("Harbour cranes stop after power fault", cranes, "2026-03-10T09:00:00+00:00"),
        encoding="utf-8",
    )
    (www / "news" / "hostile.html").write_text(
        article_page(HOSTILE_TITLE, HOSTILE, "2026-03-11T09:00:00+00:00", canonical="javascript:alert(2)"),
        encoding="utf-8",
    )
    items = "".join(
        f"<item><title>{html.escape(title)}</title><link>{base_url}/news/{name}.html</link></item>"
        for title, name in (("Cranes", "cranes"), ("Hostile", "hostile"))
    )
    (www / "feed.xml").write_text(
        f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Quay News</title>'
        f"<link>{base_url}/</link><description>d</description>{items}</channel></rss>",
        encoding="utf-8",
    )


@dataclass
class ConsoleSite:
    """The browser tests' news site on loopback and a live API over a store that crawls it."""

    www: Path
    site_url: str
    base_url: str
    store: Any


@contextmanager
def console_site(root: Path, token: str) -> Iterator[ConsoleSite]:
    """Serve the site from ``root/www`` on 127.0.0.2, with a sources file naming it and a live
    API (token ``token``) over a fresh SQLite store in ``root``; nothing crawled yet."""
    from api_factories import live_api

    from newsdedup.config import Settings
    from newsdedup.siteserver import SiteServer
    from newsdedup.store import Store

    www = root / "www"
    www.mkdir()
    with SiteServer(www, host="127.0.0.2") as site:
        publish_site(www, site.base_url)
        sources = root / "sources.yaml"
        sources.write_text(
            f"sources:\n  - name: quay-news\n    feeds: ['{site.base_url}/feed.xml']\n"
            "    schedule: 15m\n    allow_private_addresses: true\n",
            encoding="utf-8",
        )
        url = f"sqlite:///{root / 'store.db'}"
        store = Store.open(url)
        settings = Settings(database_url=url, config=sources, api_token=token, archive_dir=root / "archive")
        try:
            with live_api(settings, store) as running:
                yield ConsoleSite(www, site.base_url, running.base_url, store)
        finally:
            store.close()
