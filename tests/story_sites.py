"""Three news outlets written for these tests, each reporting the same events in its own words
(no copies: dedup keeps every article), served on loopback by ``newsdedup/siteserver.py``.

Events: an earthquake in the fictional town of Kesmet, a merger of two fictional companies,
and a mountain rail tunnel; plus one article of its own on one outlet. Used by
tests/test_stories.py (no tests here).
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from pathlib import Path

from newsdedup.siteserver import SiteServer

QUAKE, MERGER, TUNNEL, LONE = "quake", "merger", "tunnel", "lone"


@dataclass(frozen=True)
class StoryArticle:
    outlet: str
    slug: str
    event: str
    published: str
    title: str
    paragraphs: tuple[str, ...]


ARTICLES: tuple[StoryArticle, ...] = (
    StoryArticle(
        "harbor-post",
        "kesmet-quake",
        QUAKE,
        "2026-03-02T06:10:00+00:00",
        "Magnitude 6.4 earthquake shakes Kesmet, dozens of buildings damaged",
        (
            "A magnitude 6.4 earthquake struck the mountain town of Kesmet in Valdoria early on Monday, "
            "damaging dozens of buildings and cutting power to much of the old quarter.",
            "The Valdorian Seismic Institute said the quake hit at 5:42 local time at a depth of 11 kilometres, "
            "about 8 kilometres north of Kesmet. Three aftershocks above magnitude 4 followed within an hour.",
            "Mayor Ilse Marrow told reporters that 14 people were treated in hospital for minor injuries and that "
            "no deaths had been reported. Rescue teams from Orlan were searching collapsed barns on the outskirts.",
            "Schools in Kesmet will stay closed on Tuesday while engineers inspect the bridges over the river Sava.",
        ),
    ),
    StoryArticle(
        "valley-courier",
        "earthquake-kesmet-valdoria",
        QUAKE,
        "2026-03-02T07:25:00+00:00",
        "Kesmet quake: 14 injured as Valdoria counts the damage",
        (
            "Residents of Kesmet spent the morning outside after a strong earthquake rattled northern Valdoria "
            "before dawn on Monday. The Valdorian Seismic Institute measured it at magnitude 6.4.",
            "Ilse Marrow, the town's mayor, said 14 people had been injured, none seriously, and that dozens of "
            "houses in the old quarter had cracked walls. Power was restored to most streets by noon.",
            "Engineers are checking the two bridges over the Sava before traffic is allowed back. Teams from Orlan "
            "joined local firefighters, and aftershocks kept shaking the valley through the morning.",
        ),
    ),
    StoryArticle(
        "capital-daily",
        "valdoria-earthquake-kesmet-aftershocks",
        QUAKE,
        "2026-03-02T11:40:00+00:00",
        "Aftershocks rattle Kesmet after magnitude 6.4 earthquake",
        (
            "Aftershocks continued to rattle Kesmet on Monday, hours after a magnitude 6.4 earthquake damaged the "
            "old quarter of the Valdorian mountain town and injured 14 people.",
            "The Valdorian Seismic Institute recorded more than 20 aftershocks, the largest of magnitude 4.6. "
            "Mayor Ilse Marrow asked residents of damaged houses to sleep in the sports hall tonight.",
            "The government in Orlan released emergency funds, and engineers closed one bridge over the Sava "
            "after finding cracks in its piers.",
        ),
    ),
    StoryArticle(
        "harbor-post",
        "brightwell-norcastle-merger",
        MERGER,
        "2026-03-02T09:00:00+00:00",
        "Brightwell Foods agrees to buy Norcastle Dairies for 2.3 billion",
        (
            "Brightwell Foods said on Monday it had agreed to buy Norcastle Dairies for 2.3 billion crowns in cash, "
            "creating the largest dairy group in the region.",
            "Chief executive Tomas Vell said the deal would close by September if competition authorities approve "
            "it. Norcastle shareholders will receive 41 crowns a share, a premium of 28 percent.",
            "Norcastle runs 12 plants and buys milk from about 3,000 farms. Brightwell expects savings of 150 million "
            "crowns a year by the third year.",
        ),
    ),
    StoryArticle(
        "valley-courier",
        "norcastle-dairies-sold-brightwell",
        MERGER,
        "2026-03-02T10:15:00+00:00",
        "Norcastle Dairies sold to Brightwell in 2.3 billion deal",
        (
            "Norcastle Dairies, the family-founded milk processor, is to be sold to Brightwell Foods for "
            "2.3 billion crowns, the two companies announced on Monday.",
            "Norcastle's 12 plants and its contracts with some 3,000 farms will pass to Brightwell. Tomas Vell, "
            "Brightwell's chief executive, promised that no plant would close in the first two years.",
            "Shareholders are offered 41 crowns a share. Farmers' unions said they would ask the competition "
            "authority to look closely at the deal before September.",
        ),
    ),
    StoryArticle(
        "capital-daily",
        "brightwell-norcastle-farmers",
        MERGER,
        "2026-03-02T15:30:00+00:00",
        "Farmers wary as Brightwell moves to take over Norcastle",
        (
            "Dairy farmers reacted with caution to Brightwell Foods' 2.3 billion crown offer for Norcastle "
            "Dairies, fearing lower milk prices once the two largest buyers become one.",
            "Brightwell chief executive Tomas Vell said the combined group would keep all 12 Norcastle plants open "
            "and honour existing contracts with 3,000 farms.",
            "The offer of 41 crowns a share values Norcastle at a 28 percent premium. The competition authority "
            "must approve the takeover, which Brightwell hopes to close in September.",
        ),
    ),
    StoryArticle(
        "harbor-post",
        "ostrava-pass-tunnel-opens",
        TUNNEL,
        "2026-03-03T08:00:00+00:00",
        "Trains run through the Ostrava Pass tunnel for the first time",
        (
            "The first passenger train ran through the 27-kilometre Ostrava Pass tunnel on Tuesday, cutting the "
            "journey between Lind and Pellam from three hours to 70 minutes.",
            "Transport minister Aurel Dace rode the 7:05 departure from Lind with 400 invited passengers. The tunnel "
            "took eleven years to build and cost 4.1 billion crowns.",
            "Regular service starts next Monday with 36 trains a day. Freight trains will follow in the summer.",
        ),
    ),
    StoryArticle(
        "capital-daily",
        "lind-pellam-tunnel-first-train",
        TUNNEL,
        "2026-03-03T10:45:00+00:00",
        "Lind to Pellam in 70 minutes: Ostrava Pass tunnel opens",
        (
            "After eleven years of digging, the Ostrava Pass tunnel opened on Tuesday, when minister Aurel Dace "
            "stepped off the first train from Lind in Pellam 70 minutes later.",
            "At 27 kilometres it is the longest rail tunnel in the country. Its 4.1 billion crown budget was "
            "overrun by a fifth, which Dace called the price of crossing the mountains safely.",
            "Operators plan 36 trains a day from Monday; the old line over the pass will carry only local trains.",
        ),
    ),
    StoryArticle(
        "valley-courier",
        "library-reopens-restored",
        LONE,
        "2026-03-02T12:00:00+00:00",
        "The city library reopens after two years of restoration",
        (
            "The central library on Gartner Square reopened its reading rooms on Monday after a restoration that "
            "took two years and uncovered painted ceilings hidden since the 1950s.",
            "Librarian Petra Holm said visitors can again borrow from the collection of 180,000 books, and that the "
            "children's section has moved to the ground floor with a new garden entrance.",
        ),
    ),
)

OUTLETS = ("harbor-post", "valley-courier", "capital-daily")


def article_html(article: StoryArticle, base_url: str) -> str:
    body = "\n".join(f"<p>{html.escape(p)}</p>" for p in article.paragraphs)
    url = f"{base_url}/{article.slug}.html"
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(article.title)}</title>"
        f"<link rel='canonical' href='{url}'>"
        f"<meta property='article:published_time' content='{article.published}'>"
        f"</head><body><nav><a href='/'>Home</a></nav><article><h1>{html.escape(article.title)}</h1>"
        f"{body}</article><footer>{article.outlet}</footer></body></html>"
    )


def feed_xml(outlet: str, base_url: str, articles: list[StoryArticle]) -> str:
    items = "".join(
        f"<item><title>{html.escape(a.title)}</title><link>{base_url}/{a.slug}.html</link></item>"
        for a in articles
    )
    return (
        "<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel>"
        f"<title>{outlet}</title><link>{base_url}/</link><description>{outlet}</description>{items}"
        "</channel></rss>"
    )


class StorySites:
    """The three outlets, each a SiteServer of its own on 127.0.0.1, and a sources file."""

    def __init__(self, root: Path, articles: tuple[StoryArticle, ...] = ARTICLES) -> None:
        self.root = root
        self.articles = articles
        self.servers: dict[str, SiteServer] = {}
        self.sources_file = root / "sources.yaml"

    def __enter__(self) -> StorySites:
        lines = ["sources:"]
        for outlet in OUTLETS:
            folder = self.root / outlet
            folder.mkdir(parents=True, exist_ok=True)
            server = SiteServer(folder).start()
            self.servers[outlet] = server
            base = server.base_url.rstrip("/")
            mine = [a for a in self.articles if a.outlet == outlet]
            for article in mine:
                (folder / f"{article.slug}.html").write_text(article_html(article, base), encoding="utf-8")
            (folder / "rss.xml").write_text(feed_xml(outlet, base, mine), encoding="utf-8")
            lines += [f"  - name: {outlet}", f"    feeds: [{base}/rss.xml]", "    schedule: 1h"]
        self.sources_file.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return self

    def __exit__(self, *exc_info: object) -> None:
        for server in self.servers.values():
            server.stop()

    def url_of(self, article: StoryArticle) -> str:
        return f"{self.servers[article.outlet].base_url.rstrip('/')}/{article.slug}.html"
