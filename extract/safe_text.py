"""Text that strangers wrote, made safe for the formats it is written into.

XML 1.0 forbids most C0 control characters (all but tab, newline and carriage return),
lone surrogates and U+FFFE/U+FFFF; one of them in a title makes a whole Atom feed invalid
(lxml refuses to write it). Log lines must not carry control characters either: a carriage
return or a terminal escape code in a header could forge a line or repaint a terminal.
"""

from __future__ import annotations

import re

# XML 1.0, production [2] Char: what is left out of it.
_XML_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
# C0 and C1 controls and DEL, shown escaped in log lines (newline included, tab left).
_CONTROL = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f]")
# The user information of a URL (``scheme://user:password@host``): what messages never show.
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)([^/?#@\s]*)@")


def xml_safe(value: str) -> str:
    """``value`` without the characters XML 1.0 forbids."""
    return _XML_FORBIDDEN.sub("", value)


def without_credentials(text: str) -> str:
    """``text`` with the password of every URL in it replaced by ``***`` (a user name alone,
    which may be a token, too): ``http://alice:***@proxy:31a8``."""

    def redact(match: re.Match[str]) -> str:
        user, colon, _secret = match.group(2).partition(":")
        return f"{match.group(1)}{user}:***@" if colon else f"{match.group(1)}***@"

    return _USERINFO.sub(redact, text)


def escape_controls(value: str) -> str:
    r"""``value`` with each control character written as a visible escape (``\r``, ``\x1b``)."""
    return _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), value)
