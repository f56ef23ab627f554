"""The web console in a real browser: Debian's Chromium driven by Playwright, against a real
API server whose store was filled by real crawls, started from the console's own button."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from api_factories import add_duplicate
from console_helpers import AXE, CHROMIUM, CHROMIUM_ARGS, HOSTILE_TITLE, console_site, publish_site

from newsdedup.store import Store

playwright_api = pytest.importorskip("playwright.sync_api")
if not CHROMIUM.exists():
    pytest.skip(f"{CHROMIUM} is missing: apt-get install chromium chromium-driver", allow_module_level=True)

TOKEN = "console test token"
CRAWL_WAIT = 120.0


@dataclass
class Console:
    base_url: str
    browser: object
    site_dir: Path
    site_url: str
    store: Store
    problems: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with playwright_api.sync_playwright() as driver:
        chromium = driver.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def console(browser, tmp_path_factory) -> Iterator[Console]:
    """A live API over a store crawled twice through the console's "crawl now" button (the
    cranes story changes one word in between: version 2)."""
    with console_site(tmp_path_factory.mktemp("console"), TOKEN) as world:
        yield Console(world.base_url, browser, world.www, world.site_url, world.store)


def new_page(console: Console, problems: list[str], bypass_csp: bool = False):
    context = console.browser.new_context(base_url=console.base_url, bypass_csp=bypass_csp)
    page = context.new_page()
    page.on(
        "console",
        lambda m: (
            problems.append(f"console {m.type}: {m.text} ({m.location})") if m.type == "error" else None
        ),
    )
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("dialog", lambda d: (problems.append(f"dialog: {d.message}"), d.dismiss()))
    return context, page


def log_in(page) -> None:
    page.goto("/ui/")
    assert page.url.endswith("/ui/login")
    page.get_by_label("API token").fill(TOKEN)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(r"/ui/sources$"))


def crawl_now_and_wait(page) -> None:
    page.goto("/ui/sources")
    page.get_by_role("button", name="Crawl quay-news now").click()
    page.wait_for_url(re.compile(r"/ui/crawls\?started="))
    crawl_id = page.url.rsplit("=", 1)[1]
    row = page.locator(f'tr.crawl[data-crawl="{crawl_id}"]')
    deadline = time.monotonic() + CRAWL_WAIT
    while row.locator(".crawl-state").inner_text() == "running":
        assert time.monotonic() < deadline, "the crawl did not finish"
        page.wait_for_timeout(1000)
        page.goto(f"/ui/crawls?started={crawl_id}")
    assert row.locator(".crawl-state").inner_text() == "finished", row.inner_text()


@pytest.fixture(scope="module")
def crawled(console: Console) -> Console:
    problems: list[str] = []
    context, page = new_page(console, problems)
    log_in(page)
    crawl_now_and_wait(page)
    publish_site(console.site_dir, console.site_url, cranes_day="Tuesday")
    crawl_now_and_wait(page)
    context.close()
    assert not problems, problems
    return console


def cranes_id(console: Console) -> str:
    return console.store.feed_reader.search("cranes")[0]["id"]


def hostile_id(console: Console) -> str:
    return next(r["id"] for r in console.store.feed_reader.feed() if r["title"] == HOSTILE_TITLE)


def test_the_crawl_button_starts_a_crawl_and_the_crawls_page_shows_it_finish(crawled: Console):
    problems: list[str] = []
    context, page = new_page(crawled, problems)
    log_in(page)
    crawl_now_and_wait(page)
    summary = page.locator("tr.crawl").first.inner_text()
    assert "pages fetched" in summary, summary
    context.close()
    assert not problems


def test_every_page_loads_without_console_errors(crawled: Console):
    problems: list[str] = []
    context, page = new_page(crawled, problems)
    log_in(page)
    for path in (
        "/ui/sources",
        "/ui/crawls",
        "/ui/articles",
        "/ui/articles?q=cranes",
        f"/ui/articles/{cranes_id(crawled)}",
        f"/ui/articles/{hostile_id(crawled)}",
    ):
        response = page.goto(path)
        assert response is not None and response.status == 200, path
        assert page.locator("h1").count() == 1, path
    context.close()
    assert not problems, problems


def test_search_finds_an_article_by_a_word_of_its_text(crawled: Console):
    problems: list[str] = []
    context, page = new_page(crawled, problems)
    log_in(page)
    page.goto("/ui/articles")
    page.get_by_label("Words in the title or text").fill("transformer")
    page.get_by_label("Words in the title or text").press("Enter")
    page.wait_for_url(re.compile(r"q=transformer"))
    links = page.locator("a.article-link")
    assert links.count() == 1
    assert links.first.inner_text() == "Harbour cranes stop after power fault"
    page.get_by_label("Words in the title or text").fill("zeppelin")
    page.get_by_role("button", name="Show").click()
    page.wait_for_url(re.compile(r"q=zeppelin"))
    assert page.locator("a.article-link").count() == 0
    context.close()
    assert not problems


def test_the_diff_highlights_the_changed_word(crawled: Console):
    problems: list[str] = []
    context, page = new_page(crawled, problems)
    log_in(page)
    page.goto(f"/ui/articles/{cranes_id(crawled)}")
    diff = page.locator("section.diff")
    assert diff.locator("del").all_inner_texts() == ["Monday"]
    assert diff.locator("ins").all_inner_texts() == ["Tuesday"]
    # Any two versions: version 2 against itself has nothing marked.
    page.locator("#a2").check()
    page.get_by_role("button", name="Compare").click()
    page.wait_for_url(re.compile(r"a=2"))
    assert page.locator("section.diff ins, section.diff del").count() == 0
    context.close()
    assert not problems


def test_the_article_page_says_why_each_page_is_this_article(crawled: Console):
    problems: list[str] = []
    context, page = new_page(crawled, problems)
    log_in(page)
    page.goto(f"/ui/articles/{cranes_id(crawled)}")
    reasons = page.locator("table.decisions").inner_text()
    assert "Jaccard" in reasons and "version" in reasons, reasons
    raw = page.get_by_role("link", name="version 2 as fetched")
    response = page.request.get(raw.get_attribute("href"))
    assert response.status == 200
    # Served exactly as the API serves it (a sandbox that loads nothing from elsewhere).
    csp = response.headers["content-security-policy"]
    assert csp.split(";")[0] == "sandbox" and "default-src 'none'" in csp, csp
    assert "Tuesday" in response.text()
    context.close()
    assert not problems


def test_a_hostile_title_shows_as_text_and_runs_nothing(crawled: Console):
    problems: list[str] = []
    context, page = new_page(crawled, problems)
    page.add_init_script("window.alert = () => { document.title = 'ALERTED'; };")
    log_in(page)
    page.goto("/ui/articles")
    assert page.get_by_role("link", name=HOSTILE_TITLE).count() == 1
    page.get_by_role("link", name=HOSTILE_TITLE).click()
    assert page.locator("h1").inner_text() == HOSTILE_TITLE
    assert page.locator("main img").count() == 0
    # A URL that is no http(s) URL is shown, never a link (the crawler fetches none such, so
    # the store is given one directly).
    add_duplicate(crawled.store, hostile_id(crawled), "javascript:alert(2)", "copy", "copy", "quay-news")
    page.reload()
    assert page.get_by_text("javascript:alert(2)").count() >= 1
    assert page.locator('a[href^="javascript:"]').count() == 0
    assert page.title() != "ALERTED"
    context.close()
    assert not problems, problems


def test_logging_out_ends_access(crawled: Console):
    problems: list[str] = []
    context, page = new_page(crawled, problems)
    log_in(page)
    cookie = next(c for c in context.cookies() if c["name"] == "newsdedup_console")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url(re.compile(r"/ui/login$"))
    page.goto("/ui/sources")
    assert page.url.endswith("/ui/login")
    # A copy of the old cookie opens nothing either: the login is gone from the store.
    context.add_cookies([cookie])
    page.goto(f"/ui/articles/{cranes_id(crawled)}")
    assert page.url.endswith("/ui/login")
    context.close()
    assert not problems


def test_pages_have_no_serious_accessibility_violations_and_work_from_the_keyboard(crawled: Console):
    problems: list[str] = []
    # axe is injected as a script of the test's own: only this context lets it past the CSP.
    context, page = new_page(crawled, problems, bypass_csp=True)
    page.goto("/ui/login")
    # The login form from the keyboard alone: the token field has the focus, Tab reaches the
    # button, Enter presses it.
    assert page.evaluate("document.activeElement.id") == "token"
    page.keyboard.type(TOKEN)
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Log in"
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/ui/sources$"))
    found = {}
    for path in (
        "/ui/login",
        "/ui/sources",
        "/ui/crawls",
        "/ui/articles?q=harbour",
        f"/ui/articles/{cranes_id(crawled)}",
    ):
        page.goto(path)
        page.add_script_tag(path=str(AXE))
        result = page.evaluate("async () => await axe.run(document)")
        assert result["passes"], path  # axe ran its rules
        serious = [
            f"{v['id']} ({v['impact']}): {v['help']}"
            for v in result["violations"]
            if v["impact"] in ("serious", "critical")
        ]
        found[path] = serious
    context.close()
    assert all(not v for v in found.values()), found
    assert not problems
