"""A news site written for the learned-boilerplate tests: short articles that each carry the
site's own long newsletter pitch (no generic pattern knows its wording), and a page whose only
text of its own is a loading line."""

from __future__ import annotations

from datetime import UTC, datetime
from html import escape

from newsdedup.fetched.page import Page

# 52 words, two sentences, none of the words a generic newsletter prompt is made of.
PITCH = (
    "Start every morning with The Lantern Digest, a hand-picked selection of the stories our "
    "reporters think matter most, sent to your email before breakfast from Monday to Saturday. "
    "Registration takes under a minute, costs nothing at all, and a single click ends it "
    "whenever you decide you have had enough of us."
)

STORIES = [
    (
        "Night market returns to Cooper Square",
        "The night market on Cooper Square reopens on Friday after a two-year break, with forty stalls "
        "selling street food, second-hand books and local crafts until midnight every weekend in June.",
    ),
    (
        "Library extends weekend opening hours",
        "The central library will stay open until eight in the evening on Saturdays and Sundays from next "
        "month, after a volunteer scheme found enough helpers to staff the reading rooms.",
    ),
    (
        "Bridge repairs delay the number 9 bus",
        "Buses on route 9 will take a detour through Mill Lane for three weeks while welders replace "
        "rusted railings on the Tanner Street bridge, the transport office said on Wednesday.",
    ),
    (
        "Rowing club wins the autumn regatta",
        "The Lantern Rowing Club took first place in the eights at the autumn regatta on Sunday, beating "
        "the holders by half a length in a final rowed against a strong headwind.",
    ),
    (
        "School kitchens switch to local vegetables",
        "Primary schools in the district will buy their vegetables from farms within thirty miles from "
        "January, a change the council says will cost little more and cut delivery lorries by half.",
    ),
]


def article_html(title: str, *paragraphs: str) -> str:
    body = "".join(f"<p>{escape(p)}</p>" for p in paragraphs)
    return (
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{escape(title)}</title></head>"
        f"<body><article><h1>{escape(title)}</h1>{body}</article></body></html>"
    )


def story_page(i: int, source: str = "lantern-gazette", host: str = "lantern.example") -> Page:
    title, text = STORIES[i]
    return page(f"https://{host}/news/{i}.html", article_html(title, text, PITCH), source)


def dashboard_page(source: str = "lantern-gazette", host: str = "lantern.example") -> Page:
    html = article_html("Election night live", "Loading the live results board...", PITCH)
    return page(f"https://{host}/live/results.html", html, source)


def page(url: str, html: str, source: str) -> Page:
    return Page(
        url=url,
        final_url=url,
        status=200,
        headers={"content-type": "text/html; charset=utf-8"},
        html=html,
        fetched_at=datetime.now(UTC),
        source=source,
        crawl_id="c",
    )
