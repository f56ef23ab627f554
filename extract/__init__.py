"""Extraction: HTML page → Document (clean text and metadata) or a Rejection with a reason."""

from newsdedup.extract.document import Document, Rejection
from newsdedup.extract.extractor import extract_document
from newsdedup.extract.urls import is_probably_home_page, normalize_url

__all__ = ["Document", "Rejection", "extract_document", "is_probably_home_page", "normalize_url"]
