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
from functools import lru_cache
from typing import Any

from lxml import etree

from newsdedup.extract.text import AD_LABEL, TEASER_HEADING

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


def _is_ad_slot(element: Any, words: int, first_line: str) -> bool:
    # Small, and not a short article that happens to start with an ad label.
    return (
        words <= _MAX_AD_BLOCK_WORDS
        and bool(_AD_LABEL_LINE.match(first_line))
        and next(element.iter("h1"), None) is None
        and sum(1 for _ in element.iter("p")) <= 3
    )


def _is_teaser_box(element: Any, words: int, first_line: str) -> bool:
    if not TEASER_HEADING.match(first_line):
        return False
    rest = words - _words(first_line)
    # Headlines under the heading, nearly all of them links.
    return rest > 0 and _link_words(element) >= 0.7 * rest


_LABEL = re.compile(f"(?:{_AD_LABEL_LINE.pattern})|(?:{TEASER_HEADING.pattern})", re.IGNORECASE)
_MAX_LABEL_WORDS = 8  # the longest label, "das könnte sie auch interessieren :", has 6
_MAX_LABEL_CHARS = 200  # a text node longer than that is no label (nor read by a pattern)
# Every text in a subtree, as plain strings (no element objects made, unlike itertext()).
_ALL_TEXTS = etree.XPath(".//text()", smart_strings=False)


@lru_cache(maxsize=16)
def _texts_equal_to(count: int) -> etree.XPath:
    """The texts of a subtree equal to one of ``count`` strings ($l0, $l1, ...), each knowing
    its element (``getparent``, ``is_tail``): one pass over the tree for all of them."""
    return etree.XPath(".//text()[" + " or ".join(f". = $l{i}" for i in range(count)) + "]")


def _is_label(line: str) -> bool:
    """An ad label or a teaser heading (``line`` with its spaces collapsed)."""
    return bool(_LABEL.match(line))


def _label_blocks(tree: Any) -> set[Any]:
    """The blocks of ``tree`` whose first line is an ad label or a teaser heading.

    Found from the texts rather than by reading every block's first line: a block's first
    line is one of its texts, so from each text that is a label, the walk goes up through the
    elements whose first line it still is.
    """
    labels = set()
    for text in _ALL_TEXTS(tree):
        if len(text) > _MAX_LABEL_CHARS:
            continue
        words = text.split(None, _MAX_LABEL_WORDS)  # a long text is split no further
        if words and len(words) <= _MAX_LABEL_WORDS and _is_label(" ".join(words)):
            labels.add(text)
    blocks: set[Any] = set()
    if not labels:
        return blocks
    # Every text that is one of the labels, found in one more pass over the texts (a search
    # of the tree per label cost a pass each).
    values = sorted(labels)
    for text in _texts_equal_to(len(values))(tree, **{f"l{i}": value for i, value in enumerate(values)}):
        line = " ".join(text.split())
        element = text.getparent()
        if text.is_tail:
            element = element.getparent()
        while element is not None and _first_text(element) == line:
            if element.tag in _BLOCKS:
                blocks.add(element)
            element = element.getparent() if element is not tree else None
    return blocks


def strip_chrome_blocks(tree: Any) -> int:
    """Remove ad slots and teaser boxes from ``tree`` (in place); returns how many."""
    candidates = _label_blocks(tree)
    if not candidates:
        return 0
    doomed: list[Any] = []
    # In document order, outer blocks first.
    for element in sorted(candidates, key=lambda block: _position(block, tree)):
        if any(element is d or d in element.iterancestors() for d in doomed[-1:]):
            continue
        first_line = _first_text(element)
        text = element.text_content()
        words = _words(text)
        if words == 0 or words > 400:
            continue
        if _is_ad_slot(element, words, first_line) or _is_teaser_box(element, words, first_line):
            # The label may sit alone in its own element: take the block around it.
            target = element
            parent = element.getparent()
            while parent is not None and parent.tag in _BLOCKS and _words(parent.text_content()) == words:
                target, parent = parent, parent.getparent()
            if target.tag == "p" or target.getparent() is None:
                continue  # a label alone in a paragraph: clean_text judges the line
            doomed.append(target)
    for element in doomed:
        if element.getparent() is not None:
            remove_keeping_tail(element)
    return len(doomed)


def _position(element: Any, tree: Any) -> tuple[int, ...]:
    """Where ``element`` lies under ``tree``: the index of each ancestor among its siblings, from
    the top. Sorting by it is document order, an element before what it holds (a walk over
    every block of the page to find the few candidates in order cost more than the rest)."""
    path: list[int] = []
    while element is not tree:
        parent = element.getparent()
        path.append(parent.index(element))
        element = parent
    return tuple(reversed(path))


def remove_keeping_tail(element: etree._Element) -> None:
    """Remove ``element`` from its parent, keeping the text that follows it (lxml stores that
    text on the element, as its ``tail``)."""
    parent = element.getparent()
    assert parent is not None
    if element.tail and element.tail.strip():
        previous = element.getprevious()
        if previous is not None:
            previous.tail = (previous.tail or "") + element.tail
        else:
            parent.text = (parent.text or "") + element.tail
    parent.remove(element)
