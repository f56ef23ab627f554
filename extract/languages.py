"""A source's ``languages`` filter: a page in another language is no article of that source.

A page whose language cannot be told (no ``lang`` attribute, no ``inLanguage``, nothing a
detector could read) is kept: many sites declare no language, and a filter that dropped their
pages would lose a source's whole output without a sign of why.
"""

from __future__ import annotations

from collections.abc import Sequence

from newsdedup.extract.document import Document, Rejection

WRONG_LANGUAGE = "wrong-language"


def language_rejection(document: Document, languages: Sequence[str]) -> Rejection | None:
    """A Rejection when ``languages`` is set and the document's known language is not in it."""
    if not languages or not document.language or document.language in languages:
        return None
    return Rejection(
        document.url, WRONG_LANGUAGE, f"language {document.language} not in [{', '.join(languages)}]"
    )
