"""A source's own boilerplate, learned from its pages: which lines of a page to ignore.

A line (normalized) that recurs on ``LEARNED_AFTER`` different articles of one source is that
source's boilerplate, whatever its length or wording: a newsletter pitch, an ad line, a "Read
more" footer, a section blurb. CCNet drops paragraphs that repeat across web documents in the
same way; trafilatura, which extracts each page alone, cannot see them.

Pure, like the rest of dedup/: the counts live in the store (``store.boilerplate``), which the
pipeline reads before deciding a page and updates, in the page's own transaction, when the
page becomes a new article. Only new articles count: the versions, print pages and syndicated
copies of one article repeat its body, which is no boilerplate.

Before a source has ``LEARNED_AFTER`` articles nothing is learned: its first pages are judged
with the generic patterns of ``dedup.normalize`` and the decision rules alone (a shared line
still makes no version: ``dedup.decide``). ``bench/dedup_calibration.py`` measures that cost.
"""

from __future__ import annotations

from collections.abc import Collection

from newsdedup.dedup.fingerprint import paragraph_hash

# A line seen on this many different articles of a source is its boilerplate. Two would let a
# pair of briefs sharing a wire sentence as a line of its own turn it into boilerplate at once;
# three still learns a site's pitch from its first three articles.
LEARNED_AFTER = 3
# Lines a source keeps counts for: the most frequent, then the most recently seen. Boilerplate
# recurs on every page and stays; the lines of single articles come and go.
MAX_LINES_PER_SOURCE = 4000
# Characters of a line kept to show it to an operator (``newsdedup sources --boilerplate``).
SAMPLE_CHARS = 400


def line_hashes(lines: list[tuple[str, str]]) -> dict[str, str]:
    """The page's distinct normalized lines as {hash: the line as written}, in order."""
    found: dict[str, str] = {}
    for line, normalized in lines:
        if normalized:
            found.setdefault(paragraph_hash(normalized), line.strip()[:SAMPLE_CHARS])
    return found


def without_boilerplate(lines: list[tuple[str, str]], boilerplate: Collection[str]) -> list[tuple[str, str]]:
    """The lines with the learned boilerplate blanked out, as chrome lines are ("" normalized)."""
    return [
        (line, "" if normalized and paragraph_hash(normalized) in boilerplate else normalized)
        for line, normalized in lines
    ]
