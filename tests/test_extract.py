"""Extraction as the feed's readers see it: the article's text and metadata, or a reason why not.

Fixture pages in tests/pages/ are written for this project (no copies of real sites).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from newsdedup.extract import Document, Rejection, extract_document

PAGES = Path(__file__).parent / "pages"


def page(name: str) -> str:
    return (PAGES / name).read_text(encoding="utf-8")


def extract_article(name: str, url: str, **options) -> Document:
    result = extract_document(page(name), url, **options)
    assert isinstance(result, Document), result
    return result


# --------------------------------------------------------------------------- a full news page


@pytest.fixture(scope="module")
def lighthouse() -> Document:
    return extract_article(
        "news_jsonld.html",
        "https://www.daily-example.com/local/2024/05/02/harbour-lighthouse-restoration?utm_source=twitter&fbclid=abc#comments",
    )


def test_title_is_the_headline_without_the_site_name(lighthouse: Document) -> None:
    assert lighthouse.title == "Harbour council votes to restore the old lighthouse"


def test_metadata_comes_from_the_structured_data(lighthouse: Document) -> None:
    assert lighthouse.authors == ("Maria Keller", "Tom O'Brien")
    # JSON-LD wins over the meta tag, which says 23:00 UTC the day before.
    assert lighthouse.published_at == datetime(2024, 5, 2, 7, 30, tzinfo=UTC)
    assert lighthouse.modified_at == datetime(2024, 5, 2, 13, 5, tzinfo=UTC)
    assert lighthouse.published_at.tzinfo is not None
    assert lighthouse.language == "en"
    assert lighthouse.site_name == "The Daily Example"
    assert (
        lighthouse.description
        == "Councillors approved a plan to repair the 1860 tower and open it to visitors next summer."
    )


def test_urls_are_normalized(lighthouse: Document) -> None:
    expected = "https://www.daily-example.com/local/2024/05/02/harbour-lighthouse-restoration"
    assert lighthouse.url == expected
    assert lighthouse.canonical_url == expected


def test_text_is_the_article_without_chrome(lighthouse: Document) -> None:
    assert len(lighthouse.paragraphs) == 5
    assert lighthouse.paragraphs[0].startswith("The harbour council voted on Wednesday evening")
    assert lighthouse.paragraphs[-1].endswith("automated in 1978.")
    for chrome in (
        "cookies",
        "Updated",
        "minutes ago",
        "comments",
        "Most read",
        "Storm warning",
        "Share on",
        "All rights reserved",
        "Sport",
    ):
        assert chrome not in lighthouse.text


def test_chrome_changes_leave_the_text_unchanged(lighthouse: Document) -> None:
    again = extract_article("news_jsonld_new_chrome.html", lighthouse.url)
    assert again.text == lighthouse.text
    assert again.title == lighthouse.title


def test_a_one_word_correction_changes_the_text(lighthouse: Document) -> None:
    corrected = page("news_jsonld.html").replace("nine votes to two", "nine votes to three")
    result = extract_document(corrected, lighthouse.url)
    assert isinstance(result, Document)
    assert result.text != lighthouse.text
    assert "nine votes to three" in result.text


# --------------------------------------------------------------------------- pages with less to go on


def test_title_from_h1_when_the_page_has_no_structured_data() -> None:
    document = extract_article(
        "no_structured_data.html", "https://riverside-gazette.example/news/2024/03/09/elm-river-trees"
    )
    assert document.title == "Volunteers plant two thousand trees along the Elm River"
    assert document.published_at is not None and document.published_at.date().isoformat() == "2024-03-09"
    assert document.text.startswith("More than one hundred volunteers")
    assert "Riverside Gazette" not in document.text


def test_byline_boilerplate_is_cleaned_from_authors() -> None:
    document = extract_article("byline_staff.html", "https://metro-chronicle.example/2024/06/14/night-buses")
    assert document.authors == ("Jane Doe", "John Smith")
    assert document.title == "City buses to run all night at weekends"
    assert document.published_at == datetime(2024, 6, 14, 11, 0, tzinfo=UTC)


def test_syndicated_copy_keeps_the_canonical_of_the_original_host() -> None:
    document = extract_article(
        "syndicated_copy.html", "https://partner-post.example/world/scientists-map-deepest-cave-123"
    )
    assert document.url == "https://partner-post.example/world/scientists-map-deepest-cave-123"
    assert (
        document.canonical_url == "https://www.original-news.example/science/2024/04/20/deepest-cave-mapped"
    )


def test_a_canonical_naming_the_home_page_or_a_section_is_ignored() -> None:
    url = "https://www.northtown-news.example/local/2024/05/13/library-hours"
    document = extract_article("canonical_home.html", url)
    assert document.canonical_url == url


def test_short_brief_is_kept_with_the_default_threshold() -> None:
    document = extract_article("short_brief.html", "https://island-times.example/news/ferry-suspended-4411")
    assert len(document.paragraphs) == 2
    assert document.paragraphs[1].endswith("without a fee.")
    too_short = extract_document(
        page("short_brief.html"), "https://island-times.example/news/ferry-suspended-4411", min_words=100
    )
    assert isinstance(too_short, Rejection) and too_short.reason == "too-short"


def test_non_ascii_page_given_as_bytes_in_its_declared_charset() -> None:
    raw = page("news_zh.html").encode("gbk")
    result = extract_document(raw, "https://news.example.cn/2024/04/01/parks.html", min_words=20)
    assert isinstance(result, Document), result
    assert result.title == "北京今年新增城市公园五十个"
    assert result.language == "zh"
    assert result.paragraphs[0].startswith("记者从北京市园林绿化局获悉")
    assert result.published_at == datetime(2024, 4, 1, 1, 0, tzinfo=UTC)


def test_dates_are_never_in_the_future() -> None:
    html = page("short_brief.html").replace("2024-02-11T06:40:00Z", "2031-01-01T00:00:00Z")
    result = extract_document(
        html, "https://island-times.example/news/ferry-suspended-4411", now=datetime(2024, 2, 12, tzinfo=UTC)
    )
    assert isinstance(result, Document)
    assert result.published_at is None or result.published_at <= datetime(2024, 2, 13, tzinfo=UTC)


def test_modified_before_published_is_dropped() -> None:
    html = page("news_jsonld.html").replace("2024-05-02T14:05:00+01:00", "2024-04-30T10:00:00+01:00")
    result = extract_document(
        html, "https://www.daily-example.com/local/2024/05/02/harbour-lighthouse-restoration"
    )
    assert isinstance(result, Document)
    assert result.published_at is not None
    assert result.modified_at is None or result.modified_at >= result.published_at


# --------------------------------------------------------------------------- pages with no article


@pytest.mark.parametrize("html", ["", "   \n\t  ", b""])
def test_empty_page_is_rejected(html) -> None:
    result = extract_document(html, "https://example.com/a")
    assert isinstance(result, Rejection)
    assert result.reason == "empty"


def test_binary_junk_is_rejected_as_not_html() -> None:
    junk = bytes(range(256)) * 64
    result = extract_document(junk, "https://example.com/file.bin")
    assert isinstance(result, Rejection)
    assert result.reason == "not-html"


def test_navigation_only_page_is_rejected() -> None:
    result = extract_document(page("navigation_only.html"), "https://harbour-herald.example/sections/")
    assert isinstance(result, Rejection)
    assert result.reason in ("no-article-text", "too-short")
    assert result.url == "https://harbour-herald.example/sections/"


@pytest.mark.parametrize("cut", [0.3, 0.5, 0.75, 0.9])
def test_page_cut_off_mid_tag_never_raises(cut: float) -> None:
    html = page("news_jsonld.html")
    position = int(len(html) * cut)
    position = html.index("<", position) + 3  # inside a tag
    result = extract_document(
        html[:position], "https://www.daily-example.com/local/2024/05/02/harbour-lighthouse-restoration"
    )
    assert isinstance(result, (Document, Rejection))
    if isinstance(result, Document):
        assert "Harbour council votes" in result.title


def test_huge_page_is_rejected_not_parsed() -> None:
    result = extract_document(
        "<html><body>" + "<p>x</p>" * 3_000_000 + "</body></html>", "https://example.com/huge"
    )
    assert isinstance(result, Rejection)
    assert result.reason == "too-large"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (["By Jane Doe and John Smith | Staff"], ["Jane Doe", "John Smith"]),
        (["Reuters Staff"], []),
        (["jane.doe@example.com", "Jane Doe, 12 May 2024"], ["Jane Doe"]),
        (["Elena Oberholzer (obe), Oliver Maksan (oma)"], ["Elena Oberholzer", "Oliver Maksan"]),
        (["Sophie Foster", "SOPHIE FOSTER", "sophie-foster"], ["Sophie Foster"]),
        (["Emma Mackenzie", "Image: Getty Images"], ["Emma Mackenzie"]),
    ],
)
def test_author_names_are_cleaned(raw: list[str], expected: list[str]) -> None:
    from newsdedup.extract.metadata import clean_authors

    assert clean_authors(raw) == expected


# --------------------------------------------------------------------------- "Updated ..." lines and churn


BEIJING = timezone(timedelta(hours=8))


def _brief(update_line: str, published: str = "2026-03-30T08:00:00+08:00") -> str:
    return (
        '<html lang="en"><head><title>Rail link to the new airport opens</title>'
        f'<meta property="article:published_time" content="{published}"></head><body><article>'
        "<h1>Rail link to the new airport opens</h1><p>By NewsChina</p>"
        f"<p>{update_line}</p>"
        "<p>The rail link between the city centre and the new airport opened to passengers on Monday, "
        "cutting the journey to twenty-five minutes and running every ten minutes from early morning.</p>"
        "<p>Officials said about forty thousand passengers a day are expected to use the line in its first year.</p>"
        "</article></body></html>"
    )


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        # In the zone of the published date when the line names none.
        ("Updated Apr.1", datetime(2026, 4, 1, tzinfo=BEIJING)),
        ("Updated: April 2, 2026 10:05", datetime(2026, 4, 2, 10, 5, tzinfo=BEIJING)),
        ("Aktualisiert am 03.04.2026, 10:05 Uhr", datetime(2026, 4, 3, 10, 5, tzinfo=BEIJING)),
        ("Updated Mar.28", None),  # before published
        ("Updated Apr.20", None),  # in the future
        ("Updated 5 minutes ago", None),  # relative: says too little
    ],
)
def test_modified_at_from_an_updated_line(line: str, expected: datetime | None) -> None:
    result = extract_document(
        _brief(line), "https://newschina.example/2026/03/30/rail-link", now=datetime(2026, 4, 5, tzinfo=UTC)
    )
    assert isinstance(result, Document)
    assert result.modified_at == expected
    assert line not in result.text


def test_structured_modified_date_wins_over_an_updated_line() -> None:
    html = _brief("Updated Apr.1").replace(
        "</head>", '<meta property="article:modified_time" content="2026-04-02T09:00:00Z"></head>'
    )
    result = extract_document(
        html, "https://newschina.example/2026/03/30/rail-link", now=datetime(2026, 4, 5, tzinfo=UTC)
    )
    assert isinstance(result, Document)
    assert result.modified_at == datetime(2026, 4, 2, 9, 0, tzinfo=UTC)


def _churned(byline: str, ad: str, related: str, teaser: str, cookie: str) -> str:
    return (
        _brief("Updated 5 minutes ago")
        .replace("<p>By NewsChina</p>", f"<p>By Jane Doe, {byline}</p>")
        .replace(
            "</article>",
            f"<div><span>Advertisement</span><p>{ad}</p></div><p>Related: <a href='/r'>{related}</a></p>"
            f"<div><h3>Most read</h3><ul><li><a href='/t'>{teaser}</a></li></ul></div></article>",
        )
        .replace("<body>", f"<body><div><p>{cookie}</p></div>")
    )


def test_chrome_around_and_inside_the_article_leaves_the_text_alone() -> None:
    url = "https://newschina.example/2026/03/30/rail-link"
    first = extract_document(
        _churned(
            "10:42 AM",
            "Best mortgage rates today",
            "Flood repairs start next week",
            "Bakery wins bread award",
            "We use cookies. Read our cookie policy.",
        ),
        url,
    )
    second = extract_document(
        _churned(
            "11:07 AM",
            "Holiday deals to the coast from 99 dollars",
            "Bus depot plan goes to consultation",
            "Police appeal after break-ins",
            "This website uses cookies. Manage preferences.",
        ),
        url,
    )
    assert isinstance(first, Document) and isinstance(second, Document)
    assert first.text == second.text
    assert first.paragraphs[0] == "By Jane Doe"
    assert first.paragraphs[1].startswith("The rail link")


# --------------------------------------------------------------------------- doing only the work a page needs


def test_trafilatura_metadata_is_asked_only_when_the_structured_data_is_silent(monkeypatch) -> None:
    import newsdedup.extract.extractor as extractor

    calls: list[str] = []
    real = extractor.extract_metadata

    def counting(*args, **kwargs):
        calls.append("extract_metadata")
        return real(*args, **kwargs)

    monkeypatch.setattr(extractor, "extract_metadata", counting)
    extract_article(
        "news_jsonld.html", "https://www.daily-example.com/local/2024/05/02/harbour-lighthouse-restoration"
    )
    assert calls == []
    # No structured data: the date comes from the heuristics, asked once for every field.
    document = extract_article(
        "no_structured_data.html", "https://riverside-gazette.example/news/2024/03/09/elm-river-trees"
    )
    assert calls == ["extract_metadata"]
    assert document.published_at is not None and document.published_at.date().isoformat() == "2024-03-09"


def test_an_ad_block_whose_label_follows_an_empty_element_is_cut() -> None:
    from lxml import html as lxml_html

    from newsdedup.extract.chrome import strip_chrome_blocks

    tree = lxml_html.fromstring(
        "<html><body><article><p>The harbour council met on Tuesday evening to vote.</p>"
        "<div><i></i>Advertisement<p>Find the best mortgage rates today</p></div>"
        "<p>The vote was unanimous.</p></article></body></html>"
    )
    assert strip_chrome_blocks(tree) == 1
    assert "mortgage" not in tree.text_content() and "unanimous" in tree.text_content()


def test_the_full_trafilatura_cascade_runs_when_the_fast_one_missed_the_article() -> None:
    from types import SimpleNamespace

    from lxml import html as lxml_html

    from newsdedup.extract.extractor import _missed_article

    sentence = "The harbour council voted on Tuesday to restore the old lighthouse at the end of the pier. "
    tree = lxml_html.fromstring(f"<html><body><p>{sentence * 3}</p><p>{sentence * 3}</p></body></html>")
    assert not _missed_article(
        SimpleNamespace(text=(sentence * 3).strip() + "\n" + (sentence * 3).strip()), tree
    )
    assert _missed_article(SimpleNamespace(text="Council votes"), tree)  # a teaser, not the article
    assert _missed_article(SimpleNamespace(text="\n".join(["News", "Sport", "Weather"] * 40)), tree)  # a menu
    assert _missed_article(None, tree)
