"""Extraction: HTML page → Document (clean text and metadata) or a Rejection with a reason."""

from extract.document import Document, Rejection
from extract.extractor import extract_document
from extract.urls import is_probably_home_page, normalize_url

__all__ = ["Document", "Rejection", "extract_document", "is_probably_home_page", "normalize_url"]
