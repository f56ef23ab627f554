"""Story routes: stories by last change, one story with its articles, a story's Atom feed."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse, Response

from newsdedup.api.context import ApiContext, context
from newsdedup.api.errors import ApiError
from newsdedup.api.feed_routes import ATOM_MEDIA_TYPE, DEFAULT_LIMIT, MAX_LIMIT, MAX_SEQ
from newsdedup.api.schemas import ERRORS, StoryPage, StoryWithArticles
from newsdedup.feedformat import render_atom

router = APIRouter()
Ctx = Annotated[ApiContext, Depends(context)]
StoryId = Annotated[str, Path(max_length=200)]


@router.get(
    "/v1/stories",
    response_model=StoryPage,
    responses={422: ERRORS[422]},
    tags=["stories"],
    summary="Stories after a cursor, by last change",
)
def get_stories(
    ctx: Ctx,
    after: Annotated[int, Query(ge=0, le=MAX_SEQ, description="cursor: stories with seq above it")] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="page size")] = DEFAULT_LIMIT,
) -> Response:
    """Follow `next_after` from 0 to see every story once, at its latest state. A story that
    gains an article, is merged or absorbs another comes back later with a higher seq."""
    items = ctx.store.story_reader.stories(after=after, limit=limit)
    return JSONResponse({"items": items, "next_after": items[-1]["seq"] if items else after})


@router.get(
    "/v1/stories/{story_id}",
    response_model=StoryWithArticles,
    responses={404: ERRORS[404]},
    tags=["stories"],
    summary="One story and its articles",
)
def get_story(ctx: Ctx, story_id: StoryId) -> Response:
    """A story merged into another answers with `merged_into` (and no articles): ask for that one."""
    record = ctx.store.story_reader.story(story_id)
    if record is None:
        raise ApiError(404, f"no story with id {story_id!r}")
    return JSONResponse(record)


@router.get(
    "/v1/stories/{story_id}/feed.atom",
    response_class=Response,
    tags=["stories"],
    responses={200: {"content": {ATOM_MEDIA_TYPE: {}}, "description": "Atom 1.0"}, 404: ERRORS[404]},
    summary="A story's articles as Atom",
)
def get_story_atom(ctx: Ctx, story_id: StoryId, request: Request) -> Response:
    record = ctx.store.story_reader.story(story_id)
    if record is None:
        raise ApiError(404, f"no story with id {story_id!r}")
    if record["merged_into"]:
        # The merged story's feed lives on under its new id.
        record = ctx.store.story_reader.story(record["merged_into"]) or record
    feed_url = str(request.url_for("get_story_atom", story_id=record["id"]))
    articles = sorted(record["articles"], key=lambda article: article["seq"])
    atom = render_atom(articles, feed_url, title=f"newsdedup story: {record['title']}")
    return Response(atom, media_type=ATOM_MEDIA_TYPE)
