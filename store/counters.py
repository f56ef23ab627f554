"""The rows of the ``counters`` table, by name: one table of named integers, so that a new
counter needs no migration of its own.

``seq`` is the feed's cursor (handed out by ``Store.apply``, read by ``FeedReader.last_seq``),
``store_id`` the store's identity (``Store.identity``), and the crawl counters the store-wide
totals that crawls add to when they finish (``Store.add_crawl_counts``) and /metrics reports.
"""

SEQ_COUNTER = "seq"
# Stories (store/stories.py): their change counter, whose row lock orders assignments, and how
# many articles were assigned (the N of the document frequencies). Rows made by migration 0013.
STORY_SEQ_COUNTER = "story_seq"
STORY_DOCS_COUNTER = "story_docs"
STORE_ID_COUNTER = "store_id"
# Rows created by migration 0003; crawls add to them when they finish.
CRAWL_COUNTERS = ("pages_fetched", "not_modified", "fetch_errors")
