"""The console's routes under /ui/ (docs/console.md). Plain ``def`` handlers: the store is
synchronous, and FastAPI runs them in its threadpool, as it does the API's."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, FastAPI, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, PackageLoader

from newsdedup.api import archive_routes
from newsdedup.api.console import auth, pages
from newsdedup.api.console.auth import COOKIE, COOKIE_PATH, Forbidden, NotLoggedIn, Viewer
from newsdedup.api.console.diff import word_diff
from newsdedup.api.console.headers import SecurityHeaders
from newsdedup.api.console.links import safe_href
from newsdedup.api.context import ApiContext, context
from newsdedup.api.crawl_routes import launch_crawl
from newsdedup.api.errors import ApiError
from newsdedup.store.console_reader import ArticleFilter

PAGE_SIZE = 50
# Versions listed on an article's page (the newest); any two can still be compared by number.
VERSIONS_SHOWN = 100
router = APIRouter(prefix="/ui", include_in_schema=False)
Ctx = Annotated[ApiContext, Depends(context)]

templates = Environment(
    loader=PackageLoader("newsdedup.api.console", "templates"),
    autoescape=True,  # every value is escaped unless a template says otherwise (none does)
    trim_blocks=True,
    lstrip_blocks=True,
)


def _when(moment: datetime | str | None) -> str:
    if moment is None:
        return "–"
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


templates.filters["when"] = _when
templates.globals["safe_href"] = safe_href


def who(ctx: Ctx, request: Request) -> Viewer:
    return auth.viewer(ctx, request)


Who = Annotated[Viewer, Depends(who)]


def _render(name: str, viewer: Viewer, status: int = 200, **values: Any) -> HTMLResponse:
    html = templates.get_template(name).render(viewer=viewer, **values)
    return HTMLResponse(html, status_code=status)


def _need_login(viewer: Viewer) -> None:
    if not viewer.logged_in:
        raise NotLoggedIn()


def _may_read(ctx: ApiContext, viewer: Viewer) -> None:
    """Article pages: a login, or the intranet setting NEWSDEDUP_CONSOLE_OPEN_READS."""
    if not (viewer.logged_in or ctx.settings.console_open_reads):
        raise NotLoggedIn()


@router.get("/")
def home(ctx: Ctx, viewer: Who) -> Response:
    if viewer.logged_in:
        return RedirectResponse("/ui/sources", status_code=303)
    if ctx.settings.console_open_reads:
        return RedirectResponse("/ui/articles", status_code=303)
    return RedirectResponse("/ui/login", status_code=303)


@router.get("/login")
def login_form(ctx: Ctx, viewer: Who) -> Response:
    return _render("login.html", viewer, token_configured=bool(ctx.settings.api_token), failed=False)


@router.post("/login")
def login(
    ctx: Ctx, request: Request, viewer: Who, token: Annotated[str, Form(max_length=1000)] = ""
) -> Response:
    auth.check_origin(request)
    cookie = auth.log_in(ctx, token)
    if cookie is None:
        return _render(
            "login.html", viewer, status=401, token_configured=bool(ctx.settings.api_token), failed=True
        )
    response = RedirectResponse("/ui/sources", status_code=303)
    response.set_cookie(
        COOKIE,
        cookie,
        max_age=int(ctx.settings.console_session_hours * 3600),
        path=COOKIE_PATH,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response


@router.post("/logout")
def logout(
    ctx: Ctx, request: Request, viewer: Who, csrf: Annotated[str, Form(max_length=200)] = ""
) -> Response:
    auth.check_form(request, viewer, csrf)
    auth.log_out(ctx, request)
    response = RedirectResponse("/ui/login", status_code=303)
    response.delete_cookie(COOKIE, path=COOKIE_PATH, httponly=True, samesite="strict")
    return response


@router.get("/sources")
def sources(ctx: Ctx, viewer: Who) -> Response:
    _need_login(viewer)
    return _render("sources.html", viewer, **pages.sources_page(ctx))


@router.post("/crawls")
def crawl_now(
    ctx: Ctx,
    request: Request,
    viewer: Who,
    csrf: Annotated[str, Form(max_length=200)] = "",
    source: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """The "crawl now" button: the code of POST /v1/crawls, then the crawls page."""
    auth.check_form(request, viewer, csrf)
    try:
        crawl_id, _ = launch_crawl(ctx, [source] if source else [])
    except ApiError as exc:
        return _render("crawls.html", viewer, status=exc.status, error=exc.message, **pages.crawls_page(ctx))
    return RedirectResponse(f"/ui/crawls?started={crawl_id}", status_code=303)


@router.get("/crawls")
def crawls(ctx: Ctx, viewer: Who, started: Annotated[str | None, Query(max_length=64)] = None) -> Response:
    _need_login(viewer)
    return _render("crawls.html", viewer, started=started, error=None, **pages.crawls_page(ctx))


def _day(text: str | None, name: str) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{name}: {text!r} is not a date (YYYY-MM-DD)") from None


@router.get("/articles")
def articles(
    ctx: Ctx,
    viewer: Who,
    q: Annotated[str, Query(max_length=500)] = "",
    source: Annotated[str, Query(max_length=200)] = "",
    language: Annotated[str, Query(max_length=16)] = "",
    published_from: Annotated[str, Query(alias="from", max_length=10)] = "",
    published_until: Annotated[str, Query(alias="until", max_length=10)] = "",
    versions: Annotated[bool, Query()] = False,
    copies: Annotated[bool, Query()] = False,
    before: Annotated[int | None, Query(ge=0, le=2**63 - 1)] = None,
) -> Response:
    _may_read(ctx, viewer)
    error = None
    start = end = None
    try:
        first, last = _day(published_from, "from"), _day(published_until, "until")
        start = datetime.combine(first, time(), UTC) if first else None
        end = datetime.combine(last, time(), UTC) if last else None
    except ValueError as exc:
        error = str(exc)
    wanted = ArticleFilter(
        source=source or None,
        language=language or None,
        published_from=start,
        published_until=end + timedelta(days=1) if end else None,
        with_versions=versions,
        with_copies=copies,
        query=q.strip() or None,
    )
    rows = pages.reader(ctx).articles(wanted, before, PAGE_SIZE + 1)
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    if wanted.query:
        next_before = (before or 0) + PAGE_SIZE if more else None
    else:
        next_before = rows[-1].seq if more and rows else None
    form = {
        "q": q,
        "source": source,
        "language": language,
        "from": published_from,
        "until": published_until,
        "versions": versions,
        "copies": copies,
    }
    return _render("articles.html", viewer, rows=rows, form=form, next_before=next_before, error=error)


@router.get("/articles/{article_id}")
def article(
    ctx: Ctx,
    viewer: Who,
    article_id: Annotated[str, Path(max_length=200)],
    a: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    b: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
) -> Response:
    _may_read(ctx, viewer)
    record = ctx.store.feed_reader.article(article_id)
    if record is None:
        return _render("missing.html", viewer, status=404, what=f"No article with id {article_id}.")
    read = pages.reader(ctx)
    versions = read.versions(article_id, VERSIONS_SHOWN)
    latest = record["version"]
    new = b if b is not None else latest
    old = a if a is not None else max(1, new - 1)
    texts = read.version_texts(article_id, (old, new))
    diff = None
    if old != new and old in texts and new in texts:
        diff = word_diff(texts[old].text, texts[new].text)
        title_diff = word_diff(texts[old].title, texts[new].title)
    else:
        title_diff = None
    return _render(
        "article.html",
        viewer,
        record=record,
        urls=read.urls(article_id),
        versions=versions,
        decisions=read.decisions(article_id),
        old=old,
        new=new,
        diff=diff,
        title_diff=title_diff,
        missing_versions=[n for n in (old, new) if n not in texts],
    )


@router.get("/articles/{article_id}/versions/{version}/page")
def raw_page(
    ctx: Ctx,
    viewer: Who,
    article_id: Annotated[str, Path(max_length=200)],
    version: Annotated[int, Path(ge=1, le=2**31 - 1)],
) -> Response:
    """The archived page, with the headers the API serves it with (CSP sandbox, nosniff):
    behind the login, as the API's route is behind the token."""
    _need_login(viewer)
    return archive_routes.get_version_page(ctx, article_id, version)


@router.get("/stories/{story_id}")
def story(ctx: Ctx, viewer: Who, story_id: Annotated[str, Path(max_length=200)]) -> Response:
    """A story: its articles on one time line, oldest publication first (the same data as
    ``GET /v1/stories/{id}``, so the article pages' access rule)."""
    _may_read(ctx, viewer)
    if not ctx.settings.stories:
        return _render(
            "missing.html", viewer, status=404, what="Stories are switched off here (NEWSDEDUP_STORIES=0)."
        )
    record = ctx.store.story_reader.story(story_id)
    if record is None:
        return _render("missing.html", viewer, status=404, what=f"No story with id {story_id}.")
    if record["merged_into"]:
        # A merged story's id names the story it went into, as the API says with merged_into.
        return RedirectResponse(f"/ui/stories/{quote(record['merged_into'], safe='')}", status_code=303)
    articles = sorted(record["articles"], key=lambda a: (a["published_at"] or "", a["seq"]))
    return _render("story.html", viewer, story=record, articles=articles)


def install(app: FastAPI) -> None:
    """Add the console to the API application."""
    app.include_router(router)
    app.mount(
        "/ui/static", StaticFiles(packages=[("newsdedup.api.console", "static")]), name="console-static"
    )
    app.add_middleware(SecurityHeaders)

    @app.exception_handler(NotLoggedIn)
    def _to_login(request: Request, exc: NotLoggedIn) -> Response:
        return RedirectResponse("/ui/login", status_code=303)

    @app.exception_handler(Forbidden)
    def _forbidden(request: Request, exc: Forbidden) -> Response:
        return _render("missing.html", auth.ANONYMOUS, status=403, what=str(exc))
