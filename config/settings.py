"""The typed settings object. Nothing else in the project reads the environment.

Secrets may come from files (Docker and Kubernetes secrets are mounted as files): for each
name in ``SECRETS``, ``NEWSDEDUP_<NAME>_FILE`` names a file whose content (without its
trailing newline) is the value. pydantic-settings' own ``secrets_dir`` wants one directory
with a file per field name; a path per variable is the convention operators know, so a small
validator reads them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_PREFIX = "NEWSDEDUP_"
# What a crawl's child process is not given (Settings.as_environment).
NOT_FOR_CRAWLS = frozenset({"api_token", "flower_auth", "api_host", "api_port", "reprocess_database_urls"})
# Settings that may be read from a file named by NEWSDEDUP_<NAME>_FILE.
SECRETS = ("database_url", "redis_url", "api_token", "flower_auth")
FILE_SUFFIX = "_file"


class SettingsError(ValueError):
    """A bad setting, the message naming the environment variable(s)."""


def variable(name: str) -> str:
    """The environment variable of setting ``name``: ``NEWSDEDUP_<NAME>``."""
    return ENV_PREFIX + name.upper()


def default_cache_dir() -> str:
    """The user's cache folder, as the XDG convention says: ``$XDG_CACHE_HOME/newsdedup``, or
    ``~/.cache/newsdedup``; "" when the user has no home folder."""
    base = os.environ.get("XDG_CACHE_HOME", "")
    if not base:
        try:
            base = str(Path.home() / ".cache")
        except RuntimeError:  # no HOME and no passwd entry: a bare container user
            return ""
    return str(Path(base) / "newsdedup")


class Settings(BaseSettings):
    """Every setting of the service, read from ``NEWSDEDUP_*`` environment variables.

    Components receive this object (or the values they need); they never read the
    environment themselves. Tests build it directly: ``Settings(database_url=...)``.
    """

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", frozen=True)

    # --- where things are (docs/configuration.md) ---
    database_url: str = "sqlite:///data/newsdedup.db"
    redis_url: str | None = None
    config: Path = Path("config/sources.yaml")
    # What the product would otherwise unpack at every start, unpacked once (the language
    # model: extract/language_id.py). "" keeps nothing.
    cache_dir: str = Field(default_factory=default_cache_dir)
    api_token: str | None = None
    flower_auth: str | None = None
    # Files holding the secrets above (module docstring); read once, never passed on.
    database_url_file: Path | None = Field(default=None, exclude=True)
    redis_url_file: Path | None = Field(default=None, exclude=True)
    api_token_file: Path | None = Field(default=None, exclude=True)
    flower_auth_file: Path | None = Field(default=None, exclude=True)

    # --- logs (docs/configuration.md): "text" for people, "json" (one object a line) for collectors ---
    log_format: Literal["text", "json"] = "text"

    # --- crawling politeness ---
    user_agent: str = "newsdedup/0.1 (+https://github.com/newsdedup/newsdedup)"
    obey_robots: bool = True
    download_timeout: float = 30.0
    max_page_bytes: int = 10 * 1024 * 1024
    retry_times: int = 2
    concurrent_requests_per_domain: int = 4
    # AutoThrottle adapts the delay to each server's latency; off only for loopback benchmarks.
    autothrottle: bool = True
    autothrottle_start_delay: float = 0.25
    autothrottle_max_delay: float = 30.0
    # Loopback test sites and the demo want no artificial delay; real sites get AutoThrottle.
    download_delay: float = 0.0
    # A host that refuses the bot (403, 429, challenge pages) is asked more slowly: this many
    # seconds between its requests after the first refusal, doubling with each further one up
    # to the maximum, which also caps a 429's Retry-After (crawler/blocking.py).
    blocked_backoff: float = Field(default=5.0, ge=0)
    blocked_max_delay: float = Field(default=120.0, ge=0)
    # Pages, feeds and sitemaps are written by strangers (README, "Security"). By default the
    # crawler connects only to public addresses; 1 allows loopback and private ones for every
    # source (a source alone: ``allow_private_addresses: true`` in the sources file).
    allow_private_addresses: bool = False
    # Sitemap documents one source may have fetched per crawl, and how deep sitemap indexes
    # may nest (0: the listed sitemap only). A large news site's index of daily or monthly
    # sitemaps, itself listed by a yearly index, fits in both.
    max_sitemaps: int = Field(default=1000, ge=1)
    max_sitemap_depth: int = Field(default=3, ge=0)

    # --- extraction ---
    min_text_words: int = 20
    # A page with fewer words of its own than this, which would be a new article of a source
    # that has had fewer than three articles yet, waits until the source's boilerplate is known
    # or the crawl ends (store/held.py). 0: never held.
    hold_below_words: int = Field(default=150, ge=0)
    # Seconds one page may take to extract and fingerprint (both modes); past it the page
    # fails as "timed out" and the crawl goes on.
    page_time_limit: float = Field(default=30.0, gt=0)
    # Article texts longer than this many characters are rejected ("too-long"), never cut:
    # no feed record, version or diff grows past it.
    max_text_chars: int = Field(default=200_000, ge=1000)
    # Embedded crawls: processes that extract pages while the crawl goes on. 0: one per CPU
    # core, at most 4; 1: extract in the crawling process itself.
    extract_processes: int = Field(default=0, ge=0)

    # --- the archive of raw pages (WARC files, archive/) ---
    # Off (NEWSDEDUP_ARCHIVE=0): pages are processed but their raw responses are not kept.
    archive: bool = True
    archive_dir: Path = Path("data/archive")
    # A WARC file is closed and a new one started past this size (compressed bytes).
    archive_max_file_bytes: int = Field(default=1024 * 1024 * 1024, ge=64 * 1024)
    # WARC files whose last write is older than this are deleted after each crawl and by
    # ``newsdedup archive prune``; 0 keeps them forever.
    archive_retention_days: float = Field(default=0.0, ge=0)

    # --- dedup (defaults come from bench/dedup_calibration.py) ---
    num_perm: int = 128
    shingle_size: int = 3
    lsh_threshold: float = 0.2
    duplicate_jaccard: float = 0.8
    duplicate_containment: float = 0.85
    version_jaccard: float = 0.2
    version_containment: float = 0.5
    lsh_basename: str = "newsdedup"
    # Distributed mode: how long an article stays a text-match candidate in the Redis index.
    # Older articles are still found by URL and canonical URL (the store's URL table).
    lsh_window_days: float = 30.0

    # --- stories: articles of one news event (docs/how-it-works.md#stories; bench/stories.py) ---
    # Off (NEWSDEDUP_STORIES=0): articles are stored without a story (story_id null).
    stories: bool = True
    # An article joins the closest recent story of its language at this similarity or above.
    story_threshold: float = Field(default=0.15, gt=0, le=1)
    # Two stories both at least this close to one article are one event: merged.
    story_merge_threshold: float = Field(default=0.25, gt=0, le=1)
    # Stories whose articles are all further than this from an article (publication time) are
    # not its candidates; similarity is damped with the time between them on the same scale.
    story_window_days: float = Field(default=30.0, gt=0)

    # --- distributed mode ---
    # Seconds before Redis hands an unacknowledged task to another worker; task hard
    # limits stay below it (see workers/app.py).
    visibility_timeout: int = 3600
    task_time_limit: int = 300
    task_max_retries: int = 5
    dedup_lock_timeout: float = 10.0
    # Seconds a worker keeps its page while PostgreSQL or Redis is away, trying again every
    # few seconds, before it hands the page to Celery's retries (at most 0.6 of the soft time
    # limit). The crawl process itself waits for as long as an outage lasts.
    outage_patience: float = Field(default=120.0, gt=0)
    # Retries of transient failures wait task_retry_backoff * 2**n seconds (with jitter), at
    # most task_retry_backoff_max; kept below visibility_timeout (a Redis broker would
    # otherwise hand a retry waiting in a worker to another one).
    task_retry_backoff: float = 2.0
    task_retry_backoff_max: int = 600
    # Wall-clock limit of one crawl (both modes): the spiders stop after it (Scrapy's
    # CLOSESPIDER_TIMEOUT, logged and recorded as a failure of the source); a scheduled or API
    # crawl's child process is killed a little later (workers/crawl_process.py).
    crawl_time_limit: int = Field(default=3600, ge=1)
    # How often beat checks which sources are due (the sources file is re-read each time).
    schedule_tick: float = 15.0
    # Stores other than "a new one beside the live store" that `newsdedup reprocess
    # --database-url` may write into through the workers, separated by spaces. Workers take
    # database URLs from their own settings only, never from Redis (workers/reprocess_targets.py).
    reprocess_database_urls: str = ""

    # --- delivery to sinks (delivery/, README "Delivery to downstream systems") ---
    # Feed records read and sent per round and sink; seconds between rounds of a caught-up
    # sink; backoff after a failure: delivery_backoff * 2**n with jitter, at most the maximum.
    delivery_batch: int = Field(default=500, ge=1, le=10_000)
    delivery_poll: float = Field(default=1.0, gt=0)
    delivery_backoff: float = Field(default=0.5, gt=0)
    delivery_backoff_max: float = Field(default=60.0, gt=0)
    # Distributed mode: the life of a replica's lease on a sink (renewed every third of it);
    # another replica takes a dead one's sinks within this many seconds.
    delivery_lease_seconds: float = Field(default=10.0, ge=1)

    # --- HTTP API ---
    api_host: str = "127.0.0.1"
    api_port: int = Field(default=8000, ge=1, le=65535)
    # What one request may cost, whoever sends it (newsdedup/api/limits.py): request bodies
    # are refused past this size before anything parses them (a crawl request is a few names).
    api_max_body_bytes: int = Field(default=64 * 1024, ge=1024)
    # A feed page ends before its JSON passes this many bytes (the cursor goes on from there).
    api_max_feed_page_bytes: int = Field(default=8 * 1024 * 1024, ge=64 * 1024)
    # Feed requests one API process serves at once; others wait up to 10 s, then get 503.
    api_feed_concurrency: int = Field(default=4, ge=1)
    # /metrics is computed at most once in this many seconds, however often it is scraped.
    metrics_cache_seconds: float = Field(default=10.0, ge=0)
    # /docs (Swagger UI, served from the files of the installed fastapi-offline, nothing from elsewhere).
    api_docs: bool = True
    # The console's article pages (list, search, one article) open without login: the same
    # data the API's feed, article and search routes serve without a token (docs/console.md).
    console_open_reads: bool = False
    # Hours a console login lasts.
    console_session_hours: float = Field(default=12.0, gt=0)

    @model_validator(mode="before")
    @classmethod
    def _read_secret_files(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        for name in SECRETS:
            path = data.get(name + FILE_SUFFIX)
            if path in (None, ""):
                continue
            if data.get(name) not in (None, ""):
                raise ValueError(
                    f"{variable(name)} and {variable(name + FILE_SUFFIX)} are both set: use one of them"
                )
            try:
                content = Path(path).read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise ValueError(
                    f"{variable(name + FILE_SUFFIX)}: cannot read {path}: {getattr(exc, 'strerror', None) or exc}"
                ) from None
            data = {**data, name: content.rstrip("\r\n")}
        return data

    @property
    def reprocess_targets(self) -> tuple[str, ...]:
        return tuple(self.reprocess_database_urls.split())

    @property
    def cache_path(self) -> Path | None:
        return Path(self.cache_dir).expanduser() if self.cache_dir else None

    @property
    def distributed(self) -> bool:
        return bool(self.redis_url)

    def as_environment(
        self, inherited: Mapping[str, str], leave_out: frozenset[str] = frozenset()
    ) -> dict[str, str]:
        """``inherited`` minus its NEWSDEDUP_* variables, plus these settings spelled as them
        (but those named in ``leave_out``): the environment of a child process that must see
        exactly these settings."""
        env = {k: v for k, v in inherited.items() if not k.startswith(ENV_PREFIX)}
        for name, value in self.model_dump(mode="json").items():
            if value is not None and name not in leave_out:
                env[ENV_PREFIX + name.upper()] = str(value)
        return env

    def crawl_environment(self, inherited: Mapping[str, str]) -> dict[str, str]:
        """The environment of a crawl's child process: ``as_environment`` without the settings
        a crawl has no use for (``NOT_FOR_CRAWLS``: the API's token and address, Flower's
        credentials), since a crawl runs next to pages written by strangers."""
        return self.as_environment(inherited, leave_out=NOT_FOR_CRAWLS)


def load_settings(**overrides: Any) -> Settings:
    """Read the environment once; ``overrides`` win over it (used by the CLI's options).
    Raises SettingsError naming the variable of each bad setting."""
    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        raise SettingsError(describe(exc)) from None


def describe(exc: ValidationError) -> str:
    """pydantic's errors, each under the environment variable that holds the setting."""
    problems = []
    for error in exc.errors(include_url=False):
        where = ".".join(str(part) for part in error["loc"])
        message = error["msg"].removeprefix("Value error, ")
        if where:
            # The value helps, but never a secret's (it would end up in a terminal or a log).
            shown = isinstance(error.get("input"), str | int | float) and where not in SECRETS
            got = f" (got {error['input']!r})" if shown else ""
            problems.append(f"{variable(where)}: {message}{got}")
        else:
            problems.append(message)
    return "; ".join(problems)
