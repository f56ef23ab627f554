"""URL normalization: the same article under its URL variants compares equal; different ones never."""

from __future__ import annotations

import pytest

from newsdedup.extract.urls import is_probably_home_page, is_probably_section_page, normalize_url

ARTICLE = "https://www.example.com/world/2024/05/01/story-slug"


@pytest.mark.parametrize(
    "variant",
    [
        "HTTPS://WWW.EXAMPLE.COM/world/2024/05/01/story-slug",
        "https://www.example.com:443/world/2024/05/01/story-slug",
        "https://www.example.com/world/2024/05/01/story-slug#comments",
        "https://www.example.com/world/2024/05/01/story-slug?utm_source=rss&utm_medium=feed&utm_campaign=x",
        "https://www.example.com/world/2024/05/01/story-slug?fbclid=IwAR0abc&gclid=xyz&mc_cid=1&mc_eid=2&ref=home&cmpid=9",
        # AMP variants
        "https://www.example.com/world/2024/05/01/story-slug/amp",
        "https://www.example.com/amp/world/2024/05/01/story-slug",
        "https://www.example.com/world/2024/05/01/story-slug?amp=1",
        "https://www.example.com/world/2024/05/01/story-slug?amp",
        "https://www.example.com/world/2024/05/01/story-slug?outputType=amp",
    ],
)
def test_variants_of_one_article_normalize_to_the_same_url(variant: str) -> None:
    assert normalize_url(variant) == normalize_url(ARTICLE)


def test_normalized_url_keeps_what_selects_the_article() -> None:
    assert (
        normalize_url("https://example.com/article.php?id=42&page=2")
        == "https://example.com/article.php?id=42&page=2"
    )
    assert (
        normalize_url("https://example.com/article.php?page=2&id=42")
        == "https://example.com/article.php?id=42&page=2"
    )
    assert normalize_url("https://example.com/a?id=1") != normalize_url("https://example.com/a?id=2")
    # www is kept: it can be another site, and redirects between the two are seen by the crawler.
    assert normalize_url("https://example.com/a") != normalize_url("https://www.example.com/a")
    # Paths are case-sensitive on most servers; a path that merely contains "amp" stays.
    assert normalize_url("https://example.com/News/A") == "https://example.com/News/A"
    assert normalize_url("https://example.com/amplifier-review") == "https://example.com/amplifier-review"
    assert normalize_url("http://example.com:8080/a") == "http://example.com:8080/a"


def test_amp_subdomain_and_amp_html_point_to_the_regular_page() -> None:
    # WordPress appends "amp/" to "/slug/": the regular page keeps its trailing slash.
    assert normalize_url("https://example.com/2024/05/slug/amp/") == "https://example.com/2024/05/slug/"
    assert normalize_url("https://amp.example.com/world/story") == "https://example.com/world/story"
    assert normalize_url("https://example.com/world/story.amp.html") == "https://example.com/world/story.html"


def test_unicode_and_percent_encoded_paths_compare_equal() -> None:
    assert normalize_url("https://example.de/nachrichten/grüße") == normalize_url(
        "https://example.de/nachrichten/gr%c3%bc%c3%9fe"
    )


def test_not_a_url_comes_back_unchanged() -> None:
    assert normalize_url("  not a url ") == "not a url"
    assert normalize_url("mailto:desk@example.com") == "mailto:desk@example.com"


@pytest.mark.parametrize(
    ("url", "home"),
    [
        ("https://example.com", True),
        ("https://example.com/", True),
        ("https://example.com/index.html", True),
        ("https://example.com/en/", True),
        ("https://example.com/?utm_source=x", True),
        ("https://example.com/news/2024/05/01/story", False),
        ("https://example.com/?p=123", False),
    ],
)
def test_home_pages(url: str, home: bool) -> None:
    assert is_probably_home_page(url) is home


def test_section_pages() -> None:
    assert is_probably_section_page(
        "https://example.com/politics/", "https://example.com/politics/2024/05/01/story"
    )
    assert is_probably_section_page("https://example.com/tag/elections/")
    assert not is_probably_section_page(ARTICLE, ARTICLE)
    assert not is_probably_section_page(
        "https://other.example/science/2024/04/20/deepest-cave-mapped", ARTICLE
    )
