"""Distributed mode: the Celery code, one module for each process or concern.

The work on a page itself is in ``pipeline/`` (no Celery there); this package carries pages to
it through Redis and PostgreSQL, and keeps that delivery safe.

- In a worker: ``app`` (the Celery app, ``newsdedup worker | beat | flower``), ``tasks`` (thin
  tasks over plain functions), ``pages`` (one staged page through the pipeline),
  ``crawl_process`` (a source's crawl as a child process), ``schedule`` (beat's tick: which
  sources are due), ``sweeper`` (lost pages and a lost index; beat's sweep task),
  ``process_services`` (the store, index and locks of the process and of each reprocess
  target, given to the tasks), ``index_repair``, ``locks``, ``limits``, ``reprocess_targets``.
- In the crawling process (``newsdedup crawl``, ``reprocess``, ``import-warc``): ``crawl_side``
  (stage pages, send their tasks, wait for them) and ``sending`` (send and re-send page
  tasks by name, also used by the sweeper).
- In the API: ``api_side`` (queue a crawl, read where its pages are).
- Shared names: ``queues``.

Modules here import ``pipeline/`` and below, never ``newsdedup/`` (pyproject.toml,
[tool.importlinter]); ``app`` imports ``tasks`` and what the tasks use, none of which imports
``app`` back (the tasks are given the settings, the sender and the services). A task or a process that
needs no page code (the crawl process, the API, beat) does not load it: the imports of the
extraction code inside ``tasks`` say so where they are deferred.
"""
