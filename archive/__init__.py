"""The archive of raw pages: WARC files written with warcio where pages are fetched.

Modules: ``records`` (the WARC records of a fetched response, and reading them back),
``writer`` (a rotating writer in a thread of its own), ``reader`` (the archive in fetch
order, one record at a location, and foreign WARC files), ``prune`` (retention). Plain I/O:
nothing here imports Scrapy, SQL or Celery.
"""

from newsdedup.archive.records import ArchivedResponse, FetchedResponse
from newsdedup.archive.writer import WarcArchiveWriter

__all__ = ["ArchivedResponse", "FetchedResponse", "WarcArchiveWriter"]
