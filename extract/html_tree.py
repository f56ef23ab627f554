"""Parsing a page into the lxml tree extraction reads: trafilatura's ``load_html`` for a decoded
page, with a parser whose element classes are chosen in C.

``lxml.html.HTMLParser`` picks each element's Python class (``FormElement`` for a ``<form>``,
``InputElement`` for an ``<input>``...) in a Python callback, ``HtmlElementClassLookup.lookup``,
called every time lxml makes a Python object for an element: about 3,000 times per page while
trafilatura walks and prunes the tree. Neither trafilatura nor this project uses the form
classes, so every element here is a plain ``HtmlElement`` (comments, processing instructions
and entities keep their lxml.html classes), chosen by ``ElementDefaultClassLookup`` without a
Python call. Same trees, same text: 1.1 to 1.8 ms less CPU per page on the 258 Fundus pages
(bench/README.md, "the element class lookup"). Copies of a tree (``copy.copy``, which
trafilatura makes) keep their parser, so they keep this lookup too.
"""

from __future__ import annotations

import logging

from lxml import etree
from lxml.html import (
    HtmlComment,
    HtmlElement,
    HtmlEntity,
    HTMLParser,
    HtmlProcessingInstruction,
    fromstring,
)
from trafilatura.utils import is_dubious_html, repair_faulty_html

log = logging.getLogger(__name__)

# trafilatura.utils.HTML_PARSER's options.
_PARSER = HTMLParser(
    collect_ids=False, default_doctype=False, encoding="utf-8", remove_comments=True, remove_pis=True
)
_PARSER.set_element_class_lookup(
    etree.ElementDefaultClassLookup(
        element=HtmlElement, comment=HtmlComment, pi=HtmlProcessingInstruction, entity=HtmlEntity
    )
)


def load_html(html: str) -> HtmlElement | None:
    """The page's tree, or None when it holds no HTML document: what
    ``trafilatura.utils.load_html`` returns for the same string, step for step."""
    beginning = html[:50].lower()
    dubious = is_dubious_html(beginning)
    html = repair_faulty_html(html, beginning)
    tree: HtmlElement | None = None
    parsed_bytes = False
    try:
        tree = fromstring(html, parser=_PARSER)
    except ValueError:
        # "Unicode strings with encoding declaration are not supported."
        tree, parsed_bytes = _from_bytes(html), True
    except Exception as error:  # noqa: BLE001 - lxml raises several kinds; the page is rejected
        # Debug only: the caller rejects the page ("not-html") and logs that with its URL.
        log.debug("lxml parsing failed: %s", error)
    if (tree is None or len(tree) < 1) and not parsed_bytes:
        tree = _from_bytes(html)
    if tree is not None and dubious and len(tree) < 2:
        # No "html" in its first characters and hardly a tree: not a page.
        return None
    return tree


def _from_bytes(html: str) -> HtmlElement | None:
    try:
        return fromstring(html.encode("utf8", "surrogatepass"), parser=_PARSER)
    except Exception as error:  # noqa: BLE001 - as above
        log.debug("lxml parsing failed on the bytes: %s", error)
    return None
