"""URL normalization for comparing and storing article URLs.

Two URLs that name the same article should normalize to the same string, and two that name
different articles never should. The second matters more (merging two articles under one URL
loses one of them), so every rule here is conservative:

- scheme and host are lower-cased, IDNA hosts decoded (courlan), the default port dropped;
- the fragment is dropped (it never selects a different article server-side);
- known tracking parameters are dropped and the remaining ones sorted. We keep our own list
  rather than courlan's ``TRACKERS_RE``, which also strips ``source``, ``uid``, ``session``,
  ``…id`` and the like, names some sites use to pick the article itself;
- AMP variants point to the regular page: an ``/amp/`` path segment, a trailing ``/amp``,
  ``.amp.html``, ``?amp=1``/``?amp``, ``outputType=amp``, an ``amp.`` subdomain (to the bare
  host: the AMP page's rel=canonical is the stronger signal and the extractor prefers it);
- ``www.`` is kept: ``www.example.com`` and ``example.com`` can be different sites, and the
  redirect a server makes between them is seen by the crawler as ``final_url`` anyway;
- ``index.html`` and trailing slashes are kept: ``/news/`` and ``/news`` can differ on a
  server, and nothing in the URL says when they don't;
- the path's percent-encoding is made uniform (IRIs and encoded URLs compare equal).
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

from courlan import is_navigation_page
from courlan.clean import decode_punycode

# Exact parameter names (lower-case) that only say how a reader arrived.
TRACKING_PARAMS = frozenset(
    {
        "fbclid",
        "gclid",
        "gclsrc",
        "dclid",
        "msclkid",
        "yclid",
        "twclid",
        "igshid",
        "igsh",
        "mc_cid",
        "mc_eid",
        "ref",
        "ref_src",
        "ref_url",
        "referrer",
        "cmpid",
        "cmp",
        "icid",
        "ocid",
        "smid",
        "s_cid",
        "sr_share",
        "xtor",
        "_ga",
        "_gl",
        "ito",
        "ftag",
        "soc_src",
        "soc_trk",
        "ns_mchannel",
        "ns_source",
        "ns_campaign",
        "ns_linkname",
        "ns_fee",
        "wt.mc_id",
        "at_medium",
        "at_campaign",
        "at_custom1",
        "at_custom2",
        "at_custom3",
        "at_custom4",
        "spm",
        "share",
        "shared",
        "mbid",
        "cid_source",
        "__twitter_impression",
        "guccounter",
        "guce_referrer",
        "guce_referrer_sig",
        "dicbo",
        "tpcc",
        "taid",
    }
)
# Prefixes of parameter names that are tracking by convention.
TRACKING_PREFIXES = ("utm_", "pk_", "mtm_", "hsa_", "oly_", "vero_", "__hs", "_hs")

# Query parameters that only ask for the AMP rendering.
_AMP_FLAG_VALUES = frozenset({"", "1", "true", "yes", "amp"})
_AMP_PATH_SEGMENT = re.compile(r"/amp(?=/|$)", re.IGNORECASE)
_AMP_HTML_SUFFIX = re.compile(r"\.amp(\.html?)$", re.IGNORECASE)

# Characters a path may hold unescaped (RFC 3986 pchar plus "/"); "%" so existing escapes stay.
_PATH_SAFE = "/:@!$&'()*+,;=-._~%"

# Paths of a site's front page.
_HOME_PATHS = re.compile(
    r"^/?(?:(?:[a-z]{2}(?:[-_][a-z]{2})?)/?)?"
    r"(?:(?:index|default|home|start)(?:\.[a-z]{2,5})?)?/?$",
    re.IGNORECASE,
)


def _is_tracking_param(name: str) -> bool:
    lowered = name.lower()
    return lowered in TRACKING_PARAMS or lowered.startswith(TRACKING_PREFIXES)


def _is_amp_param(name: str, value: str) -> bool:
    lowered = name.lower()
    if lowered == "amp":
        return value.lower() in _AMP_FLAG_VALUES
    return lowered in ("outputtype", "output", "format") and value.lower() == "amp"


def _normalize_path(path: str) -> str:
    # Uniform percent-encoding: unicode characters escaped, escapes upper-cased. Existing
    # escapes are never decoded ("%2F" and "/" differ to a server).
    path = re.sub(r"%[0-9a-fA-F]{2}", lambda m: m.group(0).upper(), path)
    path = quote(path, safe=_PATH_SAFE)
    path = _AMP_HTML_SUFFIX.sub(r"\1", path)
    without_amp = _AMP_PATH_SEGMENT.sub("", path)
    if without_amp != path:
        path = without_amp or "/"
    return path or "/"


def normalize_url(url: str) -> str:
    """The form of ``url`` used to compare and store URLs (see the module docstring).

    A string that is not an absolute http(s) URL comes back stripped of surrounding
    whitespace and otherwise unchanged: normalizing must never fail.
    """
    url = url.strip()
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return url
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        return url
    host = decode_punycode(parts.hostname.lower().rstrip("."))
    if host.startswith("amp.") and host.count(".") >= 2:
        host = host[len("amp.") :]
    netloc = host
    if port is not None and not ((scheme == "http" and port == 80) or (scheme == "https" and port == 443)):
        netloc = f"{host}:{port}"
    # netloc is rebuilt from host and port: credentials never select an article, and keeping
    # them would leak them into the store.
    query_pairs = [
        (name, value)
        for name, value in parse_qsl(parts.query, keep_blank_values=True)
        if not _is_tracking_param(name) and not _is_amp_param(name, value)
    ]
    query = urlencode(sorted(query_pairs), doseq=True)
    return urlunsplit((scheme, netloc, _normalize_path(parts.path), query, ""))


def is_probably_home_page(url: str) -> bool:
    """True when ``url`` looks like a site's front page (``/``, ``/index.html``, ``/en/``)."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return False
    if not parts.netloc:
        return False
    meaningful_query = [
        name for name, _ in parse_qsl(parts.query, keep_blank_values=True) if not _is_tracking_param(name)
    ]
    return not meaningful_query and bool(_HOME_PATHS.match(unquote(parts.path)))


_SECTION_SEGMENT = re.compile(r"^[^\W\d_]+(?:[-_][^\W\d_]+)?$", re.UNICODE)


def _looks_like_section_path(path: str) -> bool:
    """``/local/``, ``/sport/football/``: at most two segments, each one or two plain words.

    Article paths carry a slug of several words, an id or a date; a canonical that we wrongly
    take for a section is only ignored (the page's own URL is used), which is the safe side.
    """
    segments = [segment for segment in unquote(path).split("/") if segment]
    return 0 < len(segments) <= 2 and all(_SECTION_SEGMENT.match(segment) for segment in segments)


def is_probably_section_page(url: str, article_url: str | None = None) -> bool:
    """True when ``url`` looks like a front, section, tag or pagination page, not an article.

    With ``article_url``, also True when ``url`` is a proper ancestor of it (a page
    ``/politics/2024/05/some-story`` naming ``/politics/`` as canonical points to its section).
    """
    if is_probably_home_page(url) or is_navigation_page(url):
        return True
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    if not parts.query and _looks_like_section_path(parts.path):
        return True
    if article_url is None:
        return False
    try:
        candidate, article = urlsplit(normalize_url(url)), urlsplit(normalize_url(article_url))
    except ValueError:
        return False
    if candidate.netloc != article.netloc or candidate.query:
        return False
    ancestor = candidate.path.rstrip("/") + "/"
    return article.path.rstrip("/") != candidate.path.rstrip("/") and article.path.startswith(ancestor)
