"""The Celery app of distributed mode, built by a factory from Settings (nothing connects at
import), and the ``newsdedup worker | beat | flower`` entry points.

Delivery guarantees, and why each setting:

* ``task_acks_late`` + ``task_reject_on_worker_lost``: a message is acknowledged only once its
  task has finished, and a worker child that dies (OOM, SIGKILL) puts it back at once.
* ``worker_prefetch_multiplier=1``: a worker holds no more messages than it runs, so a dead
  worker strands at most ``concurrency`` of them.
* ``task_time_limit`` (hard) < ``visibility_timeout``: with Redis as broker an unacknowledged
  message goes to another worker after the visibility timeout, so no living task may run that
  long, and no retry may wait that long (``task_retry_backoff_max``) either.
* The visibility timeout (default 1 h) is only the broker's last resort: a message taken by a
  worker that was SIGKILLed as a whole comes back after it. Whoever waits for a crawl, and the
  beat's sweep every minute, re-send pending pages of the staging table well before that
  (workers/distributed.py); tasks are idempotent, so a page sent twice is stored once.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from celery import Celery

from config import Settings

if TYPE_CHECKING:
    from workers.pages import WorkerServices

log = logging.getLogger(__name__)

PAGES_QUEUE = "newsdedup.pages"  # process_page: many, short
CRAWLS_QUEUE = "newsdedup.crawls"  # crawl_source: few, long (a whole crawl each)
CONTROL_QUEUE = "newsdedup.control"  # beat's tick and sweep: tiny, must not wait behind pages
SWEEP_SECONDS = 60.0


class NewsdedupCelery(Celery):
    """The Celery app, carrying the Settings it was built from and the per-process services."""

    settings: Settings
    _services: WorkerServices | None = None
    _services_pid: int | None = None

    @property
    def services(self) -> WorkerServices:
        """Store, Redis index and lock of this worker process, built on first use.

        Lazily and per pid: a prefork parent must not open connections its children inherit.
        """
        from workers.pages import WorkerServices

        if self._services is None or self._services_pid != os.getpid():
            self._services = WorkerServices.open(self.settings)
            self._services_pid = os.getpid()
        return self._services


def check_timeouts(settings: Settings) -> None:
    """Refuse settings under which a living task could be handed to a second worker."""
    if settings.task_time_limit >= settings.visibility_timeout:
        raise ValueError(
            f"NEWSDEDUP_TASK_TIME_LIMIT ({settings.task_time_limit}s) must be below "
            f"NEWSDEDUP_VISIBILITY_TIMEOUT ({settings.visibility_timeout}s)"
        )
    if settings.dedup_lock_timeout >= soft_time_limit(settings):
        # A task waiting for story locks held by a dead worker must get them (the locks
        # expire) before its own soft limit marks the page failed.
        raise ValueError(
            f"NEWSDEDUP_DEDUP_LOCK_TIMEOUT ({settings.dedup_lock_timeout}s) must be below the "
            f"soft time limit ({soft_time_limit(settings)}s, from NEWSDEDUP_TASK_TIME_LIMIT)"
        )
    if settings.task_retry_backoff_max >= settings.visibility_timeout:
        raise ValueError(
            f"NEWSDEDUP_TASK_RETRY_BACKOFF_MAX ({settings.task_retry_backoff_max}s) must be below "
            f"NEWSDEDUP_VISIBILITY_TIMEOUT ({settings.visibility_timeout}s)"
        )


def soft_time_limit(settings: Settings) -> int:
    """A little below the hard limit, so a slow page is marked failed with a reason."""
    return max(1, settings.task_time_limit - max(1, min(30, settings.task_time_limit // 10)))


def page_time_limit(settings: Settings) -> float:
    """A worker's budget for one page: ``NEWSDEDUP_PAGE_TIME_LIMIT``, ending before the task's
    soft limit (a short NEWSDEDUP_TASK_TIME_LIMIT wins), so a slow page fails as "timed out"."""
    return min(settings.page_time_limit, max(1.0, soft_time_limit(settings) - 1.0))


def create_app(settings: Settings) -> NewsdedupCelery:
    if not settings.redis_url:
        raise ValueError("distributed mode needs NEWSDEDUP_REDIS_URL")
    check_timeouts(settings)
    app = NewsdedupCelery("newsdedup", broker=settings.redis_url, set_as_current=False)
    app.settings = settings
    app.conf.update(
        broker_transport_options={"visibility_timeout": settings.visibility_timeout},
        broker_connection_retry_on_startup=True,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        # A task running when the broker connection drops goes on: its page is in PostgreSQL
        # and it finishes it (a cancelled one would keep its lease, and the page would wait
        # for it). Its message may be delivered again later; that delivery finds it done.
        worker_cancel_long_running_tasks_on_connection_loss=False,
        task_time_limit=settings.task_time_limit,
        task_soft_time_limit=soft_time_limit(settings),
        # Results live in the staging table; no result backend to fill Redis.
        task_ignore_result=True,
        task_serializer="json",
        accept_content=["json"],
        task_default_queue=PAGES_QUEUE,
        task_routes={
            "newsdedup.crawl_source": {"queue": CRAWLS_QUEUE},
            "newsdedup.schedule_due_crawls": {"queue": CONTROL_QUEUE},
            "newsdedup.resend_stale_pages": {"queue": CONTROL_QUEUE},
        },
        task_create_missing_queues=True,
        # For Flower: events of every task, including when it was sent.
        worker_send_task_events=True,
        task_send_sent_event=True,
        beat_schedule=beat_schedule(settings),
        # Beat's own state is disposable (the due-state of sources lives in Redis).
        beat_schedule_filename=os.path.join(tempfile.gettempdir(), f"newsdedup-beat-{os.getuid()}"),
        timezone="UTC",
        enable_utc=True,
    )
    from workers.tasks import register_tasks

    register_tasks(app)
    return app


def beat_schedule(settings: Settings) -> dict[str, dict[str, Any]]:
    """Two fixed ticks; which sources are due is decided by the tick task from the sources
    file it re-reads each time, so editing the file needs no restart."""
    return {
        "schedule-due-crawls": {
            "task": "newsdedup.schedule_due_crawls",
            "schedule": settings.schedule_tick,
            # A tick nobody ran in time is worthless: the next one does the same work.
            "options": {"expires": settings.schedule_tick},
        },
        "resend-stale-pages": {
            "task": "newsdedup.resend_stale_pages",
            "schedule": SWEEP_SECONDS,
            "options": {"expires": SWEEP_SECONDS},
        },
    }


def _has_option(argv: Sequence[str], *names: str) -> bool:
    return any(
        arg == name or arg.startswith(name + "=") or (len(name) == 2 and arg.startswith(name))
        for arg in argv
        for name in names
    )


def run_worker(settings: Settings, argv: Sequence[str]) -> None:
    """``newsdedup worker [celery worker options]``: consumes all three queues by default."""
    app = create_app(settings)
    args = ["worker", *argv]
    if not _has_option(argv, "-l", "--loglevel"):
        args.append("--loglevel=INFO")
    if not _has_option(argv, "-n", "--hostname"):
        # Unique per process, so two workers on one host are two nodes in Flower.
        args.append(f"--hostname=worker-{os.getpid()}@%h")
    if not _has_option(argv, "-Q", "--queues"):
        args.append(f"--queues={PAGES_QUEUE},{CRAWLS_QUEUE},{CONTROL_QUEUE}")
    # Loaded once here and inherited by every pool process, rather than by each on its first page.
    import datasketch  # noqa: F401
    from celery.signals import worker_process_init

    import workers.pages  # noqa: F401

    @worker_process_init.connect(weak=False)
    def open_services(**_: object) -> None:
        # Connections are opened as each pool process starts, not on its first page; if the
        # database is not there yet, the first task tries again (and retries if need be).
        try:
            _ = app.services
        except Exception as exc:  # noqa: BLE001
            log.warning("could not open the store and Redis yet: %s: %s", type(exc).__name__, exc)

    from celery.signals import worker_process_shutdown

    @worker_process_shutdown.connect(weak=False)
    def flush_health(**_: object) -> None:
        # The per-source counts this process added up since its last write (source health).
        if app._services is not None and app._services_pid == os.getpid():
            app._services.health.flush()

    from celery.signals import worker_ready

    @worker_ready.connect(weak=False)
    def start_sweeping(**_: object) -> None:
        from workers.sweeper import start_sweeper

        start_sweeper(app)

    app.worker_main(args)


def run_beat(settings: Settings, argv: Sequence[str]) -> None:
    """``newsdedup beat``: run exactly one, it only sends ticks (state is in Redis)."""
    app = create_app(settings)
    args = ["beat", *argv]
    if not _has_option(argv, "-l", "--loglevel"):
        args.append("--loglevel=INFO")
    app.start(args)


def check_flower_auth(value: str | None) -> str:
    """``NEWSDEDUP_FLOWER_AUTH`` as Flower's basic-auth credential, or ValueError saying what
    is wrong with it. Flower splits its credentials on commas (``ops:se,cret`` would accept
    ``ops:se`` and ``cret`` and refuse the real password) and accepts an empty password."""
    name = "NEWSDEDUP_FLOWER_AUTH"
    if not value:
        raise ValueError(f"{name} must be set to user:password; Flower will not start without auth")
    user, colon, password = value.partition(":")
    if not colon or not user.strip():
        raise ValueError(f"{name} must be user:password, with a user name before the first ':'")
    if not password:
        raise ValueError(f"{name}: the password (after the first ':') must not be empty")
    if "," in value:
        raise ValueError(f"{name} must not contain a comma (Flower would split it into several credentials)")
    if any(char.isspace() or ord(char) < 32 for char in value):
        raise ValueError(f"{name} must not contain spaces or control characters")
    return value


def run_flower(settings: Settings, port: int, address: str = "127.0.0.1") -> None:
    """``newsdedup flower --port P --address A``: Flower for this app, behind basic auth,
    on loopback unless told otherwise."""
    credential = check_flower_auth(settings.flower_auth)
    app = create_app(settings)
    # Through Flower's own environment option rather than argv: a password in argv shows
    # in every `ps` listing of the machine.
    os.environ["FLOWER_BASIC_AUTH"] = credential
    app.start(["flower", f"--port={port}", f"--address={address}"])
