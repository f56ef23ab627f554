"""Choosing the article's metadata among what the page offers.

Order of trust, each field: the JSON-LD object of the article, then Open Graph / article:*
meta tags, then the visible markup (<h1>, <time pubdate>), then trafilatura's and htmldate's
heuristics, then the crawler's hints (feed entry, sitemap news tags).

The heuristics are slow (htmldate's search, trafilatura's author search on a copy of the
tree) and most pages never need them: every ``choose_*`` takes them as a ``Fallback``, a value
or a function called only when everything before it gave nothing.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urljoin, urlsplit

from dateutil import parser as date_parser

from newsdedup.extract.structured import StructuredData, clean_field, clean_space, type_names
from newsdedup.extract.urls import is_probably_section_page, normalize_url

# A last-resort value, or a function computing it when (and only when) it is needed.
Fallback = str | None | Callable[[], str | None]


def resolve(fallback: Fallback) -> str | None:
    """The value of a ``Fallback`` (calls it when it is a function)."""
    return fallback() if callable(fallback) else fallback


# --------------------------------------------------------------------------- titles

# Every value below comes from the page: it is bounded before a pattern reads it, and each
# pattern runs in time linear in what it reads (tests/test_hostile_input.py feeds them runs of
# the characters they repeat). A headline is never this long; a byline entry, a date neither.
MAX_TITLE_CHARS = 1000
MAX_BYLINE_CHARS = 500
MAX_DATE_CHARS = 200

# Separators between a headline and a site name in <title> and og:title.
# A match starts only where a run of spaces starts ((?<!\s)): each run is read once, not once
# per space in it.
_TITLE_SEPARATOR = re.compile(
    r"(?<!\s)(?:\s+[|\-–—·•»:/~*]+\s+|\s*[|｜ㅣ]\s*|\s*--\s*|\s*：\s*(?=[^\s：]+$))"
)
# A remainder that starts with a separator: "Headline | Site" given "Headline".
_SEPARATOR_START = re.compile(r"^(?:\s+[|\-–—·•»:/~*]+\s+|\s*[|｜ㅣ：]\s*|\s*--\s*|\s*-)")
_DATE_SEGMENT = re.compile(r"^\s*\d{1,4}[./-]\d{1,2}[./-]\d{1,4}\s*$")
_PREFIX_SEPARATOR = re.compile(r"^([^:|]{2,40})(?::\s+|\s+[|\-–—]\s+)")
_ALNUM = re.compile(r"[\W_]+", re.UNICODE)
_ELLIPSIS = re.compile(r"(?<!\s)\s*(?:\.\.\.|…)\s*$")


def squash(text: str) -> str:
    """Letters and digits only, case-folded: for comparing titles and names."""
    return _ALNUM.sub("", text).casefold()


def _host_labels(url: str) -> set[str]:
    """``www.nytimes.co.uk`` → {"nytimes"}: the registrable label, which often spells the site."""
    host = (urlsplit(url).hostname or "").lower()
    labels = [label for label in host.split(".") if label not in ("www", "m", "amp", "edition")]
    long_labels = {label for label in labels[:-1] if len(label) >= 3}
    return {squash(label) for label in long_labels}


def _is_site_name(segment: str, site_names: Iterable[str], host_labels: set[str]) -> bool:
    squashed = squash(segment)
    if not squashed or len(segment.split()) > 6:
        return False
    for name in site_names:
        other = squash(name)
        if other and (squashed == other or (len(other) >= 4 and (other in squashed or squashed in other))):
            return True
    for label in host_labels:
        if squashed == label or (
            len(label) >= 4
            and (squashed.startswith(label) or (label.startswith(squashed) and len(squashed) >= 4))
        ):
            return True
        # "BBC News" on bbc.co.uk, "BR24" on br.de: the label starts the name.
        if (
            len(label) >= 2
            and squashed.startswith(label)
            and len(segment.split()) <= 3
            and squashed[len(label) :].isalnum()
            and len(squashed) - len(label) <= 6
            and segment[:1].isupper()
        ):
            return True
    return False


def strip_site_name(
    title: str, site_names: Iterable[str], url: str, *, drop_pipe_suffix: bool = False
) -> str:
    """``title`` without a leading or trailing site name ("Headline | Site", "Site: Headline").

    ``drop_pipe_suffix`` also drops a last "| anything" segment of up to four words, which
    in a <title> is nearly always the site or section (used only for the <title> fallback).
    """
    title = clean_field(title, MAX_TITLE_CHARS)
    names = [name for name in site_names if name]
    labels = _host_labels(url)
    for _ in range(3):  # "Headline | Section | Site"
        parts = _TITLE_SEPARATOR.split(title)
        if len(parts) < 2:
            break
        separators = _TITLE_SEPARATOR.findall(title)
        if _is_site_name(parts[-1], names, labels) or _DATE_SEGMENT.match(parts[-1]):
            title = title[: len(title) - len(parts[-1]) - len(separators[-1])].strip()
        elif _is_site_name(parts[0], names, labels):
            title = title[len(parts[0]) + len(separators[0]) :].strip()
        elif drop_pipe_suffix and "|" in separators[-1] and len(parts[-1].split()) <= 4:
            title = title[: len(title) - len(parts[-1]) - len(separators[-1])].strip()
        else:
            break
    match = _PREFIX_SEPARATOR.match(title)
    if match and _is_site_name(match.group(1), names, labels):
        title = title[match.end() :].strip()
    return title


def _without_unknown_suffix(title: str, others: list[str]) -> str:
    """``title`` cut to another candidate it begins with when the rest is a separated suffix
    ("Headline | Sport" beside the <h1> "Headline"): a site or section name we did not know."""
    for other in sorted(others, key=len):
        if (
            len(other) >= 8
            and len(other) < len(title)
            and title.startswith(other)
            and _SEPARATOR_START.match(title[len(other) :])
        ):
            return other
    return title


def choose_title(
    data: StructuredData, article: dict[str, Any] | None, site_names: list[str], url: str, fallback: Fallback
) -> str:
    """The headline: JSON-LD headline, og:title, <h1>, then <title>, each without site names."""
    h1 = data.h1[0] if data.h1 else ""
    candidates: list[str] = []
    if article:
        candidates += [
            clean_field(text_value(article.get("headline")), MAX_TITLE_CHARS),
            clean_field(text_value(article.get("name")), MAX_TITLE_CHARS),
        ]
    candidates += [data.first_meta("og:title") or "", data.first_meta("twitter:title") or ""]
    stripped = [strip_site_name(candidate, site_names, url) for candidate in candidates if candidate]
    others = [*stripped, *data.h1]
    for title in stripped:
        # A JSON-LD headline cut to 110 characters ("…") is completed by the <h1> it begins.
        if h1 and _ELLIPSIS.search(title) and h1.startswith(_ELLIPSIS.sub("", title)):
            return h1
        if title:
            return _without_unknown_suffix(title, others)
    if h1 and len(h1.split()) >= 2:
        # A page may hold many <h1> (logo, section, headline): prefer the one <title> contains.
        for heading in data.h1:
            if squash(heading) and squash(heading) in squash(data.title_tag):
                return heading
        return h1
    if data.title_tag:
        return strip_site_name(data.title_tag, site_names, url, drop_pipe_suffix=True)
    return clean_field(resolve(fallback), MAX_TITLE_CHARS) or h1


# --------------------------------------------------------------------------- the article object


def text_value(value: Any) -> str:
    """The string a JSON-LD value holds (a string, the first of a list, an object's name)."""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and value and isinstance(value[0], str):
        return value[0]
    if isinstance(value, dict):
        return text_value(value.get("name") or value.get("@value") or "")
    return ""


def _object_urls(obj: dict[str, Any]) -> set[str]:
    urls = set()
    for key in ("url", "@id", "mainEntityOfPage"):
        value = obj.get(key)
        if isinstance(value, dict):
            value = value.get("@id") or value.get("url")
        if isinstance(value, str) and value.startswith("http"):
            urls.add(normalize_url(value.split("#")[0]))
    return urls


def choose_article_object(data: StructuredData, page_urls: set[str]) -> dict[str, Any] | None:
    """The JSON-LD object describing this page's article (pages also list related ones)."""
    if not data.articles:
        return None
    with_headline = [obj for obj in data.articles if obj.get("headline") or obj.get("datePublished")]
    pool = with_headline or data.articles
    for obj in pool:
        if _object_urls(obj) & page_urls:
            return obj
    news = [
        obj
        for obj in pool
        if type_names(obj)
        & {
            "newsarticle",
            "reportagenewsarticle",
            "article",
            "blogposting",
            "liveblogposting",
            "analysisnewsarticle",
            "opinionnewsarticle",
        }
    ]
    return (news or pool)[0]


# --------------------------------------------------------------------------- authors

# "Di Maio", "De Niro": the Romance-language prefixes count only in lower case.
_BYLINE_PREFIX = re.compile(
    r"^(?:(?i:(?:written|reported|posted|text|story|photos?)\s+)?(?i:by|von|par|por|door|af|av|przez|от|автор|autor|autorin|author|text)|di|de|da)\s*[:\-]?\s+",
)
_AUTHOR_SPLIT = re.compile(
    r"(?<!\s)\s*(?:,|;|\||/|\band\b|&|\bund\b|\bet\b|\bog\b|\bsowie\b)\s*", re.IGNORECASE
)
_TOKEN = re.compile(r"\S+")
# "Elena Oberholzer (obe)": initials or a domain in brackets; an unclosed one at the end.
_PARENTHESIS = re.compile(r"\s*\([^)]*(?:\)|$)")
# Picture credits that leak into author fields.
_CREDIT = re.compile(
    r"\b(?:image|images|photo|photos|foto|getty|istock\w*|shutterstock|copyright)\b|©", re.IGNORECASE
)
_DOMAIN_LIKE = re.compile(r"^\S+\.[a-z]{2,}$", re.IGNORECASE)
_SLUG_LIKE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)+$")
_DATE_LIKE = re.compile(
    r"\d{1,4}[./:-]\d{1,2}|\b\d{4}\b|\b(?:updated|published|am|pm|gmt|utc)\b", re.IGNORECASE
)
# Job titles and newsroom boilerplate that sit next to names in bylines.
_BOILERPLATE_AUTHORS = re.compile(
    r"^(?:the\s+)?(?:\w+\s+)?(?:staff|staff writer|staff reporter|newsroom|editorial(?: team| staff| board)?|"
    r"editor|editors|admin|administrator|redaktion|redacción|rédaction|redazione|team|desk|correspondent|"
    r"reporter|contributor|guest author|guest|web desk|news desk|online desk|agencies|agency)$",
    re.IGNORECASE,
)
_TRAILING_ROLE = re.compile(
    r"(?:,\s++|(?<!\s)\s++)(?:\||-|–|—)?\s*+(?:staff writer|staff reporter|senior (?:writer|reporter|editor|correspondent)|"
    r"correspondent|reporter|contributor|editor)\b.*$",
    re.IGNORECASE,
)


def _is_email(token: str) -> bool:
    """``token`` holds an e-mail address: a character, "@", a character, ".", a character.

    What ``\\S+@\\S+\\.\\S+`` matched, decided in one pass (the pattern backtracked cubically
    on a run of "@" in an author field: 3 s for 1,600 characters)."""
    at = token.find("@", 1)
    return at > 0 and token.find(".", at + 2, len(token) - 1) != -1


def _without_emails(text: str) -> str:
    return _TOKEN.sub(lambda m: " " if _is_email(m.group()) else m.group(), text)


def clean_authors(raw: Iterable[str]) -> list[str]:
    """Person names from byline strings: prefixes, roles, emails, dates and boilerplate dropped,
    "A and B" / "A, B" split, case-insensitive duplicates removed (first spelling kept)."""
    names: list[str] = []
    seen: set[str] = set()
    for entry in raw:
        if len(entry) > 4 * MAX_BYLINE_CHARS:
            continue  # no byline is that long
        entry = clean_space(entry)
        if not entry or len(entry) > MAX_BYLINE_CHARS or entry.startswith(("http://", "https://", "//")):
            continue
        entry = _PARENTHESIS.sub("", _without_emails(entry))
        for part in _AUTHOR_SPLIT.split(entry):
            part = _BYLINE_PREFIX.sub("", part.strip(" .:-–—•·()[]\"'"))
            part = _TRAILING_ROLE.sub("", part).strip(" .:-–—•·()[]\"'")
            part = _BYLINE_PREFIX.sub("", part).strip()
            if (
                len(part) < 2
                or len(part.split()) > 5
                or _DATE_LIKE.search(part)
                or _BOILERPLATE_AUTHORS.match(part)
                or not any(char.isalpha() for char in part)
                or _CREDIT.search(part)
                or _SLUG_LIKE.match(part)
            ):
                continue
            # "Sophie Foster" and "sophie-foster" are one person.
            key = squash(part)
            if key not in seen:
                seen.add(key)
                names.append(part)
    # A site's domain next to real names is the site, not an author.
    if any(" " in name and not _DOMAIN_LIKE.match(name) for name in names):
        names = [name for name in names if not _DOMAIN_LIKE.match(name)]
    return names


def _jsonld_people(article: dict[str, Any] | None) -> tuple[list[str], list[str]]:
    """(person names, organization names) of the article's JSON-LD author."""
    persons: list[str] = []
    organizations: list[str] = []
    if not article:
        return persons, organizations
    raw = article.get("author") or article.get("creator") or []
    for item in raw if isinstance(raw, list) else [raw]:
        if isinstance(item, str):
            persons.append(item)
        elif isinstance(item, dict):
            name = text_value(item.get("name"))
            if not name and (item.get("givenName") or item.get("familyName")):
                name = f"{text_value(item.get('givenName'))} {text_value(item.get('familyName'))}"
            if name:
                (
                    organizations if type_names(item) & {"organization", "newsmediaorganization"} else persons
                ).append(name)
    return persons, organizations


def choose_authors(
    data: StructuredData, article: dict[str, Any] | None, trafilatura_author: Fallback
) -> list[str]:
    persons, organizations = _jsonld_people(article)

    def heuristic() -> list[str]:
        author = resolve(trafilatura_author)
        return [author.replace(";", ",")] if author else []

    for source in (
        lambda: persons,
        lambda: data.all_meta(
            "author",
            "article:author",
            "byl",
            "dc.creator",
            "sailthru.author",
            "parsely-author",
            "cxenseparse:author",
        ),
        heuristic,
        lambda: organizations,
    ):
        names = clean_authors(source())
        if names:
            return names
    return []


# --------------------------------------------------------------------------- dates

_UTC = UTC
# Zone abbreviations common on news pages (dateutil knows only UTC/GMT by name).
_ZONES = {
    name: hours * 3600
    for name, hours in {
        "EST": -5,
        "EDT": -4,
        "CST": -6,
        "CDT": -5,
        "MST": -7,
        "MDT": -6,
        "PST": -8,
        "PDT": -7,
        "BST": 1,
        "CET": 1,
        "CEST": 2,
        "MEZ": 1,
        "MESZ": 2,
        "EET": 2,
        "EEST": 3,
        "MSK": 3,
        "IST": 5.5,
        "JST": 9,
        "KST": 9,
        "AEST": 10,
        "AEDT": 11,
        "SAST": 2,
        "WAT": 1,
    }.items()
}
_YEAR = re.compile(r"(?<!\d)(?:19|20|21)\d\d(?!\d)")


def parse_date(value: str | None) -> datetime | None:
    """An aware datetime from an ISO 8601 or common date string (UTC when no zone is given)."""
    if not value:
        return None
    value = value.strip()
    # A year is required: dateutil fills a missing one with this year's.
    if not value or len(value) > MAX_DATE_CHARS or not _YEAR.search(value):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        try:
            with warnings.catch_warnings():
                # Zone names dateutil does not know ("CEST") leave the time naive: UTC below.
                warnings.simplefilter("ignore", date_parser.UnknownTimezoneWarning)
                parsed = date_parser.parse(value, fuzzy=False, tzinfos=_ZONES)
        except (ValueError, OverflowError, TypeError):
            return None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        parsed = parsed.replace(tzinfo=_UTC)
    if not 1995 <= parsed.year <= 2100:
        return None
    return parsed


def _first_date(values: Iterable[str | None], latest_allowed: datetime) -> datetime | None:
    for value in values:
        parsed = parse_date(value)
        if parsed and parsed <= latest_allowed:
            return parsed
    return None


def published_candidates(data: StructuredData, article: dict[str, Any] | None) -> list[str | None]:
    from_article = (
        [text_value(article.get("datePublished")), text_value(article.get("dateCreated"))] if article else []
    )
    from_webpage = [text_value(page.get("datePublished")) for page in data.webpages]
    return [
        *from_article,
        *data.all_meta(
            "article:published_time", "datepublished", "og:article:published_time", "article.published"
        ),
        *data.time_pubdate,
        *data.all_meta(
            "parsely-pub-date",
            "sailthru.date",
            "dc.date.issued",
            "dcterms.issued",
            "dcterms.created",
            "dc.date",
            "pubdate",
            "publishdate",
            "publish-date",
            "publication_date",
            "date",
            "og:published_time",
            "article:published",
            "cxenseparse:recs:publishtime",
        ),
        *from_webpage,
    ]


def modified_candidates(data: StructuredData, article: dict[str, Any] | None) -> list[str | None]:
    from_article = [text_value(article.get("dateModified"))] if article else []
    return [
        *from_article,
        *data.all_meta(
            "article:modified_time",
            "datemodified",
            "og:updated_time",
            "dcterms.modified",
            "last-modified",
            "lastmod",
        ),
    ]


def choose_dates(
    data: StructuredData,
    article: dict[str, Any] | None,
    *,
    now: datetime,
    heuristic_published: Fallback,
    heuristic_modified: Fallback,
    hinted_published: str | None,
    visible_modified: Callable[[datetime | None], datetime | None] | None = None,
) -> tuple[datetime | None, datetime | None]:
    """(published_at, modified_at): never in the future (now + 1 day), modified never before published."""
    latest_allowed = now + timedelta(days=1)
    published = _first_date(published_candidates(data, article), latest_allowed)
    published = published or _first_date([resolve(heuristic_published), hinted_published], latest_allowed)
    modified = _first_date(modified_candidates(data, article), latest_allowed)
    if modified is None and visible_modified is not None:
        # An "Updated ..." line in the article, read knowing the published date.
        modified = visible_modified(published)
    heuristic = resolve(heuristic_modified) if modified is None else None
    if heuristic:
        candidate = parse_date(heuristic)
        # htmldate gives days only: a "modified" day equal to the published day says nothing.
        if (
            candidate
            and candidate <= latest_allowed
            and (published is None or candidate.date() > published.date())
        ):
            modified = candidate
    if modified is not None and published is not None and modified < published:
        modified = None
    return published, modified


# --------------------------------------------------------------------------- canonical URL, language


def choose_canonical(data: StructuredData, article: dict[str, Any] | None, page_url: str) -> str:
    """The normalized canonical URL the page names when it is trustworthy, else ``page_url``.

    Trusted when absolute http(s) and an article-like URL: not a home page, section front,
    tag or pagination page, nor an ancestor of the page's own URL (CMS templates that name the
    section). It may name another host: a syndicated copy naming its original.
    """
    candidates = [data.canonical_link, data.first_meta("og:url")]
    for candidate in candidates:
        if not candidate or len(candidate) > MAX_URL_CHARS:
            continue
        absolute = urljoin(page_url, candidate.strip())
        if urlsplit(absolute).scheme not in ("http", "https"):
            continue
        normalized = normalize_url(absolute)
        if not is_probably_section_page(normalized, page_url):
            return normalized
    return page_url


_LANG = re.compile(r"^([a-zA-Z]{2})(?:$|[-_])")
# Browsers and Scrapy refuse longer URLs (Scrapy's URLLENGTH_LIMIT).
MAX_URL_CHARS = 2083


def _iso639_1(value: str | None) -> str | None:
    match = _LANG.match((value or "").strip())
    return match.group(1).lower() if match else None


def choose_language(data: StructuredData, article: dict[str, Any] | None, detected: Fallback) -> str | None:
    in_language = text_value(article.get("inLanguage")) if article else ""
    for value in (
        data.html_lang,
        in_language,
        data.first_meta("og:locale"),
        data.first_meta("content-language", "language", "dc.language"),
        detected,
    ):
        code = _iso639_1(resolve(value))
        if code:
            return code
    return None


def choose_site_name(data: StructuredData, article: dict[str, Any] | None, fallback: Fallback) -> str | None:
    publisher = article.get("publisher") if article else None
    candidates = [
        data.first_meta("og:site_name"),
        text_value(publisher) if isinstance(publisher, (dict, list)) else None,
        data.first_meta("application-name", "apple-mobile-web-app-title"),
        *[text_value(org.get("name")) for org in data.organizations[:1]],
        fallback,
    ]
    for candidate in map(resolve, candidates):
        if candidate and clean_field(candidate, MAX_TITLE_CHARS):
            return clean_field(candidate, MAX_TITLE_CHARS)
    return None


def site_names_for_titles(
    data: StructuredData, article: dict[str, Any] | None, site_name: str | None
) -> list[str]:
    publisher = article.get("publisher") if article else None
    names = [
        site_name,
        data.first_meta("og:site_name"),
        text_value(publisher) if isinstance(publisher, (dict, list)) else None,
        data.first_meta("application-name"),
        data.first_meta("apple-mobile-web-app-title"),
        data.first_meta("twitter:site"),
        *[text_value(org.get("name")) for org in data.organizations],
    ]
    return [
        clean_field(name, MAX_TITLE_CHARS).lstrip("@") for name in names if name and clean_space(name[:100])
    ]


def choose_description(
    data: StructuredData, article: dict[str, Any] | None, fallback: Fallback
) -> str | None:
    for candidate in map(
        resolve,
        (
            data.first_meta("og:description"),
            data.first_meta("description"),
            text_value(article.get("description")) if article else None,
            fallback,
        ),
    ):
        if candidate and clean_field(candidate):
            return clean_field(candidate)
    return None


# --------------------------------------------------------------------------- "Updated ..." lines

# "Updated Apr.1", "Updated: March 3, 2026 10:05", "Last updated on 3 March 2026",
# "Aktualisiert am 03.03.2026, 10:05 Uhr", "Mis à jour le 3 mars 2026 à 10h05".
_UPDATE_LINE = re.compile(
    r"^\s*(?:last\s+|zuletzt\s+)?(?:updated|modified|aktualisiert|geändert|mis à jour|mise à jour|actualizado|actualización|aggiornato|bijgewerkt)"
    r"(?:\s+(?:am|on|le|el|il|op|at|um))?\s*+[:\-–—|]?\s*+(?P<date>.{3,60}?)\s*$",
    re.IGNORECASE,
)
_MONTHS = {
    "januar": "January",
    "jänner": "January",
    "februar": "February",
    "märz": "March",
    "maerz": "March",
    "mai": "May",
    "juni": "June",
    "juli": "July",
    "oktober": "October",
    "dezember": "December",
    "janvier": "January",
    "février": "February",
    "fevrier": "February",
    "mars": "March",
    "avril": "April",
    "juin": "June",
    "juillet": "July",
    "août": "August",
    "aout": "August",
    "septembre": "September",
    "octobre": "October",
    "novembre": "November",
    "décembre": "December",
    "enero": "January",
    "febrero": "February",
    "marzo": "March",
    "abril": "April",
    "mayo": "May",
    "junio": "June",
    "julio": "July",
    "agosto": "August",
    "septiembre": "September",
    "octubre": "October",
    "noviembre": "November",
    "diciembre": "December",
    "gennaio": "January",
    "febbraio": "February",
    "aprile": "April",
    "maggio": "May",
    "giugno": "June",
    "luglio": "July",
    "settembre": "September",
    "ottobre": "October",
    "dicembre": "December",
    "januari": "January",
    "februari": "February",
    "maart": "March",
    "mei": "May",
    "augustus": "August",
}
_MONTH_WORD = re.compile(r"\b(" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\b\.?", re.IGNORECASE)
_ENGLISH_MONTH = re.compile(
    r"\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\b\.?", re.IGNORECASE
)
_NUMERIC_DATE = re.compile(r"\b\d{1,4}[./-]\d{1,2}(?:[./-]\d{2,4})?\b")
_DATE_FILLERS = re.compile(r"\b(?:uhr|um|à|a las|alle|om|at|de|del)\b|(?<=\d)h(?=\d)", re.IGNORECASE)
_UPDATE_MAX_WORDS = 14
_UPDATE_MAX_CHARS = 400
_SKIPPED_CONTAINERS = {"aside", "nav", "footer", "li", "a", "script", "style", "noscript", "template"}


def _parse_update_date(
    text: str, published: datetime | None, now: datetime, day_first: bool
) -> tuple[datetime, bool] | None:
    """(the datetime a "Updated ..." line names, whether it gave a time), or None."""
    if "ago" in text.lower() or not (
        _ENGLISH_MONTH.search(text) or _MONTH_WORD.search(text) or _NUMERIC_DATE.search(text)
    ):
        return None  # relative times and bare times say too little
    cleaned = _MONTH_WORD.sub(lambda m: _MONTHS[m.group(1).lower()] + " ", text)
    cleaned = _DATE_FILLERS.sub(lambda m: ":" if m.group(0).lower() == "h" else " ", cleaned)
    cleaned = re.sub(r"(?<=[A-Za-z])\.(?=\s*\d)", " ", cleaned)  # "Apr.1" → "Apr 1"
    has_time = bool(re.search(r"\d{1,2}:\d{2}|\d\s*[ap]\.?m\b", cleaned, re.IGNORECASE))
    base = published or now
    default = datetime(base.year, 1, 1, tzinfo=base.tzinfo or _UTC)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            parsed = date_parser.parse(
                cleaned, fuzzy=True, default=default, dayfirst=day_first, tzinfos=_ZONES
            )
    except (ValueError, OverflowError, TypeError):
        return None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        parsed = parsed.replace(tzinfo=base.tzinfo or _UTC)
    return parsed, has_time


def _short_text(element: Any, limit: int) -> str | None:
    """The text of ``element`` as one line, or None when it is longer than ``limit``:
    read only that far (its text_content would copy every ancestor's whole text, once per
    ancestor, which on deeply nested markup is quadratic)."""
    pieces: list[str] = []
    length = 0
    for piece in element.itertext():
        length += len(piece)
        if length > limit:
            return None
        pieces.append(piece)
    return " ".join("".join(pieces).split())


def update_lines(tree: Any) -> list[str]:
    """The dates of the "Updated ..." lines of the article, in page order (read them before
    trafilatura prunes the tree). Looked for in <article> when the page has one (else the whole
    page), never in asides, navigation, footers or teaser lists."""
    found: list[str] = []
    for scope in tree.xpath("//article") or [tree]:
        for element in scope.iter("p", "span", "div", "time", "small", "em", "strong", "b", "i", "dd", "td"):
            text = _short_text(element, _UPDATE_MAX_CHARS)
            if not text or len(text.split()) > _UPDATE_MAX_WORDS:
                continue
            match = _UPDATE_LINE.match(text)
            if match and not any(a.tag in _SKIPPED_CONTAINERS for a in element.iterancestors()):
                found.append(match.group("date"))
    return found


def visible_modified(
    lines: list[str], published: datetime | None, now: datetime, language: str | None
) -> datetime | None:
    """The time the first usable "Updated ..." line names (``update_lines``), or None: never
    before ``published`` nor after ``now``; a line naming only the published day says nothing."""
    for text in lines:
        day_first = (language or "en") != "en" or bool(re.search(r"\d\.\d", text))
        found = _parse_update_date(text, published, now, day_first)
        if found is None:
            continue
        moment, has_time = found
        if moment > now:
            continue
        if published is not None and (moment < published if has_time else moment.date() <= published.date()):
            continue
        return moment
    return None
