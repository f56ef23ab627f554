"""The Scrapy side: discovery documents in, ``Page`` objects out to a ``PageSink``.

``crawler.run.run_crawl`` is the entry point (one call per process: Scrapy's reactor cannot
restart). Modules: ``spider`` (one spider class configured per source), ``discovery`` (feeds,
sitemaps, listings as pure functions), ``encoding`` (charset repair), ``middlewares``
(offsite redirects), ``settings`` (Scrapy settings from ``config.Settings``), ``stats``.
``sink`` is the port the crawler calls (``PageSink``); the ``Page`` it hands on is plain data
of ``fetched.page``. Nothing is imported here, so ``crawler.sink`` stays free of Scrapy.
"""
