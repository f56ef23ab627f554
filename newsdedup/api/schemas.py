"""Request and response shapes (docs/feed.md, docs/http-api.md), for validation and /openapi.json.

Read routes document these models but return the store's dicts as a ready JSONResponse:
the records are JSON already, and re-validating 1,000 of them per page would only cost time.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

MAX_SOURCES_PER_CRAWL = 1000


class FeedRecord(BaseModel):
    seq: int = Field(description="change counter: a record appears after cursor C when seq > C")
    id: str = Field(description="stable for the article's lifetime")
    version: int = Field(description="1 for the first text, +1 for each new text")
    canonical_url: str
    urls: list[str] = Field(description="every URL fetched for this article")
    title: str
    text: str = Field(description="clean text of the latest version, paragraphs separated by newlines")
    authors: list[str]
    published_at: str | None = Field(description="ISO 8601")
    modified_at: str | None = Field(description="ISO 8601")
    language: str | None = Field(description="ISO 639-1")
    source: str = Field(description="source of the canonical version")
    sources: list[str] = Field(description="every source the article was seen on")
    story_id: str | None = Field(
        description="the story (news event) of the article; null where stories are switched off"
    )


class FeedPage(BaseModel):
    items: list[FeedRecord]
    next_after: int = Field(
        description="the cursor to ask with next: the last item's seq, or `after` when empty"
    )


class SearchPage(BaseModel):
    items: list[FeedRecord] = Field(description="feed records, best match first")


class StoryRecord(BaseModel):
    id: str = Field(description="the story's id: the id of the article that opened it")
    title: str = Field(description="the headline of its most central article")
    first_published_at: str | None = Field(description="ISO 8601: its earliest article")
    last_published_at: str | None = Field(description="ISO 8601: its latest article")
    sources: list[str] = Field(description="every source its articles were seen on")
    article_count: int
    article_ids: list[str] = Field(description="its articles, oldest publication first")
    seq: int = Field(description="the stories' change counter: a story appears after cursor C when seq > C")
    merged_into: str | None = Field(
        description="the story this one was merged into (then it has no articles)"
    )


class StoryPage(BaseModel):
    items: list[StoryRecord]
    next_after: int = Field(
        description="the cursor to ask with next: the last item's seq, or `after` when empty"
    )


class StoryWithArticles(StoryRecord):
    articles: list[FeedRecord] = Field(
        description="its articles as feed records, in the order of article_ids"
    )


class VersionRecord(BaseModel):
    version: int
    title: str
    text: str
    url: str
    fetched_at: str
    modified_at: str | None
    similarity: float | None = Field(description="against the previous version; null for version 1")
    diff: str = Field(
        description="unified diff of the text against the previous version; empty for version 1"
    )


class VersionList(BaseModel):
    items: list[VersionRecord]
    next_after: int | None = Field(
        default=None, description="ask again with after=this for the next versions; null: there are no more"
    )


class CrawlRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sources: list[str] = Field(
        default_factory=list,
        max_length=MAX_SOURCES_PER_CRAWL,
        description="names from the sources file; empty or missing: every source",
    )


class CrawlStarted(BaseModel):
    crawl_id: str
    sources: list[str]


class CrawlStatus(BaseModel):
    crawl_id: str
    state: str = Field(description="running, finished or failed")
    sources: list[str] | None = Field(None, description="embedded mode")
    exit_code: int | None = Field(None, description="embedded mode: of the crawl process")
    summary: str | None = Field(
        None, description="embedded mode: the crawl's one-line summary, once finished"
    )
    error: str | None = Field(
        None, description="embedded mode: the end of the crawl's log output, when it failed"
    )
    pending: int | None = Field(None, description="distributed mode: pages not yet processed")
    done: int | None = Field(None, description="distributed mode: pages processed")
    failed: int | None = Field(None, description="distributed mode: pages that failed for good")


class Health(BaseModel):
    status: str
    warnings: dict[str, str] | None = None


class ErrorBody(BaseModel):
    error: str = Field(description="stable code: invalid_request, not_found, unauthorized, ...")
    message: str = Field(description="what is wrong, for a person")


ERRORS = {
    status: {"model": ErrorBody, "description": description}
    for status, description in (
        (401, "missing or wrong bearer token"),
        (403, "the server has no API token configured: writes are disabled"),
        (404, "unknown article or crawl"),
        (409, "a crawl is already running (embedded mode runs one at a time)"),
        (413, "the request body is larger than NEWSDEDUP_API_MAX_BODY_BYTES"),
        (422, "a parameter or the body is invalid; `message` says which and why"),
        (503, "the store, Redis or the sources file is unavailable"),
    )
}
