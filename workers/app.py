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
  (workers/crawl_side.py); tasks are idempotent, so a page sent twice is stored once.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Sequence
from typing import Any

from celery import Celery
from celery.signals import setup_logging, worker_process_init, worker_process_shutdown, worker_ready

from newsdedup.config import Settings, logs
from newsdedup.workers.limits import check_timeouts, soft_time_limit
from newsdedup.workers.process_services import ProcessServices
from newsdedup.workers.queues import CONTROL_QUEUE, CRAWLS_QUEUE, PAGES_QUEUE
from newsdedup.workers.tasks import register_tasks

log = logging.getLogger(__name__)

SWEEP_SECONDS = 60.0


class NewsdedupCelery(Celery):
    """The Celery app, carrying the Settings it was built from and the services of this worker
    process (opened on first use, per pid), which its tasks were given when registered."""

    settings: Settings
    services: ProcessServices


def create_celery_app(settings: Settings) -> NewsdedupCelery:
    if not settings.redis_url:
        raise ValueError("distributed mode needs NEWSDEDUP_REDIS_URL")
    check_timeouts(settings)
    app = NewsdedupCelery("newsdedup", broker=settings.redis_url, set_as_current=False)
    app.settings = settings
    app.services = ProcessServices(settings)
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
    register_tasks(app, settings, app.services)
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


def log_through_newsdedup(settings: Settings) -> None:
    """Celery's log lines go through newsdedup's handler (NEWSDEDUP_LOG_FORMAT, crawl ids):
    with a receiver of its ``setup_logging`` signal, Celery configures no logging of its own
    and passes us the ``--loglevel`` it was given."""

    @setup_logging.connect(weak=False)
    def configure(loglevel: int | str | None = None, **_: object) -> None:
        level = logging.getLevelName(loglevel) if isinstance(loglevel, str) else loglevel
        logs.configure(settings.log_format, level if isinstance(level, int) else logging.INFO)


def _quiet_for_json(settings: Settings, args: list[str]) -> list[str]:
    """Celery's start-up banner is printed, not logged: with JSON logs it is left out
    (Celery's global ``--quiet``), so that every line of output is a JSON object."""
    return ["--quiet", *args] if settings.log_format == "json" else args


def run_worker(settings: Settings, argv: Sequence[str]) -> None:
    """``newsdedup worker [celery worker options]``: consumes all three queues by default."""
    app = create_celery_app(settings)
    log_through_newsdedup(settings)
    args = ["worker", *argv]
    if not _has_option(argv, "-l", "--loglevel"):
        args.append("--loglevel=INFO")
    if not _has_option(argv, "-n", "--hostname"):
        # Unique per process, so two workers on one host are two nodes in Flower.
        args.append(f"--hostname=worker-{os.getpid()}@%h")
    if not _has_option(argv, "-Q", "--queues"):
        args.append(f"--queues={PAGES_QUEUE},{CRAWLS_QUEUE},{CONTROL_QUEUE}")
    args = _quiet_for_json(settings, args)
    # deferred, as the worker's own imports: loaded once here and inherited by every pool
    # process, rather than by each on its first page; the processes that only send tasks
    # (a crawl, the API, beat) never load them: ≈ 490 ms of imports for the page code and
    # datasketch (bench/import_costs.py; ≈ 0.19 s, SciPy's integrate deferred by
    # dedup/datasketch_import.py); the language identifier's model too
    # (≈ 0.5 s, for pages that declare no language) and the word lists of stories (≈ 0.5 s).
    import newsdedup.dedup.datasketch_import
    import newsdedup.pipeline.preload
    import newsdedup.workers.pages  # noqa: F401
    from newsdedup.dedup.background import load_all
    from newsdedup.workers.sweeper import start_sweeper

    load_all()  # a pool process assigns stories in any language

    @worker_process_init.connect(weak=False)
    def open_services(**_: object) -> None:
        # Connections are opened as each pool process starts, not on its first page; if the
        # database is not there yet, the first task tries again (and retries if need be).
        try:
            _opened = app.services.live
        except Exception as exc:  # noqa: BLE001
            log.warning("could not open the store and Redis yet: %s: %s", type(exc).__name__, exc)

    @worker_process_shutdown.connect(weak=False)
    def flush_health(**_: object) -> None:
        # The per-source counts this process added up since its last write (source health).
        app.services.flush_health()

    @worker_ready.connect(weak=False)
    def start_sweeping(**_: object) -> None:
        start_sweeper(settings, app)

    app.worker_main(args)


def run_beat(settings: Settings, argv: Sequence[str]) -> None:
    """``newsdedup beat``: run exactly one, it only sends ticks (state is in Redis)."""
    app = create_celery_app(settings)
    log_through_newsdedup(settings)
    args = ["beat", *argv]
    if not _has_option(argv, "-l", "--loglevel"):
        args.append("--loglevel=INFO")
    app.start(_quiet_for_json(settings, args))


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


def run_flower(settings: Settings, credential: str, port: int, address: str = "127.0.0.1") -> None:
    """``newsdedup flower --port P --address A``: Flower for this app, behind basic auth
    (``credential``, as ``check_flower_auth`` returns it), on loopback unless told otherwise."""
    app = create_celery_app(settings)
    # Through Flower's own environment option rather than argv: a password in argv shows
    # in every `ps` listing of the machine.
    os.environ["FLOWER_BASIC_AUTH"] = credential
    app.start(["flower", f"--port={port}", f"--address={address}"])
