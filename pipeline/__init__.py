"""The work on a fetched page that both modes share, and the pieces around it that need no Celery.

What lives here runs in whichever process has the page: the crawling process of an embedded
crawl, a Celery worker's pool process, an extraction pool's process, a reprocess command.

- ``page_pipeline``: extract → fingerprint (``prepare_page``, pure) → decide and store
  (``PagePipeline.commit``).
- ``embedded``: the PageSink of embedded mode, which runs the pipeline in the crawling process.
- ``extraction_pool``, ``budget``: extraction in other processes, and a time budget per page.
- ``services``: the pipeline's parts built from settings.
- ``discovery_state``: the conditional-GET half of both modes' sinks, kept in the store.
- ``staging_writer``: staging pages for the workers in a thread of its own (it sends through the
  ``TaskSender`` protocol, so it needs no Celery itself).
- ``summary``, ``transient``, ``archiving``: a crawl's counts, riding out outages, the archive
  as a crawl uses it.

Nothing here imports Celery or ``workers``: the Celery code (``workers/``) builds on this
package, never the other way round. What chooses between the modes (``newsdedup/crawl.py``,
``newsdedup/reprocess.py``) needs both, so it lives above both, with the commands.
"""
