"""Take the console's screenshots in docs/screenshots/ (python docs/screenshots/take.py).

Serves the browser tests' small news site on loopback, crawls it twice through the console's
Crawl now button (one word of an article changes in between), and photographs the pages with
Debian's Chromium driven by Playwright.
"""

from __future__ import annotations

import re
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent / "tests"))

from console_helpers import CHROMIUM, CHROMIUM_ARGS, console_site, publish_site  # noqa: E402
from playwright.sync_api import sync_playwright  # noqa: E402

TOKEN = "screenshots"


def crawl(page) -> None:
    page.goto("/ui/sources")
    page.get_by_role("button", name="Crawl quay-news now").click()
    page.wait_for_url(re.compile(r"/ui/crawls\?started="))
    while "running" in page.locator("tr.crawl").first.inner_text():
        time.sleep(1)
        page.reload()


def main() -> None:
    with (
        tempfile.TemporaryDirectory() as tmp,
        console_site(Path(tmp), TOKEN) as world,
        sync_playwright() as driver,
    ):
        browser = driver.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(base_url=world.base_url, viewport={"width": 1200, "height": 900})
        page.goto("/ui/login")
        page.get_by_label("API token").fill(TOKEN)
        page.get_by_role("button", name="Log in").click()
        crawl(page)
        publish_site(world.www, world.site_url, cranes_day="Tuesday")
        crawl(page)
        cranes = world.store.feed_reader.search("cranes")[0]["id"]
        for name, path in (
            ("sources", "/ui/sources"),
            ("crawls", "/ui/crawls"),
            ("search", "/ui/articles?q=harbour"),
            ("article", f"/ui/articles/{cranes}"),
        ):
            page.goto(path)
            page.screenshot(path=str(HERE / f"{name}.png"), full_page=True)
            print(f"{name}.png")
        browser.close()


if __name__ == "__main__":
    main()
