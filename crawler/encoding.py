"""Decoding an HTML body to text when the server and the page disagree about the charset.

Scrapy (w3lib) lets the HTTP header win over the page's own ``<meta charset>``, as browsers
do. News servers often send a default charset that is wrong for the page (Apache's
``AddDefaultCharset``), which turns every accent into mojibake. We keep Scrapy's order but
check it against the bytes:

1. UTF-8 validates itself: if any declaration (header, BOM, meta) says UTF-8 and the body is
   valid UTF-8, it is UTF-8.
2. Otherwise the first declaration, header first, that decodes the body without errors wins
   (a header saying UTF-8 over latin-1 bytes fails, and the page's meta is used).
3. With no usable declaration, Scrapy's own detection (``response.text``) decides.

``html_text`` is the decoding every reader of fetched pages uses: the spider, and the archive
(reprocess and import-warc), which so never load the spider.
"""

from __future__ import annotations

import codecs

from scrapy.http import HtmlResponse, Response, TextResponse
from w3lib.encoding import html_body_declared_encoding, http_content_type_encoding, read_bom, resolve_encoding

HTML_TYPES = ("text/html", "application/xhtml+xml")
_HTML_STARTS = (b"<!doctype html", b"<html", b"<head", b"<body", b"<meta", b"<title", b"<!--")


def header(response: Response, name: str) -> str:
    """A response header as text, "" when absent."""
    value = response.headers.get(name)
    return value.decode("latin-1") if value else ""


def _codec(label: str | None) -> str | None:
    if not label:
        return None
    resolved = resolve_encoding(label)
    if not resolved:
        return None
    try:
        return codecs.lookup(resolved).name
    except LookupError:
        return None


def _decodes(body: bytes, codec: str) -> str | None:
    try:
        return body.decode(codec)
    except (UnicodeDecodeError, LookupError):
        return None


def _utf8_text_of(response: TextResponse) -> str | None:
    """Scrapy's own text of the response when it is the body decoded as UTF-8 without an error:
    its encoding is UTF-8 (the BOM's, else the header's, else the page's own) and no byte was
    replaced (U+FFFD). Scrapy has decoded an HTML response by the time the spider sees it
    (MetaRefreshMiddleware reads its text): a 300 KB body is then not decoded a second time."""
    if _codec(response.encoding) != "utf-8":
        return None
    text = response.text
    return None if "\ufffd" in text else text


def decode_html(response: TextResponse) -> tuple[str, str]:
    """The page's text and the codec used."""
    body = response.body
    bom_codec, bom = read_bom(body)  # the codec and the BOM's bytes
    declared = [
        _codec(http_content_type_encoding((response.headers.get("Content-Type") or b"").decode("latin-1"))),
        _codec(bom_codec),
        _codec(html_body_declared_encoding(body)),
    ]
    candidates = [c for c in dict.fromkeys(declared) if c]
    payload = body[len(bom) :] if bom_codec and bom else body
    if "utf-8" in candidates:
        text = _utf8_text_of(response)
        if text is None:
            text = _decodes(payload, "utf-8")
        if text is not None:
            return text, "utf-8"
    for codec in candidates:
        text = _decodes(payload, codec)
        if text is not None:
            return text, codec
    return response.text, response.encoding


def html_text(response: Response) -> str | None:
    """The decoded HTML of ``response``, or None when it is not HTML.

    HTML is a text/html or application/xhtml+xml type, or no type at all and a body that
    starts like HTML (Scrapy's own sniffing is looser than we want for PDFs and images).
    """
    content_type = header(response, "Content-Type").split(";")[0].strip().lower()
    if content_type:
        if content_type not in HTML_TYPES:
            return None
    elif not response.body.lstrip()[:64].lower().startswith(_HTML_STARTS):
        return None
    if not isinstance(response, TextResponse):
        response = HtmlResponse(response.url, body=response.body, headers=response.headers)
    # NUL is no character of HTML (parsers drop it) and PostgreSQL cannot store it in text.
    return decode_html(response)[0].replace("\x00", "")
