"""Text normalization for hashing and shingling.

Two crawls of an unchanged article must normalize to the same text, and two different
articles must not be made to look alike. So the steps are few:

1. Unicode NFKC (full-width digits, ligatures, non-breaking spaces become plain forms),
   then ``casefold``.
2. Page-chrome lines are dropped (``CHROME_LINE_PATTERNS``): lines that change between
   crawls while the article does not ("Updated 5 minutes ago", "12 comments"); and generic
   site boilerplate (``BOILERPLATE_LINE_PATTERNS``: "Follow us on ...", newsletter prompts,
   copyright lines; ``PITCH_LINE_PATTERNS``: newsletter pitches of up to 80 words), which would
   make short articles of one site look alike. A site's own boilerplate in its own words is
   learned from its pages (``dedup.boilerplate``), not here.
3. Punctuation and symbols become spaces; whitespace is collapsed.
4. Chinese and Japanese characters become one token each, since those scripts put no
   spaces between words and word shingles would otherwise see a paragraph as one word.

Paragraphs (lines of the input) are kept apart: shingles never span two paragraphs, so a
dropped or moved paragraph disturbs only its own shingles.
"""

from __future__ import annotations

import re
import unicodedata

# A chrome line is short; longer lines are article text even if they start with "Updated".
CHROME_MAX_WORDS = 10

# Words a page's time stamp is made of (month and day names, numbers, zones).
_DATE_WORD = (
    r"(\d{1,4}(st|nd|rd|th|h)?|jan(uary)?|feb(ruary)?|mar(ch)?|apr(il)?|may|june?|july?|aug(ust)?"
    r"|sep(t|tember)?|oct(ober)?|nov(ember)?|dec(ember)?|mon(day)?|tue(s|sday)?|wed(nesday)?"
    r"|thu(rs|rsday)?|fri(day)?|sat(urday)?|sun(day)?|am|pm|a\.m\.|p\.m\.|gmt|utc|[ecmp][sd]?t"
    r"|cet|cest|bst|ist|today|yesterday|on|at|last|updated|modified|published|posted)\b"
)

# Lines matched (after NFKC + casefold, before punctuation is stripped) and dropped. Kept small
# on purpose: each pattern is something that changes between crawls without the article
# changing. Bylines ("By NewsChina Updated Apr.1") are article text and stay, unless they hold a
# relative time, which changes on every crawl.
CHROME_LINE_PATTERNS: tuple[re.Pattern[str], ...] = (
    # Relative times anywhere in a short line: "Updated 5 minutes ago", "By Ann Lee, 3 hours ago".
    re.compile(
        r"\b(\d+|an?|one)\s*(seconds?|secs?|minutes?|mins?|hours?|hrs?|days?|weeks?|months?|years?)\s+ago\b"
        r"|\bjust now\b"
    ),
    # Time stamps of the page: "Last updated: 12 March 2024, 14:05", "Published 09:12 GMT",
    # "Published: 3/12/2024 | Updated: 3/13/2024". Only date words may follow the keyword, so
    # "Updated figures show inflation fell" stays.
    re.compile(
        r"^(last\s+)?(updated|modified|published|posted)\b[\s:|\-–—,.]*"
        rf"({_DATE_WORD}[\s:/|\-–—,.+]*)*$"
    ),
    # Bylines ending in a time stamp: "By Jane Doe, 10:42 AM", "von anna berg | 03.03.2026, 10:05"
    # (the time moves whenever the page is touched; extract/ cuts it, texts from elsewhere may not).
    re.compile(
        r"^(?=.*(\d{1,2}[:.]\d{2}|\d\s*[ap]\.?m\b))(by|von|par|por|door)\s+[^\d,|·•]{2,60}[,|·•\-–—]\s*"
        rf"({_DATE_WORD}[\s:/|\-–—,.+]*)+(uhr\s*)?$"
    ),
    # Comment counters: "12 comments", "Comments (3)", "No comments".
    re.compile(r"^((\d[\d,.]*|no)\s+)?comments?\s*(\(\s*\d+\s*\))?$"),
    # Share prompts: "Share", "Share this article", "Share on Facebook".
    re.compile(r"^share(\s+this)?(\s+(article|story|post|page))?(\s+(on|via)\s+\S+)?\s*[:!]?$"),
    # Ad slot labels.
    re.compile(r"^advertisement$"),
)

# A boilerplate line may be a little longer than a chrome line (copyright notices).
BOILERPLATE_MAX_WORDS = 30
# Lines longer than this are article text, whatever their words: no pattern reads them (one
# 40 KB "word" counts as one word). The patterns are linear besides: none nests a repeat.
BOILERPLATE_MAX_CHARS = 400

# Site boilerplate that leaks into extracted text: the same on every article of a site, so on
# short articles it alone can make two different stories look like versions of each other.
# Only generic calls to action and copyright notices; a site's own wording stays.
BOILERPLATE_LINE_PATTERNS: tuple[re.Pattern[str], ...] = (
    re.compile(r"^follow (?:us\b|@\S).*\bon\b"),  # "Follow us on Twitter"
    # Newsletter prompts, the call and the product in either order: "Subscribe to our newsletter",
    # "Get the Harbor Times morning briefing in your inbox. Sign up now".
    re.compile(
        r"^(?=.*\b(subscribe|sign up|signup)\b)"
        r"(?=.*\b(newsletters?|inbox|updates|alerts|briefings?|bulletins?|digests?)\b)"
    ),
    # ... or split over two lines: "Get the Harbor Times morning briefing" / "Sign up now".
    re.compile(r"^get (the|our)\b.*\b(newsletters?|briefings?|bulletins?|digests?)\b"),
    re.compile(r"^(sign up|signup|subscribe)(\s+(now|today|here|for free))?\W*$"),
    re.compile(r"^(©|\(c\)|copyright\s*+(©|\(c\))?\s*+\d{4})|\ball rights reserved\b"),  # copyright lines
)

# Newsletter pitches run longer than other boilerplate: "Get the Harbor Times morning briefing:
# the day's most important stories ... delivered to your inbox every weekday. Sign up now, it's
# free, and you can unsubscribe at any time." A line of up to PITCH_MAX_WORDS words is one when
# it asks the reader to sign up, names what arrives (a newsletter, an email, the inbox) and
# speaks to the reader ("you", "your"): a news sentence about a newsletter rarely does all
# three. A line that offers to unsubscribe, or to deliver to "your inbox", that tells the
# reader of "our newsletter", or of at most eight words that calls to sign up, is one too. A
# site's pitch in other words or languages is learned from the site's pages
# (dedup.boilerplate).
PITCH_MAX_WORDS = 80
PITCH_MAX_CHARS = 800
PITCH_LINE_PATTERNS: tuple[re.Pattern[str], ...] = (
    re.compile(
        r"^(?=.*\b(subscribe|sign(ing)?[- ]?up)\b)"
        r"(?=.*\b(newsletters?|inbox|in-box|e-?mails?|briefings?|bulletins?|digests?)\b)"
        r"(?=.*\b(you|your|you're|you'll)\b)"
    ),
    re.compile(r"\bunsubscribe\b"),
    re.compile(r"\b(to|in|into|straight to) your (e-?mail )?(inbox|in-box|mailbox)\b"),  # "... to your inbox"
    # The site speaking of its own newsletter to the reader: "our morning newsletter brings you ...".
    re.compile(
        r"^(?=.*\bour(\s+\S+){0,3}\s+(newsletters?|briefings?|digests?|bulletins?)\b)(?=.*\byou(r)?\b)"
    ),
)
# A call to sign up in a line of at most SHORT_CALL_WORDS words: "It's free. Sign up below."
SHORT_CALL_WORDS = 8
SHORT_CALL = re.compile(r"\b(sign up|signup|subscribe)\b")

_CJK_RANGES = (
    (0x3040, 0x30FF),  # hiragana, katakana
    (0x3400, 0x4DBF),  # CJK extension A
    (0x4E00, 0x9FFF),  # CJK unified ideographs
    (0xF900, 0xFAFF),  # CJK compatibility ideographs
    (0x20000, 0x2FFFF),  # CJK extensions B..
)


class _TokenTable(dict[int, str | None]):
    """``str.translate`` table built lazily: punctuation/symbols → space, CJK → spaced token."""

    def __missing__(self, codepoint: int) -> str | None:
        char = chr(codepoint)
        category = unicodedata.category(char)
        if category[0] in "PS" or category in ("Cc", "Cf", "Zs", "Zl", "Zp"):
            value: str | None = " "
        elif any(low <= codepoint <= high for low, high in _CJK_RANGES):
            value = f" {char} "
        else:
            value = char
        self[codepoint] = value
        return value


_TOKEN_TABLE = _TokenTable()
_SPACES = re.compile(r"\s+")


def is_chrome_line(line: str) -> bool:
    """True if ``line`` (already NFKC-normalized and casefolded) is page chrome or boilerplate."""
    stripped = line.strip()
    if not stripped or len(stripped) > PITCH_MAX_CHARS:
        return False
    words = len(stripped.split())
    if words <= PITCH_MAX_WORDS and any(pattern.search(stripped) for pattern in PITCH_LINE_PATTERNS):
        return True
    if words <= SHORT_CALL_WORDS and SHORT_CALL.search(stripped):
        return True
    if len(stripped) > BOILERPLATE_MAX_CHARS or words > BOILERPLATE_MAX_WORDS:
        return False
    if any(pattern.search(stripped) for pattern in BOILERPLATE_LINE_PATTERNS):
        return True
    return words <= CHROME_MAX_WORDS and any(pattern.search(stripped) for pattern in CHROME_LINE_PATTERNS)


def normalize_paragraph(line: str) -> str:
    """One line → its normalized form ("" for chrome lines and lines without words)."""
    folded = unicodedata.normalize("NFKC", line).casefold()
    if is_chrome_line(folded):
        return ""
    return _SPACES.sub(" ", folded.translate(_TOKEN_TABLE)).strip()


def normalize_paragraphs(text: str) -> list[str]:
    """The text's normalized paragraphs, in order, without empty ones and chrome lines."""
    paragraphs = (normalize_paragraph(line) for line in text.splitlines())
    return [p for p in paragraphs if p]


def normalize(text: str) -> str:
    """Normalized text: normalized paragraphs joined by "\\n"."""
    return "\n".join(normalize_paragraphs(text))
