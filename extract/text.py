"""Cleaning the extracted text of page chrome that trafilatura lets through.

The text is what dedup fingerprints, so a line that changes every time the page is fetched
("Updated 5 minutes ago", "12 comments") would make every fetch look like a new version.
The filter drops only short whole lines that match one of the patterns below; article
sentences that merely mention comments or updates are longer and stay.
"""
from __future__ import annotations

import re

_MAX_CHROME_WORDS = 10

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


def is_chrome_line(line: str) -> bool:
    return len(line.split()) <= _MAX_CHROME_WORDS and bool(_CHROME.match(line))


def clean_text(text: str) -> str:
    """Paragraphs separated by "\\n": spaces collapsed, blank and chrome lines dropped."""
    lines = (_SPACES.sub(" ", line).strip() for line in text.splitlines())
    return "\n".join(line for line in lines if line and not is_chrome_line(line))


def word_count(text: str) -> int:
    words = text.split()
    # Scripts written without spaces (Chinese, Japanese, Thai) count characters: roughly
    # two per word keeps a short brief in those languages above the same threshold.
    if words and sum(len(word) for word in words) / len(words) > 15:
        return sum(len(word) for word in words) // 2
    return len(words)
