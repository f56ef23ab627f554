"""Reading feeds, sitemaps and listings, and decoding pages: the crawler's pure parts."""

from __future__ import annotations

import gzip
import re

import pytest
from scrapy.http import HtmlResponse

from newsdedup.crawler.discovery import BrokenDocument, clean_url, parse_feed, parse_listing, parse_sitemap
from newsdedup.crawler.encoding import decode_html

BASE = "http://news.example/feed.xml"


@pytest.mark.parametrize(
    "link, expected",
    [
        ("http://news.example/a.html", "http://news.example/a.html"),
        ("/2025/01/a.html#top", "http://news.example/2025/01/a.html"),
        ("htp://x", None),
        ("javascript:openArticle(42)", None),
        ("mailto:desk@news.example", None),
        ("see the print edition", None),
        ("http://news.example:99999/a.html", None),
        ("http:///nohost", None),
        ("", None),
    ],
)
def test_clean_url_keeps_only_fetchable_links(link, expected):
    assert clean_url(link, BASE) == expected


def test_rss_item_without_link_and_with_bad_links_are_counted():
    feed = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>
      <item><title>Good</title><link>http://news.example/good.html</link>
            <pubDate>Wed, 01 Jan 2025 12:00:00 GMT</pubDate></item>
      <item><title>Bad</title><link>javascript:void(0)</link></item>
    </channel></rss>"""
    found = parse_feed(feed, BASE)
    assert [(a.url, a.hints) for a in found.articles] == [
        ("http://news.example/good.html", {"title": "Good", "published": "2025-01-01T12:00:00+00:00"})
    ]
    assert found.bad_links == ["javascript:void(0)"]


@pytest.mark.parametrize(
    "body",
    [
        b"<html><body>Maintenance</body></html>",
        b"",
        b"\x89PNG\r\n\x1a\n\x00\x00",
        b'<?xml version="1.0"?><rss version="2.0"><channel><item><title>cut',
    ],
)
def test_broken_feeds_are_refused_with_a_reason(body):
    with pytest.raises(BrokenDocument, match="broken feed"):
        parse_feed(body, BASE)


def test_gzipped_google_news_sitemap():
    xml = b"""<?xml version="1.0"?>
    <urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"
            xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">
      <url><loc>http://news.example/a.html</loc><news:news>
        <news:publication_date>2025-01-02</news:publication_date><news:title>A title</news:title>
      </news:news></url>
      <url><loc>ftp://news.example/b</loc></url>
    </urlset>"""
    found = parse_sitemap(gzip.compress(xml), "http://news.example/news.xml.gz", max_size=10_000)
    assert [(a.url, a.hints) for a in found.articles] == [
        ("http://news.example/a.html", {"title": "A title", "published": "2025-01-02"})
    ]
    assert found.bad_links == ["ftp://news.example/b"]


def test_sitemap_index_lists_child_sitemaps_not_articles():
    xml = b"""<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
      <sitemap><loc>http://news.example/s1.xml</loc></sitemap></sitemapindex>"""
    found = parse_sitemap(xml, "http://news.example/index.xml")
    assert found.sitemaps == ["http://news.example/s1.xml"] and found.articles == []


def test_xml_entities_are_refused_never_expanded():
    xml = b"""<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>
      <urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><url><loc>&e;</loc></url></urlset>"""
    with pytest.raises(BrokenDocument, match="declares entities"):
        parse_sitemap(xml, "http://news.example/s.xml")


BILLION_LAUGHS = (
    b'<?xml version="1.0"?>\n<!DOCTYPE rss [\n<!ENTITY lol "lol">\n'
    + b"".join(
        b'<!ENTITY lol%d "%s">\n' % (i, (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;") * 10)
        for i in range(1, 10)
    )
    + b']>\n<rss version="2.0"><channel><title>&lol9;</title><item><title>&lol9;</title>'
    b"<link>http://news.example/2025/01/a.html</link></item></channel></rss>"
)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("encoding", ["utf-8", "utf-16"])
def test_a_feed_that_declares_entities_is_a_broken_feed(encoding: str):
    body = (
        BILLION_LAUGHS
        if encoding == "utf-8"
        else BILLION_LAUGHS.decode()
        .replace('version="1.0"?', 'version="1.0" encoding="utf-16"?')
        .encode("utf-16")
    )
    with pytest.raises(BrokenDocument, match="broken feed: declares entities"):
        parse_feed(body, "http://news.example/rss.xml", "application/rss+xml")
    external = (
        b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
        b'<rss version="2.0"><channel><item><title>&xxe;</title><link>http://news.example/a</link></item></channel></rss>'
    )
    with pytest.raises(BrokenDocument, match="declares entities"):
        parse_feed(external, "http://news.example/rss.xml")
    # One flat entity of markup referenced many times: feedparser keeps its declaration, and
    # its expansion cost super-linear time (10 KB: about 20 s) before it was refused.
    flat = (
        b'<?xml version="1.0"?>\n<!DOCTYPE rss [\n<!ENTITY a "' + b"<b>lol</b>" * 48 + b'">\n]>\n'
        b'<rss version="2.0"><channel><item><link>http://news.example/a</link><description>'
        + b"&a;" * 3000
        + b"</description></item></channel></rss>"
    )
    with pytest.raises(BrokenDocument, match="declares entities"):
        parse_feed(flat, "http://news.example/rss.xml")


def test_a_feed_with_a_plain_doctype_is_read():
    body = (
        b'<?xml version="1.0"?>\n<!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN" '
        b'"http://my.netscape.com/publish/formats/rss-0.91.dtd">\n<rss version="0.91"><channel><title>T</title>'
        b"<item><title>A &amp; B</title><link>http://news.example/2025/01/a.html</link></item></channel></rss>"
    )
    found = parse_feed(body, "http://news.example/rss.xml")
    assert [link.url for link in found.articles] == ["http://news.example/2025/01/a.html"]
    assert found.articles[0].hints["title"] == "A & B"


def test_gzip_bomb_over_the_size_limit_is_refused():
    with pytest.raises(BrokenDocument, match="gzip"):
        parse_sitemap(
            gzip.compress(b"<urlset>" + b" " * 200_000 + b"</urlset>"), "http://x/s.xml.gz", max_size=1000
        )


def test_listing_keeps_matching_absolute_links_once():
    html = """<html><head><base href="http://news.example/section/"></head><body>
      <a href="2025/01/a.html">A</a> <a href="/2025/01/a.html">A again</a>
      <a href="http://news.example/2025/01/b.html#comments">B</a> <a href="/about.html">About</a>
    </body></html>"""
    found = parse_listing(html, "http://news.example/section/", re.compile(r"/2025/\d\d/[^/]+\.html$"))
    assert [a.url for a in found.articles] == [
        "http://news.example/section/2025/01/a.html",
        "http://news.example/2025/01/a.html",
        "http://news.example/2025/01/b.html",
    ]


def _response(body: bytes, content_type: str) -> HtmlResponse:
    return HtmlResponse("http://news.example/a.html", body=body, headers={"Content-Type": content_type})


def test_decoding_page_meta_wins_over_a_wrong_utf8_header():
    body = '<html><head><meta charset="iso-8859-1"></head><body>Grüße aus Köln</body></html>'.encode(
        "latin-1"
    )
    assert "Grüße aus Köln" in decode_html(_response(body, "text/html; charset=utf-8"))[0]


def test_decoding_utf8_body_under_a_wrong_latin1_header():
    body = '<html><head><meta charset="utf-8"></head><body>São Paulo</body></html>'.encode()
    assert "São Paulo" in decode_html(_response(body, "text/html; charset=iso-8859-1"))[0]


def test_decoding_without_any_declaration_falls_back_to_scrapy():
    body = "<html><body>naïve café</body></html>".encode()
    assert "naïve café" in decode_html(_response(body, "text/html"))[0]
