"""The time limits of a task and of the page it works on, derived from Settings, and the
check that refuses settings under which a living task could be handed to a second worker."""

from __future__ import annotations

from newsdedup.config import Settings


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
