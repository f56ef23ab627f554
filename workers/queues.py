"""The Celery queues' names: read by the processes that send tasks and by the API's metrics,
which need no Celery app for them."""

PAGES_QUEUE = "newsdedup.pages"  # process_page: many, short
CRAWLS_QUEUE = "newsdedup.crawls"  # crawl_source: few, long (a whole crawl each)
CONTROL_QUEUE = "newsdedup.control"  # beat's tick and sweep: tiny, must not wait behind pages
CELERY_QUEUES = (PAGES_QUEUE, CRAWLS_QUEUE, CONTROL_QUEUE)
