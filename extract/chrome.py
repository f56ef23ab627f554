"""Removing page chrome from the parsed page before trafilatura reads it.

trafilatura drops most chrome by its class names and link density, but blocks set in the
article container with neutral markup get through: an ad slot (``<div><span>Anzeige</span>
<p>ad copy</p></div>``) or a teaser box (``<div><h3>Related stories</h3><ul>...</ul></div>``).
Their text rotates between fetches while the article does not, so each would make a fetch
look like a new version. A block is removed only when its first line is such a label and
the block is small (an ad) or made of links (a teaser list); lines of chrome that are not in
a block of their own are left to ``extract.text.clean_text``.
"""
from __future__ import annotations

import re
from typing import Any

from extract.text import AD_LABEL, TEASER_HEADING

_BLOCKS = ("div", "aside", "section", "figure", "ul", "ol", "table", "span", "p")
_MAX_AD_BLOCK_WORDS = 60
_AD_LABEL_LINE = re.compile(rf"^\s*{AD_LABEL}\s*:?\s*$", re.IGNORECASE)
_WORD = re.compile(r"\w+", re.UNICODE)


def _words(text: str) -> int:
    return len(_WORD.findall(text))


def _first_text(element: Any) -> str:
    """The first non-blank text in ``element``, as one line."""
    for text in element.itertext():
        if text.strip():
            return " ".join(text.split())
    return ""


def _link_words(element: Any) -> int:
    return sum(_words(link.text_content()) for link in element.iter("a"))


def _is_ad_slot(element: Any, words: int) -> bool:
    # Small, and not a short article that happens to start with an ad label.
    return (
        words <= _MAX_AD_BLOCK_WORDS
        and bool(_AD_LABEL_LINE.match(_first_text(element)))
        and next(element.iter("h1"), None) is None
        and sum(1 for _ in element.iter("p")) <= 3
    )


def _is_teaser_box(element: Any, words: int) -> bool:
    heading = _first_text(element)
    if not TEASER_HEADING.match(heading):
        return False
    rest = words - _words(heading)
    # Headlines under the heading, nearly all of them links.
    return rest > 0 and _link_words(element) >= 0.7 * rest


def strip_chrome_blocks(tree: Any) -> int:
    """Remove ad slots and teaser boxes from ``tree`` (in place); returns how many."""
    doomed = []
    for element in tree.iter(*_BLOCKS):
        if any(element is d or d in element.iterancestors() for d in doomed[-1:]):
            continue
        text = element.text_content()
        words = _words(text)
        if words == 0 or words > 400:
            continue
        if _is_ad_slot(element, words) or _is_teaser_box(element, words):
            # The label may sit alone in its own element: take the block around it.
            target = element
            parent = element.getparent()
            while parent is not None and parent.tag in _BLOCKS and _words(parent.text_content()) == words:
                target, parent = parent, parent.getparent()
            if target.tag == "p" or target.getparent() is None:
                continue  # a label alone in a paragraph: clean_text judges the line
            doomed.append(target)
    for element in doomed:
        parent = element.getparent()
        if parent is None:
            continue
        # Keep the text that follows the element (lxml stores it on the element as .tail).
        if element.tail and element.tail.strip():
            previous = element.getprevious()
            if previous is not None:
                previous.tail = (previous.tail or "") + element.tail
            else:
                parent.text = (parent.text or "") + element.tail
        parent.remove(element)
    return len(doomed)
