"""A version's raw page, read back from the WARC archive. Needs the bearer token: raw pages
can be large and are not for every reader of the feed."""

from __future__ import annotations

import logging
import re
from typing import Annotated
from urllib.error import URLError

from fastapi import APIRouter, Depends, Path
from fastapi.responses import Response

from newsdedup.api.auth import require_token
from newsdedup.api.context import ApiContext, context
from newsdedup.api.errors import ApiError
from newsdedup.api.schemas import ERRORS
from newsdedup.archive.reader import READ_ERRORS, OutsideArchive, read_record
from newsdedup.archive.records import ArchivedResponse
from newsdedup.extract.urls import normalize_url

log = logging.getLogger(__name__)

router = APIRouter(
    tags=["archive"],
    dependencies=[Depends(require_token)],
    responses={401: ERRORS[401], 403: ERRORS[403], 404: ERRORS[404]},
)
Ctx = Annotated[ApiContext, Depends(context)]

# The page is someone else's HTML served from our origin. A sandbox without allow-scripts runs
# none of its scripts and gives it an opaque origin (no cookies, no storage, no same-origin
# requests to the API); default-src 'none' lets it load nothing from anywhere, not even its
# images (which would tell their host who read the page and when), while inline styles and
# data: images keep it readable. No referrer leaves with a link the reader follows.
CONTENT_SECURITY_POLICY = (
    "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:; font-src data:; "
    "form-action 'none'; frame-ancestors 'none'; base-uri 'none'"
)
SAFETY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


_FILENAME_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


def _ascii(value: str) -> str:
    return value.encode("ascii", "backslashreplace").decode("ascii")


def _is_the_versions_page(archived: ArchivedResponse, version_url: str | None) -> bool:
    """Whether the record read is the one of the version (its final or requested URL)."""
    if version_url is None:
        return True
    wanted = normalize_url(version_url)
    return any(url and normalize_url(url) == wanted for url in (archived.final_url, archived.url))


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
    """The body as the crawler received it (after HTTP decompression), with its Content-Type,
    in a sandbox: no script runs and nothing is loaded from elsewhere (Content-Security-Policy).
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
        archived = read_record(
            file,
            offset,
            ctx.settings.archive_dir,
            allow_private=ctx.settings.allow_private_addresses,
            max_body_bytes=ctx.settings.max_page_bytes,
        )
    except OutsideArchive:
        log.warning(
            "version %d of %s: %s is outside the archive folder; not served", version, article_id, file
        )
        raise ApiError(
            404, f"the archive file {file} is outside the archive folder (NEWSDEDUP_ARCHIVE_DIR): not served"
        ) from None
    except FileNotFoundError:
        raise ApiError(
            404, f"the archive file {file} is not here (pruned, or written on another host)"
        ) from None
    except (*READ_ERRORS, URLError) as exc:
        log.error("cannot read %s at %d: %s", file, offset, exc)
        raise ApiError(404, f"the archived page could not be read from {file} at offset {offset}") from None
    if archived is None:
        raise ApiError(404, f"no response record in {file} at offset {offset}")
    if not _is_the_versions_page(archived, ctx.store.feed_reader.version_url(article_id, version)):
        log.error(
            "%s at %d holds %s, not the page of version %d of %s",
            file,
            offset,
            archived.final_url,
            version,
            article_id,
        )
        raise ApiError(404, f"the record in {file} at offset {offset} is not this version's page")
    headers = {
        **SAFETY_HEADERS,
        "Content-Disposition": f'inline; filename="{_FILENAME_UNSAFE.sub("_", article_id)[:100]}-v{version}.html"',
        "X-Newsdedup-Final-URL": _ascii(archived.final_url),
        "X-Newsdedup-Fetched-At": archived.fetched_at.isoformat(),
        "X-Newsdedup-WARC-File": _ascii(file),
        "X-Newsdedup-WARC-Offset": str(offset),
        # As fetched: Starlette would add "charset=utf-8" to a text type given as media_type.
        "Content-Type": _ascii(archived.header("Content-Type") or "text/html"),
    }
    return Response(archived.body, headers=headers)
