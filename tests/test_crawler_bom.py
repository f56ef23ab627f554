"""A page that starts with a byte order mark is decoded without it (crawler/encoding.py)."""

from __future__ import annotations

from scrapy.http import HtmlResponse

from newsdedup.crawler.encoding import decode_html


def test_a_byte_order_mark_is_read_and_dropped() -> None:
    for bom, codec in ((b"\xef\xbb\xbf", "utf-8"), (b"\xff\xfe", "utf-16-le")):
        body = bom + "<html><p>Café crème</p></html>".encode(codec)
        text, used = decode_html(HtmlResponse("http://news.example/", body=body))
        assert text == "<html><p>Café crème</p></html>"
        assert used.replace("_", "-").lower().startswith(codec[:6])
