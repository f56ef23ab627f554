"""Cleaning the extracted text of page chrome that trafilatura lets through.

The text is what dedup fingerprints, so a line that changes every time the page is fetched
("Updated 5 minutes ago", "12 comments") would make every fetch look like a new version.
The filter drops only short whole lines that match one of the patterns below; article
sentences that merely mention comments or updates are longer and stay.
"""

from __future__ import annotations

import re

_MAX_CHROME_WORDS = 10
# Chrome lines are short: a longer line is article text, and no pattern below reads it (each
# is bounded by this, so a paragraph of one 40 KB "word" costs nothing).
_MAX_CHROME_CHARS = 400

_RELATIVE_TIME = (
    r"(?:\d+|an?|one|few)\s+(?:sec(?:ond)?s?|min(?:ute)?s?|h(?:ou)?rs?|hours?|days?|weeks?|months?|years?)\s+ago"
    r"|just now|vor\s+\d+\s+(?:sekunden|minuten|stunden|tagen|wochen)|il y a\s+\d+\s+\w+|hace\s+\d+\s+\w+"
)
_CHROME_LINES = [
    # "Updated 5 minutes ago", "Last updated: 12:03 PM", "Published 3 hours ago", "Updated Apr. 1"
    rf"(?:last\s+)?(?:updated|modified|published|posted|aktualisiert|zuletzt aktualisiert|mis à jour|actualizado)\b.*(?:\d|{_RELATIVE_TIME}).*",
    # a bare relative time
    rf"(?:{_RELATIVE_TIME})\.?",
    # "12 comments", "Comments (12)", "Show 3 replies", "1.2K shares"
    r"(?:show\s+|view\s+|see\s+|read\s+)?(?:all\s+)?[\d.,]+[km]?\s+(?:comments?|replies|reply|shares?|reactions?|likes?|kommentare?|commentaires?|comentarios?|commenti)",
    r"(?:comments?|kommentare|commentaires|comentarios|commenti)\s*[(:]?\s*[\d.,]*\s*\)?",
    r"(?:leave|post|add|write) a (?:comment|reply)|be the first to comment|no comments yet",
    # "5 min read", "Reading time: 3 minutes", "Lesezeit: 4 Minuten"
    r"(?:reading time|read time|lesezeit|temps de lecture)\s*:?\s*\d+\s*\w*|\d+\s*(?:min|minute|minuten)\.?\s*(?:read|lesezeit|de lecture)",
    # share and follow buttons that come through as text
    r"(?:share|share this(?: article| story)?|tweet|email|print|copy link|teilen|partager|compartir)(?:\s+(?:on\s+)?(?:facebook|twitter|x|whatsapp|linkedin|email))*",
]
_CHROME = re.compile(r"^\s*(?:" + "|".join(_CHROME_LINES) + r")\s*$", re.IGNORECASE)
_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200b\u202f\u205f\u3000]+")

# Ad slots: a bare label ("Advertisement", "Anzeige"), or a line the label starts
# ("Sponsored: Holiday deals ..."), whose text rotates on every fetch.
AD_LABEL = r"(?:advertisement|advertising|advert|ad|ads|sponsored(?: content| post)?|promoted(?: content)?|paid (?:content|post)|partner content|anzeige|werbung|publicité|publicidad|pubblicità|publicidade|reklame|reklama)"
_AD_LINE = re.compile(rf"^\s*{AD_LABEL}\s*(?:[:|\-–—]\s*\S.*)?$", re.IGNORECASE)
_MAX_AD_WORDS = 25
# Links to other stories set inside the article ("Related: ...", "READ MORE: ...",
# "Lesen Sie auch: ..."): the story linked to changes between fetches.
_TEASER_PREFIX = (
    r"(?:related(?: stories| articles| story| article| content| coverage)?|read more|read also|also read|more on this(?: story)?"
    r"|see also|watch|listen|recommended|more from \w+(?: \w+)?|lesen sie auch|lesen sie mehr|mehr zum thema|auch interessant|das könnte sie auch interessieren"
    r"|lire aussi|à lire aussi|a lire aussi|voir aussi|lee también|leer más|te puede interesar|leggi anche|leia também|lees ook)"
)
_TEASER_LINE = re.compile(rf"^\s*{_TEASER_PREFIX}\s*[:|»>›\-–—]+\s*\S.*$", re.IGNORECASE)
_MAX_TEASER_WORDS = 25
# Headings of teaser lists ("Most read", "Related stories", "Top stories"): the heading and
# the headline-like lines under it (short, no closing punctuation) are dropped together.
TEASER_HEADING = re.compile(
    rf"^\s*(?:{_TEASER_PREFIX}|most (?:read|popular|viewed|shared|commented)|top stories|trending(?: now)?|popular(?: now| stories)?"
    r"|latest(?: news| stories)?|editor'?s picks|you may also like|more stories|more news|meistgelesen|am meisten gelesen|beliebt"
    r"|les plus lus|lo más leído|más leídas|i più letti|mais lidas)\s*:?\s*$",
    re.IGNORECASE,
)
_MAX_TEASER_HEADLINE_WORDS = 20
_SENTENCE_END = re.compile(r"[.!?…:\"”»)]\s*$")
# A byline with a time stamp ("By Jane Doe, 10:42 AM", "Von Anna Berg | 03.03.2026, 10:05 Uhr"):
# the time changes when the page is touched, the byline does not.
_BYLINE_START = re.compile(r"^\s*(?:by|von|par|por|door|di|af|av)\s+\S", re.IGNORECASE)
_BYLINE_TIME = re.compile(
    r"(?<!\s)(?:\s*[,|·•\-–—]\s*|\s+)(?:(?:updated|published|posted|aktualisiert(?: am)?|am|on|le|el)\s*:?\s*)?"
    r"(?:(?:mon|tue|wed|thu|fri|sat|sun)[a-z]*\.?,?\s*)?"
    r"(?:\d{1,2}[./-]\d{1,2}[./-]\d{2,4}|\d{4}-\d{2}-\d{2}|[a-zäéû]{3,9}\.?\s+\d{1,2}(?:st|nd|rd|th)?,?(?:\s+\d{4})?|\d{1,2}\.?\s+[a-zäéû]{3,9}\.?(?:\s+\d{4})?)?"
    r"[,\s]*(?:(?:at|um|à|a las)\s+)?(?:\d{1,2}[:.h]\d{2}(?:\s*[ap]\.?m\.?)?(?:\s*(?:uhr|h|[a-z]{2,4}t|utc|gmt))?|\d{1,2}\s*[ap]\.?m\.?)\s*$",
    re.IGNORECASE,
)
_MAX_BYLINE_WORDS = 14
# Cookie banners that come through as text: "cookie" with consent wording, in a short line.
_COOKIE = re.compile(r"\bcookies?\b", re.IGNORECASE)
_CONSENT = re.compile(
    r"\b(?:use[sd]?|using|accept|agree|consent|policy|preferences|settings|privacy|verwende[nt]?|nutz(?:t|en)|"
    r"akzeptier\w*|zustimm\w*|einstellungen|datenschutz|utilis\w+|acceptez|politique|utiliza\w*|aceptar|política)\b",
    re.IGNORECASE,
)
_MAX_COOKIE_WORDS = 40


def is_chrome_line(line: str) -> bool:
    if len(line) > _MAX_CHROME_CHARS:
        return False
    words = len(line.split())
    if words <= _MAX_CHROME_WORDS and _CHROME.match(line):
        return True
    if words <= _MAX_AD_WORDS and _AD_LINE.match(line):
        return True
    if words <= _MAX_COOKIE_WORDS and _COOKIE.search(line) and _CONSENT.search(line):
        return True
    return words <= _MAX_TEASER_WORDS and bool(_TEASER_LINE.match(line))


def without_byline_time(line: str) -> str:
    """A byline without the time stamp at its end: "By Jane Doe, 10:42 AM" → "By Jane Doe"."""
    if (
        len(line) > _MAX_CHROME_CHARS
        or len(line.split()) > _MAX_BYLINE_WORDS
        or not _BYLINE_START.match(line)
    ):
        return line
    stripped = _BYLINE_TIME.sub("", line).rstrip(" ,|·•-–—")
    return stripped if len(stripped.split()) >= 2 else line


def _without_teaser_lists(lines: list[str]) -> list[str]:
    kept: list[str] = []
    in_list = False
    for line in lines:
        if len(line) <= _MAX_CHROME_CHARS and TEASER_HEADING.match(line):
            in_list = True
            continue
        if in_list and len(line.split()) <= _MAX_TEASER_HEADLINE_WORDS and not _SENTENCE_END.search(line):
            continue
        in_list = False
        kept.append(line)
    return kept


def clean_text(text: str) -> str:
    """Paragraphs separated by "\\n": spaces collapsed, blank and chrome lines dropped
    (time stamps, counters, ad slots, teaser links and lists), byline time stamps cut."""
    lines = (_SPACES.sub(" ", line).strip() for line in text.splitlines())
    kept = [without_byline_time(line) for line in lines if line and not is_chrome_line(line)]
    return "\n".join(_without_teaser_lists(kept))


# Scripts written without spaces between words: Thai, Lao, Myanmar, Khmer, Chinese, Japanese.
_UNSPACED_SCRIPT = re.compile(r"[\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff\u2e80-\u9fff\uf900-\ufaff]")


def word_count(text: str) -> int:
    words = text.split()
    # Scripts written without spaces (Chinese, Japanese, Thai) count characters: roughly
    # two per word keeps a short brief in those languages above the same threshold. Only
    # their characters count: one 40 KB "word" of Latin letters is one word, not 20,000.
    if words and sum(map(len, words)) / len(words) > 15:
        return max(len(words), len(_UNSPACED_SCRIPT.findall(text)) // 2)
    return len(words)
