"""Read routes: the feed, one article, its versions, the Atom feed."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse, Response

from newsdedup.api.context import ApiContext, context
from newsdedup.api.errors import ApiError
from newsdedup.api.limits import feed_page_body
from newsdedup.api.schemas import ERRORS, FeedPage, FeedRecord, SearchPage, VersionList
from newsdedup.feedformat import render_atom

MAX_LIMIT = 1000
DEFAULT_LIMIT = 100
# seq is a BIGINT: a larger cursor is a client error, not a database overflow.
MAX_SEQ = 2**63 - 1
ATOM_ENTRIES = 100
# A version carries its text (at most NEWSDEDUP_MAX_TEXT_CHARS) and a bounded diff.
DEFAULT_VERSIONS_LIMIT = 20
MAX_VERSIONS_LIMIT = 50
ATOM_MEDIA_TYPE = "application/atom+xml"

router = APIRouter()
Ctx = Annotated[ApiContext, Depends(context)]


# Plain ``def`` routes: the store is synchronous, and FastAPI runs these in its threadpool.
@router.get(
    "/v1/feed",
    response_model=FeedPage,
    responses={422: ERRORS[422]},
    tags=["feed"],
    summary="Feed records after a cursor, oldest seq first",
)
def get_feed(
    ctx: Ctx,
    after: Annotated[int, Query(ge=0, le=MAX_SEQ, description="cursor: records with seq above it")] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="page size")] = DEFAULT_LIMIT,
    language: Annotated[
        str | None,
        Query(pattern="^[A-Za-z]{2}$", description="only articles in this language (ISO 639-1, e.g. en)"),
    ] = None,
) -> Response:
    """Follow `next_after` from 0 to see every article once, at its latest state, in seq order.
    An article that changes again comes back later with a higher seq. A page may hold fewer
    than `limit` records: it ends before its JSON passes `NEWSDEDUP_API_MAX_FEED_PAGE_BYTES`
    (8 MiB); go on from `next_after` as always."""

    def read(cursor: int, count: int) -> list[dict]:
        return ctx.store.feed_reader.feed(after=cursor, limit=count, language=language)

    with ctx.feed_gate.slot():
        body = feed_page_body(read, after, limit, ctx.settings.api_max_feed_page_bytes)
    return Response(body, media_type="application/json")


@router.get(
    "/v1/articles/{article_id}",
    response_model=FeedRecord,
    responses={404: ERRORS[404]},
    tags=["feed"],
    summary="One article at its latest state",
)
def get_article(ctx: Ctx, article_id: Annotated[str, Path(max_length=200)]) -> Response:
    record = ctx.store.feed_reader.article(article_id)
    if record is None:
        raise ApiError(404, f"no article with id {article_id!r}")
    return JSONResponse(record)


@router.get(
    "/v1/articles/{article_id}/versions",
    response_model=VersionList,
    responses={404: ERRORS[404]},
    tags=["feed"],
    summary="The versions of an article, oldest first, with diffs, a page at a time",
)
def get_versions(
    ctx: Ctx,
    article_id: Annotated[str, Path(max_length=200)],
    after: Annotated[int, Query(ge=0, le=2**31 - 1, description="cursor: versions numbered above it")] = 0,
    limit: Annotated[
        int, Query(ge=1, le=MAX_VERSIONS_LIMIT, description="page size")
    ] = DEFAULT_VERSIONS_LIMIT,
) -> Response:
    """`next_after` is the cursor of the next page (the last item's version), null after the last."""
    items = ctx.store.feed_reader.versions(article_id, after=after, limit=limit + 1)
    if not items and (after == 0 or ctx.store.feed_reader.article(article_id) is None):
        raise ApiError(404, f"no article with id {article_id!r}")  # every stored article has a version 1
    more = len(items) > limit
    items = items[:limit]
    return JSONResponse({"items": items, "next_after": items[-1]["version"] if more else None})


@router.get(
    "/v1/search",
    response_model=SearchPage,
    responses={422: ERRORS[422]},
    tags=["feed"],
    summary="Full-text search over the articles' titles and texts, best match first",
)
def search(
    ctx: Ctx,
    q: Annotated[str, Query(min_length=1, max_length=500, description="words that must all occur")],
    limit: Annotated[int, Query(ge=1, le=100, description="page size")] = 20,
    offset: Annotated[int, Query(ge=0, le=10_000, description="matches to skip")] = 0,
) -> Response:
    """`{"items": [feed records]}`, best match first. Every word of `q` must occur in the title
    or the text; words are matched whole, without stemming, in any language."""
    return JSONResponse({"items": ctx.store.feed_reader.search(q, limit=limit, offset=offset)})


@router.get(
    "/feed.atom",
    response_class=Response,
    tags=["feed"],
    responses={200: {"content": {ATOM_MEDIA_TYPE: {}}, "description": "Atom 1.0"}},
    summary=f"The latest {ATOM_ENTRIES} articles as Atom",
)
def get_atom(ctx: Ctx, request: Request) -> Response:
    feed_url = str(request.url_for("get_atom"))
    with ctx.feed_gate.slot():
        return Response(render_atom(latest(ctx, ATOM_ENTRIES), feed_url), media_type=ATOM_MEDIA_TYPE)


def latest(ctx: ApiContext, count: int) -> list[dict]:
    """The ``count`` records with the highest seqs, oldest first.

    seqs of superseded article states leave holes, so the window below the last seq is
    widened until it holds ``count`` records or reaches 0.
    """
    top = ctx.store.feed_reader.last_seq()
    window = count
    while True:
        after = max(0, top - window)
        records = ctx.store.feed_reader.feed(after=after)
        if len(records) >= count or after == 0:
            return records[-count:]
        window *= 4
