"""Decoding fetched HTML (crawler/encoding.py): a byte order mark is read and dropped, and so
are NUL characters."""

from __future__ import annotations

from scrapy.http import HtmlResponse

from newsdedup.crawler.encoding import decode_html, html_text


def test_a_byte_order_mark_is_read_and_dropped() -> None:
    for bom, codec in ((b"\xef\xbb\xbf", "utf-8"), (b"\xff\xfe", "utf-16-le")):
        body = bom + "<html><p>Café crème</p></html>".encode(codec)
        text, used = decode_html(HtmlResponse("http://news.example/", body=body))
        assert text == "<html><p>Café crème</p></html>"
        assert used.replace("_", "-").lower().startswith(codec[:6])


def test_nul_characters_are_dropped_from_the_html() -> None:
    body = b"<html><body><p>Harbour\x00 bridge reopens</p></body></html>"
    response = HtmlResponse(
        "https://daily.example/a.html", body=body, headers={"Content-Type": "text/html; charset=utf-8"}
    )
    assert html_text(response) == "<html><body><p>Harbour bridge reopens</p></body></html>"
