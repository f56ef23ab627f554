"""Extraction: HTML page → Document (clean text and metadata) or a Rejection with a reason.

``extract_document`` and the URL functions are loaded on first use (PEP 562): the
sources-file loader imports this package's rule types (``rules.py``) in every process, and a
process that extracts nothing (a distributed crawl, the API, beat) should not load
trafilatura or courlan with them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from newsdedup.extract.document import Document, Rejection

if TYPE_CHECKING:
    from newsdedup.extract.extractor import extract_document
    from newsdedup.extract.urls import is_probably_home_page, normalize_url

__all__ = ["Document", "Rejection", "extract_document", "is_probably_home_page", "normalize_url"]


def __getattr__(name: str) -> Any:
    if name == "extract_document":
        from newsdedup.extract.extractor import extract_document

        return extract_document
    if name in ("is_probably_home_page", "normalize_url"):
        from newsdedup.extract import urls

        return getattr(urls, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
