"""Imported by the extraction pool's forkserver (pipeline/extraction_pool.py) and a worker's
main process (workers/app.py), the processes that fork the ones extracting pages. What a
process extracting pages would otherwise build on its own at its first page of a kind is built
here once, while the crawler or the worker starts, and every process forked from it starts
with it:

- the language identifier's model, for pages that declare no language (≈ 0.5 s of CPU
  unpacked from the package, ≈ 0.1 s read from the cache folder of the environment's
  settings, ``NEWSDEDUP_CACHE_DIR``);
- jusText's stop words of every language (≈ 0.08 s), which trafilatura's last fallback builds
  for a page of a language jusText has no list of;
- what the extraction of one article builds at its first call: htmldate's month names,
  dateparser's English locale, the public suffix list courlan reads domains with, the modules
  imported on first use (≈ 0.1 s). On the pages of bench/throughput.py, the first 40 cost a
  fresh process 0.16–0.23 s more than the same pages again; 0.05–0.09 s with this module
  loaded first.

Loading is this module's whole purpose."""

from datetime import UTC, datetime
from pathlib import Path

from trafilatura.external import jt_stoplist_init

from newsdedup.config import SettingsError, load_settings
from newsdedup.dedup.types import DedupParams
from newsdedup.extract.language_id import load_identifier, use_cache
from newsdedup.fetched.page import Page
from newsdedup.pipeline.page_pipeline import prepare_page

# An article as a news site serves one (headline, dateline, byline, paragraphs, a site's
# chrome): extracting it takes the paths every article takes.
_WARM_UP_HTML = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Harbour bridge reopens after repairs - The Example Gazette</title>
<meta property="og:site_name" content="The Example Gazette">
<meta property="article:published_time" content="2024-03-05T09:30:00+00:00">
</head><body><header><nav><a href="/">Home</a> <a href="/news">News</a></nav></header>
<article><h1>Harbour bridge reopens after repairs</h1>
<p class="byline">By Jane Doe, 5 March 2024</p>
<p>The harbour bridge reopened to traffic on Tuesday morning after eight months of repairs,
the city council said, ahead of the schedule it set last summer.</p>
<p>Engineers replaced the bearings and resurfaced the deck, and the council said the work came
in under its budget of 12 million euros. Cyclists get a lane of their own on both sides.</p>
<p>Traders on the north bank, who lost trade while the bridge was shut, welcomed the news and
asked the council to keep the ferry that ran in its place for the summer season.</p>
</article><footer><p>© 2024 The Example Gazette. All rights reserved.</p></footer></body></html>"""


def _warm_up() -> None:
    at = datetime(2024, 3, 5, 10, 0, tzinfo=UTC)
    url = "https://news.example.com/2024/03/05/harbour-bridge-reopens"
    page = Page(
        url=url, final_url=url, status=200, headers={}, html=_WARM_UP_HTML, fetched_at=at, source="warm-up"
    )
    prepare_page(page, 20, DedupParams())


def _cache_dir() -> Path | None:
    # The process that starts this one has read the same environment and stopped already
    # when a setting is bad; a bad one here only means no cache.
    try:
        return load_settings().cache_path
    except SettingsError:
        return None


use_cache(_cache_dir())
load_identifier()
jt_stoplist_init()
_warm_up()
