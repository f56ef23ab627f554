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
"""

from __future__ import annotations

import codecs

from scrapy.http import TextResponse
from w3lib.encoding import html_body_declared_encoding, http_content_type_encoding, read_bom, resolve_encoding


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
        text = _decodes(payload, "utf-8")
        if text is not None:
            return text, "utf-8"
    for codec in candidates:
        text = _decodes(payload, codec)
        if text is not None:
            return text, codec
    return response.text, response.encoding
