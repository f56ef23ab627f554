"""What a fetch yields, as plain data: the ``Page`` the crawler builds and hands on, its HTTP
``Validators`` and the ``ArchiveLocation`` of its raw response.

A package of its own, below everything that uses it: the crawler builds these, the archive,
the store and the pipeline take them, and none of those needs to import another for them.
Nothing here imports Scrapy, SQL or Celery (the extraction processes import it).
"""
