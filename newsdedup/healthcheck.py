"""``newsdedup healthcheck SERVICE``: whether the service running here works, for Docker's
``HEALTHCHECK``, docker-compose and any process supervisor (exit 0: healthy; 1: not, with
the reason on stderr).

One command rather than a shell line per service: the image has no curl, and each check needs
what only newsdedup knows (the API's port, the Celery app, beat's schedule file). ``auto``
checks whatever ``newsdedup`` command is the container's main process (PID 1), so the image
carries one ``HEALTHCHECK`` that is right for every service.

- ``api``: ``GET /livez`` on the local port answers 200 (readiness is the load balancer's
  business: a database outage is no reason to restart the API).
- ``worker``: a Celery worker of this host answers a ping through Redis.
- ``beat``: its schedule file was written lately (beat saves it every few minutes while it
  ticks), and Redis answers.
- ``flower``: ``GET /healthcheck`` on the local port answers 200.
- ``deliver``: its main loop touched its heartbeat file lately (delivery/heartbeat.py).
"""

from __future__ import annotations

import glob
import itertools
import os
import socket
import time
import urllib.request
from pathlib import Path

import click

from newsdedup.command_settings import command_settings
from newsdedup.config import Settings

# Beat saves its schedule every 3 minutes (Celery's sync_every) while it runs.
BEAT_STALE_SECONDS = 600
TIMEOUT_SECONDS = 5.0
SERVICES = ("api", "worker", "beat", "flower", "deliver")
# What each ``newsdedup`` command of PID 1 is, for ``auto``.
COMMAND_SERVICES = {
    "serve": "api",
    "worker": "worker",
    "beat": "beat",
    "flower": "flower",
    "deliver": "deliver",
}


class Unhealthy(Exception):
    """Why the service is not healthy."""


def check_http(url: str) -> None:
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_SECONDS) as response:
            status = response.status
    except OSError as exc:  # URLError, HTTPError, timeouts, refused connections
        raise Unhealthy(f"{url}: {exc}") from None
    if status != 200:
        raise Unhealthy(f"{url}: HTTP {status}")


def check_worker(settings: Settings, host: str) -> None:
    # deferred: Celery only for the worker and beat checks (≈ 1.1 s of imports, bench/import_costs.py)
    from newsdedup.workers.app import create_celery_app

    replies = create_celery_app(settings).control.ping(timeout=TIMEOUT_SECONDS) or []
    nodes = [name for reply in replies for name in reply]
    if not any(name.endswith("@" + host) for name in nodes):
        raise Unhealthy(f"no Celery worker on host {host} answered a ping (answered: {nodes or 'none'})")


def check_beat(settings: Settings) -> None:
    # deferred: Celery only for the worker and beat checks (≈ 1.1 s of imports, bench/import_costs.py)
    from newsdedup.workers.app import create_celery_app

    app = create_celery_app(settings)
    schedule = str(app.conf.beat_schedule_filename)
    written = [os.path.getmtime(path) for path in glob.glob(glob.escape(schedule) + "*")]
    if not written:
        raise Unhealthy(f"beat has written no schedule file ({schedule}*)")
    age = time.time() - max(written)
    if age > BEAT_STALE_SECONDS:
        raise Unhealthy(f"beat's schedule file was last written {age:.0f}s ago")
    try:
        with app.connection_for_write() as connection:
            connection.ensure_connection(max_retries=1, timeout=TIMEOUT_SECONDS)
    except Exception as exc:  # noqa: BLE001 - any failure is the answer
        raise Unhealthy(f"Redis does not answer: {type(exc).__name__}") from None


def main_command(cmdline: Path = Path("/proc/1/cmdline")) -> tuple[str | None, int | None]:
    """The service PID 1 runs (``newsdedup serve`` → "api"), and its ``--port`` if given."""
    try:
        args = cmdline.read_bytes().decode("utf-8", "replace").split("\0")
    except OSError:
        return None, None
    service = next((COMMAND_SERVICES[arg] for arg in args if arg in COMMAND_SERVICES), None)
    port = None
    for option, value in itertools.pairwise(args):
        if option == "--port" and value.isdigit():
            port = int(value)
    for arg in args:
        if arg.startswith("--port=") and arg[len("--port=") :].isdigit():
            port = int(arg[len("--port=") :])
    return service, port


def check(settings: Settings, service: str, port: int | None = None) -> str:
    """Raise Unhealthy, or return what was checked."""
    if service == "api":
        url = f"http://127.0.0.1:{port or settings.api_port}/livez"
        check_http(url)
        return url
    if service == "flower":
        url = f"http://127.0.0.1:{port or 5555}/healthcheck"
        check_http(url)
        return url
    if service == "worker":
        check_worker(settings, socket.gethostname())
        return "worker ping"
    if service == "beat":
        check_beat(settings)
        return "beat schedule"
    if service == "deliver":
        from newsdedup.delivery.heartbeat import STALE_SECONDS, age, heartbeat_path

        seconds = age()
        if seconds is None:
            raise Unhealthy(f"no heartbeat file ({heartbeat_path()}): newsdedup deliver is not running here")
        if seconds > STALE_SECONDS:
            raise Unhealthy(f"newsdedup deliver's last heartbeat was {seconds:.0f}s ago")
        return "deliver heartbeat"
    raise ValueError(service)


@click.command("healthcheck")
@click.argument("service", type=click.Choice(("auto", *SERVICES)))
@click.option(
    "--port",
    type=click.IntRange(1, 65535),
    default=None,
    help="api: NEWSDEDUP_API_PORT (which defaults to 8000); flower: 5555.",
)
def healthcheck(service: str, port: int | None) -> None:
    """Exit 0 when SERVICE (api, worker, beat, flower, deliver; auto: the container's main command)
    running here works, else 1 saying why. For Docker's HEALTHCHECK."""
    if service == "auto":
        found, found_port = main_command()
        if found is None:
            click.echo("no newsdedup service is the main process here: nothing to check")
            return
        service, port = found, port or found_port
    settings = command_settings()
    try:
        checked = check(settings, service, port)
    except (Unhealthy, ValueError) as exc:
        click.echo(f"{service}: unhealthy: {exc}", err=True)
        raise SystemExit(1) from None
    click.echo(f"{service}: healthy ({checked})")
