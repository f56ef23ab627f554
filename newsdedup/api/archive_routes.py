"""A version's raw page, read back from the WARC archive. Needs the bearer token: raw pages
can be large and are not for every reader of the feed."""

from __future__ import annotations

import logging
from typing import Annotated
from urllib.error import URLError

from fastapi import APIRouter, Depends, Path
from fastapi.responses import Response

from newsdedup.api.auth import require_token
from newsdedup.api.context import ApiContext, context
from newsdedup.api.errors import ApiError
from newsdedup.api.schemas import ERRORS
from newsdedup.archive.reader import READ_ERRORS, read_record

log = logging.getLogger(__name__)

router = APIRouter(
    tags=["archive"],
    dependencies=[Depends(require_token)],
    responses={401: ERRORS[401], 403: ERRORS[403], 404: ERRORS[404]},
)
Ctx = Annotated[ApiContext, Depends(context)]

# The page is someone else's HTML served from our origin: a browser that opens it must not
# run its scripts with the API's origin, nor guess another type.
SAFETY_HEADERS = {"Content-Security-Policy": "sandbox", "X-Content-Type-Options": "nosniff"}


def _ascii(value: str) -> str:
    return value.encode("ascii", "backslashreplace").decode("ascii")


@router.get(
    "/v1/articles/{article_id}/versions/{version}/page",
    response_class=Response,
    responses={200: {"content": {"text/html": {}}, "description": "the page as it was fetched"}},
    summary="The raw page (HTTP body as fetched) a version was made of",
)
def get_version_page(
    ctx: Ctx,
    article_id: Annotated[str, Path(max_length=200)],
    version: Annotated[int, Path(ge=1, le=2**31 - 1)],
) -> Response:
    """The body as the crawler received it (after HTTP decompression), with its Content-Type.
    `X-Newsdedup-Final-URL`, `X-Newsdedup-Fetched-At` and `X-Newsdedup-WARC-File` /
    `X-Newsdedup-WARC-Offset` say where it came from and where it lies."""
    try:
        location = ctx.store.feed_reader.page_location(article_id, version)
    except LookupError:
        raise ApiError(404, f"no version {version} of article {article_id!r}") from None
    if location is None:
        raise ApiError(
            404,
            f"version {version} of article {article_id!r} has no archived page "
            "(the archive was off, the file was pruned, or the version is older than the archive)",
        )
    file, offset = location
    try:
        archived = read_record(file, offset, ctx.settings.archive_dir)
    except FileNotFoundError:
        raise ApiError(
            404, f"the archive file {file} is not here (pruned, or written on another host)"
        ) from None
    except (*READ_ERRORS, URLError) as exc:
        log.error("cannot read %s at %d: %s", file, offset, exc)
        raise ApiError(404, f"the archived page could not be read from {file} at offset {offset}") from None
    if archived is None:
        raise ApiError(404, f"no response record in {file} at offset {offset}")
    headers = {
        **SAFETY_HEADERS,
        "X-Newsdedup-Final-URL": _ascii(archived.final_url),
        "X-Newsdedup-Fetched-At": archived.fetched_at.isoformat(),
        "X-Newsdedup-WARC-File": _ascii(file),
        "X-Newsdedup-WARC-Offset": str(offset),
        # As fetched: Starlette would add "charset=utf-8" to a text type given as media_type.
        "Content-Type": _ascii(archived.header("Content-Type") or "text/html"),
    }
    return Response(archived.body, headers=headers)
