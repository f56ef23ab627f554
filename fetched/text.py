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
# C0 and C1 controls and DEL, shown escaped in log lines (newline and tab included).
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")


def xml_safe(value: str) -> str:
    """``value`` without the characters XML 1.0 forbids."""
    return _XML_FORBIDDEN.sub("", value)


def escape_controls(value: str) -> str:
    r"""``value`` with each control character written as a visible escape (``\r``, ``\x1b``)."""
    return _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), value)
